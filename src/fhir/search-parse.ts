/**
 * Parses FHIR search URL parameters into a storage SearchQuery.
 * https://hl7.org/fhir/R4/search.html — unknown parameters are ignored (and left out of the
 * self link) unless `Prefer: handling=strict`, which makes them a 400.
 */
import { badRequest, tooCostly } from '../shared/outcomes.ts';
import type { DateComparison, SearchCriterion, SearchQuery } from '../storage/types.ts';
import { dateRange } from './dates.ts';
import { normaliseString, referenceKey, type SearchParameterRegistry } from './search-params.ts';

export type QueryParams = Record<string, string[]>;

/**
 * Query parameters by name, in an object without a prototype: a parameter named `__proto__`,
 * `constructor` or `toString` is only a name (an unknown one, ignored or refused like any other).
 */
export function queryParams(pairs: Iterable<[string, string]> = []): QueryParams {
  const out: QueryParams = Object.create(null) as QueryParams;
  for (const [k, v] of pairs) (out[k] ??= []).push(v);
  return out;
}

export interface ParsedSearch {
  query: SearchQuery;
  /** `_include` targets as [sourceType, param]. */
  includes: [string, string][];
  /** `_revinclude` as [sourceType, param]. */
  revIncludes: [string, string][];
  /** The parameters actually used, for the self/next/prev links. */
  used: [string, string][];
}

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 1000;
/** Parameters one search may AND together: each is a join, and the SQL planners' cost grows steeply with them. */
export const MAX_CRITERIA = 20;
/** Values one search may hold in all (OR lists included): each is a bound SQL parameter, and drivers cap those. */
export const MAX_VALUES = 1000;
const DATE_PREFIXES = ['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'sa', 'eb'] as const;
const RESULT_PARAMS = new Set(['_count', '_offset', '_sort', '_total', '_include', '_revinclude', '_format', '_pretty', '_summary', '_elements']);

function parseDate(param: string, raw: string): DateComparison {
  const prefix = DATE_PREFIXES.find((x) => raw.startsWith(x)) ?? 'eq';
  const value = DATE_PREFIXES.some((x) => raw.startsWith(x)) ? raw.slice(2) : raw;
  const range = dateRange(value);
  if (!range) throw badRequest(`Invalid date '${raw}' for search parameter ${param}`, param);
  return { prefix, ...range };
}


function valueCount(c: SearchCriterion): number {
  if (c.kind === 'lastUpdated' || c.kind === 'date') return c.comparisons.length;
  return c.kind === 'org' ? c.orgs.length : c.values.length;
}

function parseInteger(name: string, raw: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(raw)) throw badRequest(`${name} must be a whole number`, name);
  const n = Number(raw);
  if (n < min || n > max) throw badRequest(`${name} must be between ${min} and ${max}`, name);
  return n;
}

function criterionFor(type: string, name: string, modifier: string | undefined, raw: string, opts: ParseOptions): SearchCriterion | undefined {
  if (name === '_id') return { kind: 'id', values: raw.split(',') };
  if (name === '_lastUpdated') return { kind: 'lastUpdated', comparisons: [parseDate(name, raw)] };
  const def = opts.searchParams.find(type, name);
  if (!def) return undefined;
  if (modifier && !(def.type === 'string' && modifier === 'exact')) throw badRequest(`Modifier :${modifier} is not supported on ${name}`, `${name}:${modifier}`);
  const values = raw.split(',').filter((v) => v !== '');
  if (!values.length) throw badRequest(`Search parameter ${name} has no value`, name);
  switch (def.type) {
    case 'token':
      return { kind: 'token', param: name, values: values.map((v) => {
        const bar = v.indexOf('|');
        if (bar < 0) return { code: v };
        const system = v.slice(0, bar);
        const code = v.slice(bar + 1);
        return code === '' ? { system } : { system, code };
      }) };
    case 'string':
      return { kind: 'string', param: name, values: values.map(normaliseString), exact: modifier === 'exact' };
    case 'date':
      return { kind: 'date', param: name, comparisons: values.map((v) => parseDate(name, v)) };
    case 'reference': {
      const keys = values.flatMap((v) => {
        const key = referenceKey(v, opts.baseUrl);
        if (key) return [key];
        if (/^[A-Za-z0-9\-.]{1,64}$/.test(v)) return (def.targets ?? []).map((t) => `${t}/${v}`);
        throw badRequest(`Invalid reference '${v}' for search parameter ${name}`, name);
      });
      return { kind: 'reference', param: name, values: keys };
    }
  }
}

export interface ParseOptions {
  /** `Prefer: handling=strict`: an unknown parameter is a 400 rather than ignored. */
  strict: boolean;
  baseUrl: string;
  /** The server's search parameters (fhir/conformance.ts builds them once). */
  searchParams: SearchParameterRegistry;
}

/** Parses the query of a search on `type`. https://hl7.org/fhir/R4/search.html */
export function parseSearch(type: string, params: QueryParams, opts: ParseOptions): ParsedSearch {
  const criteria: SearchCriterion[] = [];
  const used: [string, string][] = [];
  const includes: [string, string][] = [];
  const revIncludes: [string, string][] = [];
  let count = DEFAULT_COUNT;
  let offset = 0;
  let sort: SearchQuery['sort'];
  let total: SearchQuery['total'] = 'none';
  let values = 0;
  for (const [key, rawValues] of Object.entries(params)) {
    for (const raw of rawValues) {
      if (RESULT_PARAMS.has(key)) {
        if (key === '_count') count = parseInteger('_count', raw, 0, MAX_COUNT);
        else if (key === '_offset') offset = parseInteger('_offset', raw, 0, 1_000_000);
        else if (key === '_sort') {
          if (raw !== '_lastUpdated' && raw !== '-_lastUpdated') throw badRequest(`_sort supports _lastUpdated and -_lastUpdated only`, '_sort');
          sort = { param: '_lastUpdated', descending: raw.startsWith('-') };
        } else if (key === '_total') {
          if (!['none', 'estimate', 'accurate'].includes(raw)) throw badRequest(`_total must be none, estimate or accurate`, '_total');
          total = raw === 'none' ? 'none' : 'accurate';
        } else if (key === '_summary') {
          if (raw !== 'count') continue;
          total = 'accurate';
          count = 0;
        } else if (key === '_include' || key === '_revinclude') {
          const [src, param] = raw.split(':');
          if (!src || !param || (key === '_include' && src !== type) || opts.searchParams.find(src, param)?.type !== 'reference') {
            if (opts.strict) throw badRequest(`Unsupported ${key} '${raw}'`, key);
            continue;
          }
          const list = key === '_include' ? includes : revIncludes;
          if (!list.some(([s, p]) => s === src && p === param)) list.push([src, param]);
        } else continue; // _format, _pretty, _elements: handled by the HTTP layer or ignored
        used.push([key, raw]);
        continue;
      }
      const [name, modifier] = key.split(':');
      const c = criterionFor(type, name, modifier, raw, opts);
      if (!c) {
        if (opts.strict) throw badRequest(`Unknown search parameter '${key}' for ${type}`, key);
        continue;
      }
      // No stored value holds U+0000 (validation refuses control characters), and PostgreSQL text cannot carry it.
      if (raw.includes('\u0000')) throw badRequest(`The value of search parameter ${name} contains a NUL character`, key);
      criteria.push(c);
      used.push([key, raw]);
      values += valueCount(c);
      if (criteria.length > MAX_CRITERIA) throw tooCostly(`A search may combine at most ${MAX_CRITERIA} parameters`, key);
      if (values > MAX_VALUES) throw tooCostly(`A search may hold at most ${MAX_VALUES} values in all`, key);
    }
  }
  return { query: { type: type as SearchQuery['type'], criteria, sort, count, offset, total }, includes, revIncludes, used };
}
