/** The SQL a SearchQuery becomes (storage/search-sql.ts): placeholders only, the driving criterion, sort, tenancy. */
import { describe, expect, it } from 'vitest';
import { buildSearch, capCountSql, dateCondition, driverCandidates } from '../../../src/storage/search-sql.ts';
import type { SearchCriterion, SearchQuery } from '../../../src/storage/types.ts';

const query = (criteria: SearchCriterion[], more: Partial<SearchQuery> = {}): SearchQuery =>
  ({ type: 'Task', criteria, count: 20, offset: 0, total: 'none', ...more });

const placeholders = (sql: string): number => (sql.match(/\?/g) ?? []).length;

const hostile = "x'); DROP TABLE resources; --";

describe('search SQL', () => {
  it('when criteria carry hostile values, then no value is inlined and every value is a bound parameter', () => {
    const q = query([
      { kind: 'id', values: [hostile] },
      { kind: 'token', param: 'status', values: [{ system: hostile, code: hostile }, { code: 'b' }] },
      { kind: 'reference', param: 'owner', values: [`Organization/${hostile}`] },
      { kind: 'string', param: 'name', values: [hostile] },
      { kind: 'string', param: 'name', values: [hostile], contains: true },
      { kind: 'date', param: 'authored-on', comparisons: [{ prefix: 'ge', low: hostile, high: hostile }] },
      { kind: 'lastUpdated', comparisons: [{ prefix: 'lt', low: hostile, high: hostile }] },
      { kind: 'org', orgs: [hostile] },
    ], { sort: [{ kind: 'value', param: hostile, descending: true }] });
    const built = buildSearch(q);
    for (const sql of [built.sql, built.countSql]) {
      expect(sql).not.toContain('DROP');
      expect(sql).not.toContain('Organization/');
    }
    expect(placeholders(built.sql)).toBe(built.params.length);
    expect(placeholders(built.countSql)).toBe(built.countParams.length);
    expect(built.params).toContain(hostile);
    expect(built.params).toContain(`Organization/${hostile}`);
  });

  it('when a contains string holds LIKE wildcards, then they are escaped in the parameter', () => {
    const built = buildSearch(query([{ kind: 'string', param: 'name', values: ['50%_a\\b'], contains: true }]));
    expect(built.sql).toContain("LIKE ? ESCAPE '\\'");
    expect(built.params).toContain('%50\\%\\_a\\\\b%');
  });

  it('when there is a single-valued token, then it drives the query from search_index', () => {
    const built = buildSearch(query([{ kind: 'string', param: 'name', values: ['a'] }, { kind: 'token', param: 'status', values: [{ code: 'requested' }] }]));
    expect(built.sql).toMatch(/FROM search_index d JOIN resources r/);
    expect(built.params.slice(0, 3)).toEqual(['Task', 'status', 'requested']);
    // the other criterion is an EXISTS probe on the driving row
    expect(built.sql).toMatch(/EXISTS \(SELECT 1 FROM search_index f0 WHERE f0\.res_type = d\.res_type/);
  });

  it('when no criterion can drive (several values, :not, a system only, or none), then the query scans resources of the type', () => {
    for (const c of [
      { kind: 'token', param: 'status', values: [{ code: 'a' }, { code: 'b' }] },
      { kind: 'token', param: 'status', values: [{ code: 'a' }], not: true },
      { kind: 'token', param: 'status', values: [{ system: 'http://s' }] },
      { kind: 'reference', param: 'owner', values: ['Organization/a', 'Organization/b'] },
    ] as SearchCriterion[]) {
      expect(driverCandidates(query([c]))).toEqual([]);
      const built = buildSearch(query([c]));
      expect(built.sql).toContain('FROM resources r WHERE r.res_type = ?');
      expect(built.params[0]).toBe('Task');
    }
    expect(buildSearch(query([])).sql).toContain('FROM resources r WHERE r.res_type = ? ORDER BY');
  });

  it('when a token is negated, then resources without a matching value are selected with NOT EXISTS', () => {
    const built = buildSearch(query([{ kind: 'token', param: 'status', values: [{ code: 'a' }], not: true }]));
    expect(built.sql).toContain('NOT EXISTS (SELECT 1 FROM search_index f0');
  });

  it('when a driver index is given, then that criterion drives instead of the first candidate', () => {
    const q = query([{ kind: 'token', param: 'status', values: [{ code: 'a' }] }, { kind: 'reference', param: 'owner', values: ['Organization/b'] }]);
    expect(driverCandidates(q)).toEqual([0, 1]);
    expect(buildSearch(q).params.slice(0, 2)).toEqual(['Task', 'status']);
    const built = buildSearch(q, 1);
    expect(built.params.slice(0, 3)).toEqual(['Task', 'owner', 'Organization/b']);
    expect(built.sql).toContain('d.val IN (?)');
  });

  it('when counting a candidate driver, then the count is capped by a literal LIMIT at the next power of two, so few texts serve every cap', () => {
    const owner = query([{ kind: 'reference', param: 'owner', values: ['Organization/b'] }]);
    const { sql, params } = capCountSql(owner, 0, 500);
    expect(sql).toMatch(/ LIMIT 512\) x$/);
    expect(params).toEqual(['Task', 'owner', 'Organization/b']);
    expect(placeholders(sql)).toBe(params.length);
    expect(capCountSql(owner, 0, 3).sql).toMatch(/ LIMIT 4\) x$/);
    expect(capCountSql(owner, 0, 2).sql).toMatch(/ LIMIT 2\) x$/);
  });

  it('when a limit or offset is not a non-negative whole number, then no SQL is made with it', () => {
    expect(() => buildSearch(query([], { count: 1.5 }))).toThrow(/not non-negative integers/);
    expect(() => buildSearch(query([], { offset: -1 }))).toThrow(/not non-negative integers/);
    expect(() => buildSearch(query([], { count: Number.NaN }))).toThrow(/not non-negative integers/);
  });

  it('when there is no sort, then rows come oldest first with id breaking ties, one row more than the page to tell if there are more', () => {
    const built = buildSearch(query([], { count: 10, offset: 30 }));
    // Literals: SQLite prepares a statement with a bound LIMIT again on every run (storage/dialect.ts limitSql).
    expect(built.sql).toMatch(/ORDER BY r\.last_updated ASC, r\.id ASC LIMIT 11 OFFSET 30$/);
    expect(built.params).toEqual(['Task']);
    expect(placeholders(built.sql)).toBe(built.params.length);
    expect(built.countSql).not.toContain('LIMIT');
    expect(built.countParams).toEqual(['Task']);
  });

  it('when sorting descending by a parameter, then resources without it come last and ties break newest first', () => {
    const built = buildSearch(query([], { sort: [{ kind: 'date', param: 'authored-on', descending: true }] }));
    expect(built.sql).toContain('(SELECT MAX(o.high) FROM search_index o WHERE o.res_type = r.res_type AND o.id = r.id AND o.param = ?) IS NULL) ASC');
    expect(built.sql).toMatch(/ DESC, r\.last_updated DESC, r\.id DESC LIMIT/);
    expect(built.params).toEqual(['Task', 'authored-on', 'authored-on']);
  });

  it('when sorting by _lastUpdated descending then _id, then those columns are used directly, with no tie-breaker repeating them', () => {
    const built = buildSearch(query([], { sort: [{ kind: 'lastUpdated', descending: true }, { kind: 'id', descending: false }] }));
    expect(built.sql).toMatch(/ORDER BY r\.last_updated DESC, r\.id ASC LIMIT/);
  });

  it('when sorting by _lastUpdated descending, then id breaks ties in the same direction and last_updated is named once (the driving index order)', () => {
    const built = buildSearch(query([{ kind: 'reference', param: 'owner', values: ['Organization/b'] }], { sort: [{ kind: 'lastUpdated', descending: true }] }));
    expect(built.sql).toMatch(/ORDER BY d\.last_updated DESC, d\.id DESC LIMIT/);
  });

  it('when a filter asks for exact values only, then its probe also matches the driving row\'s last_updated (a whole search_index_val2 key); with a system or a range it does not', () => {
    const probe = (c: SearchCriterion) => buildSearch(query([{ kind: 'reference', param: 'owner', values: ['Organization/b'] }, c])).sql;
    for (const c of [
      { kind: 'token', param: 'status', values: [{ code: 'a' }, { code: 'b' }] },
      { kind: 'token', param: 'status', values: [{ code: 'a' }], not: true },
      { kind: 'reference', param: 'requester', values: ['Organization/x', 'Organization/y'] },
      { kind: 'string', param: 'name', values: ['a'], exact: true },
    ] as SearchCriterion[]) expect(probe(c)).toContain('AND f0.last_updated = d.last_updated LIMIT 1 OFFSET 0)');
    for (const c of [
      { kind: 'token', param: 'code', values: [{ system: 'http://s', code: 'a' }] },
      { kind: 'token', param: 'code', values: [{ system: '', code: 'a' }] },
      { kind: 'string', param: 'name', values: ['a'] },
      { kind: 'date', param: 'authored-on', comparisons: [{ prefix: 'ge', low: 'L', high: 'H' }] },
    ] as SearchCriterion[]) expect(probe(c)).not.toContain('last_updated = d.last_updated');
  });

  it('when the query carries organisations, then only resources granted to one of them match, whatever drives', () => {
    const org: SearchCriterion = { kind: 'org', orgs: ['A', 'B'] };
    const scan = buildSearch(query([org]));
    expect(scan.sql).toContain('EXISTS (SELECT 1 FROM resource_access acc WHERE acc.res_type = r.res_type AND acc.id = r.id AND acc.org IN (?, ?) LIMIT 1 OFFSET 0)');
    expect(scan.countSql).toContain('resource_access');
    expect(scan.countParams).toEqual(['Task', 'A', 'B']);
    const driven = buildSearch(query([{ kind: 'token', param: 'status', values: [{ code: 'a' }] }, org]));
    expect(driven.sql).toContain('acc.res_type = d.res_type AND acc.id = d.id AND acc.org IN (?, ?)');
  });

  it('when a token has an empty system, then it matches codes stored without a system', () => {
    const built = buildSearch(query([{ kind: 'token', param: 'code', values: [{ system: '', code: 'x' }] }]));
    expect(built.sql).toContain('(d.sys IS NULL AND d.val = ?)');
    expect(built.params.slice(0, 3)).toEqual(['Task', 'code', 'x']);
  });

  it('when comparing dates, then each FHIR prefix compares the stored range with the searched one', () => {
    const cmp = (prefix: 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le' | 'sa' | 'eb') => {
      const params: unknown[] = [];
      const sql = dateCondition({ prefix, low: 'L', high: 'H' }, 'lo', 'hi', params);
      return [sql, params];
    };
    expect(cmp('eq')).toEqual(['(lo >= ? AND hi <= ?)', ['L', 'H']]);
    expect(cmp('ne')).toEqual(['NOT (lo >= ? AND hi <= ?)', ['L', 'H']]);
    expect(cmp('gt')).toEqual(['hi > ?', ['H']]);
    expect(cmp('ge')).toEqual(['hi >= ?', ['L']]);
    expect(cmp('lt')).toEqual(['lo < ?', ['L']]);
    expect(cmp('le')).toEqual(['lo <= ?', ['H']]);
    expect(cmp('sa')).toEqual(['lo > ?', ['H']]);
    expect(cmp('eb')).toEqual(['hi < ?', ['L']]);
  });
});
