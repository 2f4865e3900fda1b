/**
 * Parses FHIR search URL parameters into a storage SearchQuery.
 * https://hl7.org/fhir/R4/search.html — unknown parameters are ignored (and left out of the
 * self link) unless `Prefer: handling=strict`, which makes them a 400.
 */
import { badRequest, tooCostly } from '../shared/outcomes.ts';
import type { DateComparison, SearchCriterion, SearchQuery, SortKey } from '../storage/types.ts';
import { dateRange } from './dates.ts';
import { normaliseString, referenceKey, type SearchParameterRegistry } from './search-params.ts';

export type QueryParams = Record<string, string[]>;
/** [sourceType, reference parameter, iterate]. https://hl7.org/fhir/R4/search.html#include */
export type IncludeSpec = [string, string, boolean];

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
  /** `_include` targets as [sourceType, param, iterate] (`_include:iterate` also follows what was included). */
  includes: IncludeSpec[];
  /** `_revinclude` as [sourceType, param, iterate]. */
  revIncludes: IncludeSpec[];
  /** The parameters actually used, for the self/next/prev links. */
  used: [string, string][];
}

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 1000;
/** Parameters one search may AND together: each is a join, and the SQL planners' cost grows steeply with them. */
export const MAX_CRITERIA = 20;
/** Values one search may hold in all (OR lists included): each is a bound SQL parameter, and drivers cap those. */
export const MAX_VALUES = 1000;
/** `_sort` keys one search may name: each is a correlated subquery per row. */
export const MAX_SORT_KEYS = 5;
const DATE_PREFIXES = ['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'sa', 'eb'] as const;
const RESULT_PARAMS = new Set(['_count', '_offset', '_sort', '_total', '_include', '_revinclude', '_format', '_pretty', '_summary', '_elements']);

/** Modifiers supported per parameter type. https://hl7.org/fhir/R4/search.html#modifiers */
const MODIFIERS: Record<string, string[]> = { string: ['exact', 'contains'], token: ['not', 'text'], date: [], reference: [] };
const SUMMARY_MODES = new Set(['true', 'text', 'data', 'count', 'false']);

/** `_sort` keys: `_lastUpdated`, `_id` or a date, string or token parameter of `type`; `-` for descending. */
function parseSort(type: string, raw: string, opts: ParseOptions): SortKey[] {
  return raw.split(',').map((part) => {
    const descending = part.startsWith('-');
    const name = descending ? part.slice(1) : part;
    if (name === '_lastUpdated') return { kind: 'lastUpdated', descending };
    if (name === '_id') return { kind: 'id', descending };
    const def = opts.searchParams.find(type, name);
    if (!def || def.type === 'reference') throw badRequest(`_sort: '${name.slice(0, 64)}' is not a date, string or token search parameter of ${type}`, '_sort');
    return { kind: def.type === 'date' ? 'date' : 'value', param: name, descending };
  });
}

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
  if (modifier !== undefined && !MODIFIERS[def.type].includes(modifier)) throw badRequest(`Modifier :${modifier} is not supported on ${name}`, `${name}:${modifier}`);
  const values = raw.split(',').filter((v) => v !== '');
  if (!values.length) throw badRequest(`Search parameter ${name} has no value`, name);
  switch (def.type) {
    case 'token':
      // :text matches the text or display beside the codes, indexed as its own string parameter (search-params.ts).
      if (modifier === 'text') return { kind: 'string', param: `${name}:text`, values: values.map(normaliseString) };
      return { kind: 'token', param: name, ...(modifier === 'not' ? { not: true } : {}), values: values.map((v) => {
        const bar = v.indexOf('|');
        if (bar < 0) return { code: v };
        const system = v.slice(0, bar);
        const code = v.slice(bar + 1);
        return code === '' ? { system } : { system, code };
      }) };
    case 'string':
      return { kind: 'string', param: name, values: values.map(normaliseString), exact: modifier === 'exact', contains: modifier === 'contains' };
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
  const includes: IncludeSpec[] = [];
  const revIncludes: IncludeSpec[] = [];
  let count = DEFAULT_COUNT;
  let offset = 0;
  const sort: SortKey[] = [];
  let total: SearchQuery['total'] = 'none';
  let values = 0;
  for (const [key, rawValues] of Object.entries(params)) {
    for (const raw of rawValues) {
      const iterate = key === '_include:iterate' || key === '_revinclude:iterate';
      if (RESULT_PARAMS.has(key) || iterate) {
        if (key === '_count') count = parseInteger('_count', raw, 0, MAX_COUNT);
        else if (key === '_offset') offset = parseInteger('_offset', raw, 0, 1_000_000);
        else if (key === '_sort') {
          sort.push(...parseSort(type, raw, opts));
          if (sort.length > MAX_SORT_KEYS) throw tooCostly(`_sort may name at most ${MAX_SORT_KEYS} keys`, '_sort');
        } else if (key === '_total') {
          if (!['none', 'estimate', 'accurate'].includes(raw)) throw badRequest(`_total must be none, estimate or accurate`, '_total');
          total = raw === 'none' ? 'none' : 'accurate';
        } else if (key === '_summary') {
          if (!SUMMARY_MODES.has(raw)) throw badRequest('_summary must be one of true, text, data, count, false', '_summary');
          if (raw === 'count') {
            total = 'accurate';
            count = 0;
          }
        } else if (key.startsWith('_include') || key.startsWith('_revinclude')) {
          const rev = key.startsWith('_revinclude');
          const [src, param] = raw.split(':');
          // A first-level _include starts from the matches (of `type`); an iterated one from anything included.
          if (!src || !param || (!rev && !iterate && src !== type) || opts.searchParams.find(src, param)?.type !== 'reference') {
            if (opts.strict) throw badRequest(`Unsupported ${key} '${raw}'`, key);
            continue;
          }
          const list = rev ? revIncludes : includes;
          if (!list.some(([s, p, i]) => s === src && p === param && i === iterate)) list.push([src, param, iterate]);
        } else if (key !== '_elements') continue; // _format, _pretty: handled by the HTTP layer; _elements applied by rest/
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
  return { query: { type: type as SearchQuery['type'], criteria, ...(sort.length ? { sort } : {}), count, offset, total }, includes, revIncludes, used };
}
