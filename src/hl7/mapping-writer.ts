/**
 * Applies an outbound mapping (mappings/*.from-fhir.json): builds a v2 message's segments from
 * a case event. Rows name a path into the event (FHIRPath-like: `patient.name[0].given[0]`,
 * `identifier[system=https://...].value`, `[*]` for every item, `[data]` for items that have
 * `data`), a v2 position, and a conversion.
 * @see mappings/README.md
 */
import { outbound } from './conversions.ts';
import { SegmentWriter } from './er7.ts';
import type { OutboundMapping, OutFieldRule, OutRepeatRule } from './mapping-types.ts';

/**
 * Evaluates a path against `root`; `$` is the current forEach item. Arrays met on the way are
 * flattened (as in FHIRPath), so indexes and filters apply to the whole collection so far.
 */
export function evalPath(root: unknown, path: string, item?: unknown): unknown[] {
  const tokens = splitPath(path);
  let values: unknown[];
  if (tokens[0] === '$') {
    values = item === undefined ? [] : [item];
    tokens.shift();
  } else values = [root];
  for (const token of tokens) {
    const m = /^([^[]*)((?:\[[^\]]*\])*)$/.exec(token);
    if (!m) return [];
    if (m[1]) values = values.flatMap((v) => flat(v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[m[1]] : undefined));
    for (const sel of m[2].match(/\[[^\]]*\]/g) ?? []) values = select(values, sel.slice(1, -1));
  }
  return values.filter((v) => v !== undefined && v !== null && v !== '');
}

function flat(v: unknown): unknown[] {
  return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
}

function select(values: unknown[], sel: string): unknown[] {
  if (sel === '*') return values;
  if (/^\d+$/.test(sel)) return values.slice(Number(sel), Number(sel) + 1);
  const eq = sel.indexOf('=');
  const field = (v: unknown, k: string) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined);
  if (eq < 0) return values.filter((v) => field(v, sel) !== undefined && field(v, sel) !== '');
  // `[key!=value]`: the items whose key is anything else (or absent).
  if (sel[eq - 1] === '!') {
    const key = sel.slice(0, eq - 1), unwanted = sel.slice(eq + 1);
    return values.filter((v) => String(field(v, key)) !== unwanted);
  }
  const key = sel.slice(0, eq), want = sel.slice(eq + 1);
  return values.filter((v) => String(field(v, key)) === want);
}

/** Splits on dots outside brackets (URLs inside filters contain dots). */
function splitPath(path: string): string[] {
  const out: string[] = [];
  let depth = 0, cur = '';
  for (const ch of path) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === '.' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** A row marked required found nothing: the event cannot be expressed in this message. */
export class OutboundMappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundMappingError';
  }
}

/**
 * The body segments (everything after MSH) for `event`, or an empty array when the mapping does
 * not apply to this event kind. Throws OutboundMappingError for a missing required value.
 */
export function applyOutbound(mapping: OutboundMapping, event: Record<string, unknown> & { kind: string }): SegmentWriter[] {
  if (!mapping.events.includes(event.kind as never)) return [];
  const setIds = new Map<string, number>();
  const segments: SegmentWriter[] = [];
  for (const seg of mapping.segments) {
    if (seg.events && !seg.events.includes(event.kind)) continue;
    if (seg.when && evalPath(event, seg.when).length === 0) continue;
    const items = seg.forEach ? evalPath(event, seg.forEach) : [undefined];
    for (const item of items) {
      const w = new SegmentWriter(seg.segment);
      const nextSetId = () => {
        const n = (setIds.get(seg.segment) ?? 0) + 1;
        setIds.set(seg.segment, n);
        return String(n);
      };
      for (const row of seg.fields) {
        if ('forEach' in row) writeRepeat(mapping, w, row, event, item);
        else writeRow(mapping, w, row, event, item, nextSetId);
      }
      segments.push(w);
    }
  }
  return segments;
}

/** A repeating field: one repetition per item, each item once, in the order of the `forEach` paths. */
function writeRepeat(mapping: OutboundMapping, w: SegmentWriter, row: OutRepeatRule, event: unknown, item: unknown): void {
  const paths = Array.isArray(row.forEach) ? row.forEach : [row.forEach];
  const items = [...new Set(paths.flatMap((p) => evalPath(event, p, item)))];
  if (!items.length && row.required) throw new OutboundMappingError(`${mapping.message}: ${w.type}-${row.target} is required but ${JSON.stringify(row.forEach)} has no value`);
  items.forEach((each, i) => {
    for (const f of row.fields) writeRow(mapping, w, { ...f, target: `${row.target}[${i}].${f.target}` }, event, each, () => String(i + 1));
  });
}

function writeRow(mapping: OutboundMapping, w: SegmentWriter, row: OutFieldRule, event: unknown, item: unknown, nextSetId: () => string): void {
  const [, field, rep, comp, sub] = /^(\d+)(?:\[(\d+)\])?(?:\.(\d+))?(?:\.(\d+))?$/.exec(row.target)!;
  const convert = outbound[row.type];
  const vocabulary = row.vocabulary ? mapping.vocabularies[row.vocabulary] : undefined;
  const label = `${w.type}-${row.target}`;
  let value: string | undefined;
  if (row.literal !== undefined) value = row.literal;
  else {
    const sources = Array.isArray(row.source) ? row.source : [row.source!];
    if (sources[0] === '$setId') value = nextSetId();
    else {
      const found = sources.map((s) => evalPath(event, s, item)).find((v) => v.length > 0) ?? [];
      const converted = found.map((v) => convert(v, vocabulary, label)).filter((v): v is string => v !== undefined && v !== '');
      value = row.join !== undefined ? converted.join(row.join) || undefined : converted[0];
    }
  }
  if (value === undefined && row.required) throw new OutboundMappingError(`${mapping.message}: ${label} is required but ${JSON.stringify(row.source)} has no value`);
  w.set(Number(field), value, rep ? Number(rep) : 0, comp ? Number(comp) : 1, sub ? Number(sub) : 1);
}
