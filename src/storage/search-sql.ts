/**
 * Builds the SQL for a search. Every criterion is answered from search_index (never by
 * scanning JSON). One single-valued token/reference criterion drives the query in
 * last_updated order, so `owner + status` with a LIMIT touches only the rows it returns.
 */
import { limitSql } from './dialect.ts';
import type { DateComparison, SearchCriterion, SearchQuery, SortKey } from './types.ts';

interface Built {
  sql: string;
  params: unknown[];
  countSql: string;
  countParams: unknown[];
}

/** Condition on one search_index row aliased `s` for one criterion (OR of its values). */
function indexCondition(c: SearchCriterion, s: string, params: unknown[]): string {
  switch (c.kind) {
    case 'token': {
      const ors = c.values.map((v) => {
        if (v.system === '' && v.code !== undefined) {
          params.push(v.code); // |code: a code without a system
          return `(${s}.sys IS NULL AND ${s}.val = ?)`;
        }
        if (v.system !== undefined && v.code !== undefined) {
          params.push(v.system, v.code);
          return `(${s}.sys = ? AND ${s}.val = ?)`;
        }
        if (v.system !== undefined) {
          params.push(v.system);
          return `(${s}.sys = ?)`;
        }
        params.push(v.code);
        return `(${s}.val = ?)`;
      });
      return `(${ors.join(' OR ')})`;
    }
    case 'reference':
      params.push(...c.values);
      return `${s}.val IN (${c.values.map(() => '?').join(', ')})`;
    case 'string': {
      const ors = c.values.map((v) => {
        if (c.exact) {
          params.push(v);
          return `${s}.val = ?`;
        }
        if (c.contains) {
          params.push(`%${v.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`);
          return `${s}.val LIKE ? ESCAPE '\\'`;
        }
        params.push(v, `${v}\uffff`);
        return `(${s}.val >= ? AND ${s}.val < ?)`;
      });
      return `(${ors.join(' OR ')})`;
    }
    case 'date':
      return c.comparisons.map((cmp) => dateCondition(cmp, `${s}.low`, `${s}.high`, params)).join(' AND ');
    default:
      throw new Error(`not an index criterion: ${c.kind}`);
  }
}

/** FHIR date comparison of a stored range [low, high] with a searched range. */
export function dateCondition(cmp: DateComparison, low: string, high: string, params: unknown[]): string {
  switch (cmp.prefix) {
    case 'eq': params.push(cmp.low, cmp.high); return `(${low} >= ? AND ${high} <= ?)`;
    case 'ne': params.push(cmp.low, cmp.high); return `NOT (${low} >= ? AND ${high} <= ?)`;
    case 'gt': params.push(cmp.high); return `${high} > ?`;
    case 'lt': params.push(cmp.low); return `${low} < ?`;
    case 'ge': params.push(cmp.low); return `${high} >= ?`;
    case 'le': params.push(cmp.high); return `${low} <= ?`;
    case 'sa': params.push(cmp.high); return `${low} > ?`;
    case 'eb': params.push(cmp.low); return `${high} < ?`;
  }
}

function paramOf(c: SearchCriterion): string | undefined {
  return 'param' in c ? c.param : undefined;
}

/** True when every value of `c` is an exact val, nothing else (no system, no range): a val2 lookup. */
function byExactValue(c: SearchCriterion): boolean {
  if (c.kind === 'reference') return true;
  if (c.kind === 'token') return c.values.every((v) => v.system === undefined && v.code !== undefined);
  return c.kind === 'string' && c.exact === true;
}

/**
 * Conditions for the criteria that do not drive the query, on row alias `a` (`d`, the driving
 * index row, when there is one: then they are checked before the resource row is fetched).
 */
function filters(criteria: SearchCriterion[], params: unknown[], a: string): string[] {
  return criteria.map((c, i) => {
    switch (c.kind) {
      case 'id':
        params.push(...c.values);
        return `${a}.id IN (${c.values.map(() => '?').join(', ')})`;
      case 'lastUpdated':
        return c.comparisons.map((cmp) => dateCondition(cmp, `${a}.last_updated`, `${a}.last_updated`, params)).join(' AND ');
      case 'org':
        params.push(...c.orgs);
        return `EXISTS (SELECT 1 FROM resource_access acc WHERE acc.res_type = ${a}.res_type AND acc.id = ${a}.id AND acc.org IN (${c.orgs.map(() => '?').join(', ')}) LIMIT 1 OFFSET 0)`;
      default: {
        const s = `f${i}`;
        params.push(paramOf(c));
        const cond = indexCondition(c, s, params);
        // token :not: no value of the parameter matches (a resource without one matches too).
        const not = c.kind === 'token' && c.not ? 'NOT ' : '';
        // Index rows carry their resource's last_updated: with it, a probe for an exact value is a whole
        // key of search_index_val2, and successive probes (rows come in last_updated order) read neighbouring pages.
        const inOrder = byExactValue(c) ? ` AND ${s}.last_updated = ${a}.last_updated` : '';
        // LIMIT 1: PostgreSQL then keeps the probe per row in the scan's order (a sub-plan), as SQLite
        // does, instead of turning it into a join over every index row of the parameter and sorting.
        return `${not}EXISTS (SELECT 1 FROM search_index ${s} WHERE ${s}.res_type = ${a}.res_type AND ${s}.id = ${a}.id AND ${s}.param = ? AND ${cond}${inOrder} LIMIT 1 OFFSET 0)`;
      }
    }
  });
}

/** A criterion whose index rows come in last_updated order for one value (one val of search_index_val2). */
function isDriver(c: SearchCriterion): boolean {
  if (c.kind === 'reference') return c.values.length === 1;
  if (c.kind === 'token') return !c.not && c.values.length === 1 && c.values[0].code !== undefined;
  if (c.kind === 'string') return c.values.length === 1 && c.exact === true;
  return false;
}

/** A string prefix: a range of vals, so its rows must be sorted; it drives only when it matches few. */
function isRangedDriver(c: SearchCriterion): boolean {
  return c.kind === 'string' && c.values.length === 1 && !c.exact && !c.contains;
}

/** Indexes of criteria that could drive the query in order (single-valued token, reference or exact string). */
export function driverCandidates(q: SearchQuery): number[] {
  return q.criteria.flatMap((c, i) => (isDriver(c) ? [i] : []));
}

/** Indexes of string prefix criteria, which drive only when counted under the cap. */
export function rangedCandidates(q: SearchQuery): number[] {
  return q.criteria.flatMap((c, i) => (isRangedDriver(c) ? [i] : []));
}

/**
 * SQL counting the index rows of one criterion, up to at least `cap`: cheap, to pick the driver.
 * The cap is rounded up to a power of two, so each criterion's shape has a few texts, not one per cap.
 */
export function capCountSql(q: SearchQuery, i: number, cap: number): { sql: string; params: unknown[] } {
  const c = q.criteria[i];
  const params: unknown[] = [q.type, paramOf(c)];
  const cond = indexCondition(c, 's', params);
  const rounded = 2 ** Math.ceil(Math.log2(Math.max(1, cap)));
  return { sql: `SELECT COUNT(*) AS n FROM (SELECT 1 FROM search_index s WHERE s.res_type = ? AND s.param = ? AND ${cond}${limitSql(rounded)}) x`, params };
}

/**
 * ORDER BY for `_sort` keys on row alias `a`: a parameter sorts by its lowest value (highest when
 * descending; a date by the start, or the end when descending), resources without one last on
 * both backends; last update then id break ties, so pages never overlap.
 */
function orderBy(keys: SortKey[], a: string, params: unknown[]): string {
  const parts = keys.map((k) => {
    const dir = k.descending ? 'DESC' : 'ASC';
    if (k.kind === 'lastUpdated') return `${a}.last_updated ${dir}`;
    if (k.kind === 'id') return `${a}.id ${dir}`;
    const col = k.kind === 'date' ? (k.descending ? 'high' : 'low') : 'val';
    const sub = `(SELECT ${k.descending ? 'MAX' : 'MIN'}(o.${col}) FROM search_index o WHERE o.res_type = ${a}.res_type AND o.id = ${a}.id AND o.param = ?)`;
    params.push(k.param, k.param);
    return `(${sub} IS NULL) ASC, ${sub} ${dir}`;
  });
  const dir = keys[0]?.descending ? 'DESC' : 'ASC';
  // A tie-breaker on a column already sorted by adds nothing, and SQLite would then sort in a
  // temporary B-tree instead of reading the driving index in order (search_index_val2 ends last_updated, id).
  const sorted = new Set<string>(keys.map((k) => (k.kind === 'lastUpdated' ? 'last_updated' : k.kind)));
  const ties = ['last_updated', 'id'].filter((col) => !sorted.has(col)).map((col) => `${a}.${col} ${dir}`);
  return [...parts, ...ties].join(', ');
}

/** `driver`: index of the criterion to drive from (default: the first in-order candidate; -1: none, scan in order). */
export function buildSearch(q: SearchQuery, driver?: number): Built {
  const driverIdx = driver ?? q.criteria.findIndex(isDriver);
  const params: unknown[] = [];
  let from: string;
  const where: string[] = [];
  if (driverIdx >= 0) {
    const d = q.criteria[driverIdx];
    params.push(q.type, paramOf(d));
    from = 'search_index d JOIN resources r ON r.res_type = d.res_type AND r.id = d.id';
    where.push('d.res_type = ?', 'd.param = ?', indexCondition(d, 'd', params));
  } else {
    params.push(q.type);
    from = 'resources r';
    where.push('r.res_type = ?');
  }
  const rest = q.criteria.filter((_, i) => i !== driverIdx);
  where.push(...filters(rest, params, driverIdx >= 0 ? 'd' : 'r'));
  const whereSql = where.join(' AND ');
  const countParams = [...params];
  const order = orderBy(q.sort ?? [], driverIdx >= 0 ? 'd' : 'r', params);
  const sql = `SELECT r.res_type, r.id, r.version, r.last_updated, r.content FROM ${from} WHERE ${whereSql} ORDER BY ${order}${limitSql(q.count + 1, q.offset)}`;
  return { sql, params, countSql: `SELECT COUNT(*) AS n FROM ${from} WHERE ${whereSql}`, countParams };
}
