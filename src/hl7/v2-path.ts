/**
 * The v2 path notation used in mappings/*.json, and reading a path from a parsed message.
 *
 *   SEG[cond;cond]-F[cond|*].C.S
 *
 * - `PRD[1.1=RT]-4.4.1`: the PRD whose PRD-1.1 is RT, field 4, component 4, sub-component 1
 * - `PID-3[5=NH;4.1|4.2=NHS|2.16.840.1.113883.2.1.4.1].1`: the PID-3 repetition whose component 5
 *   is NH and whose 4.1 or 4.2 is one of the values
 * - `DG1[*]-3.2` and `NK1-5[*]`: every DG1 segment / every repetition (without `*`, the first)
 * A condition is `paths=values`, each `|`-separated (any path equal to any value, case-insensitive);
 * conditions in one bracket are `;`-separated and must all hold.
 */
import type { V2Location, V2Message, V2Rep, V2Segment } from './v2-message.ts';

interface Condition {
  /** [field?, component, sub?]: segment conditions start with a field, repetition ones with a component. */
  paths: number[][];
  values: string[];
}

export interface V2Path {
  text: string;
  segment: string;
  segmentSelector: Condition[] | '*' | undefined;
  field?: number;
  repSelector: Condition[] | '*' | undefined;
  component?: number;
  subComponent?: number;
}

const PATH = /^([A-Z][A-Z0-9]{2})(?:\[([^\]]+)\])?(?:-(\d+)(?:\[([^\]]+)\])?(?:\.(\d+)(?:\.(\d+))?)?)?$/;

/** Parses a v2 path; throws on a syntax error (mapping files are checked when loaded). */
export function parseV2Path(text: string): V2Path {
  const m = PATH.exec(text.trim());
  if (!m) throw new Error(`invalid v2 path '${text}'`);
  return {
    text,
    segment: m[1],
    segmentSelector: parseSelector(m[2], text),
    field: m[3] ? Number(m[3]) : undefined,
    repSelector: parseSelector(m[4], text),
    component: m[5] ? Number(m[5]) : undefined,
    subComponent: m[6] ? Number(m[6]) : undefined,
  };
}

function parseSelector(s: string | undefined, text: string): Condition[] | '*' | undefined {
  if (s === undefined) return undefined;
  if (s === '*') return '*';
  return s.split(';').map((c) => {
    const eq = c.indexOf('=');
    if (eq < 1) throw new Error(`invalid condition '${c}' in v2 path '${text}'`);
    const paths = c.slice(0, eq).split('|').map((p) => p.split('.').map(Number));
    if (paths.some((p) => p.some((n) => !Number.isInteger(n) || n < 1))) throw new Error(`invalid condition '${c}' in v2 path '${text}'`);
    return { paths, values: c.slice(eq + 1).split('|').map((v) => v.trim().toUpperCase()) };
  });
}

function holds(conditions: Condition[], read: (p: number[]) => string | undefined): boolean {
  return conditions.every((c) => c.paths.some((p) => c.values.includes((read(p) ?? '').trim().toUpperCase())));
}

/** Segments a path selects; `within` pins the segment (rules inside a forEach group). */
export function selectSegments(msg: V2Message, path: V2Path, within?: V2Segment): V2Segment[] {
  if (within && within.type === path.segment) return [within];
  const sel = path.segmentSelector;
  const all = msg.all(path.segment);
  if (sel === '*') return [...all];
  if (sel === undefined) return all.slice(0, 1);
  const first = all.find((s) => holds(sel, (p) => s.get(p[0], p[1] ?? 1, p[2])));
  return first ? [first] : [];
}

/** One value read from a message, with where it was. */
export interface Hit {
  value: string | undefined;
  rep: V2Rep | undefined;
  location: V2Location;
}

/**
 * Every value the path selects (one per selected segment and repetition). Empty values are
 * returned too (value undefined) so callers can report where a required value was expected.
 */
export function readPath(msg: V2Message, path: V2Path, within?: V2Segment): Hit[] {
  const segments = selectSegments(msg, path, within);
  const hits: Hit[] = [];
  for (const seg of segments) {
    if (path.field === undefined) {
      hits.push({ value: undefined, rep: undefined, location: { segment: seg.type, sequence: seg.sequence } });
      continue;
    }
    const sel = path.repSelector;
    let reps = seg.reps(path.field);
    if (sel !== undefined && sel !== '*') reps = reps.filter((r) => holds(sel, (p) => r.get(p[0], p[1])));
    if (sel !== '*') reps = reps.slice(0, 1);
    if (reps.length === 0) hits.push({ value: undefined, rep: undefined, location: locationOf(seg, path) });
    for (const r of reps) hits.push({ value: r.get(path.component ?? 1, path.subComponent), rep: r, location: locationOf(seg, path, r) });
  }
  return hits;
}

function locationOf(seg: V2Segment, path: V2Path, r?: V2Rep): V2Location {
  return { segment: seg.type, sequence: seg.sequence, field: path.field, repetition: r ? r.index + 1 : undefined, component: path.component, subComponent: path.subComponent };
}

/** Where a path points when it selected nothing: the segment's first occurrence (for ERR locations). */
export function expectedLocation(path: V2Path): V2Location {
  return { segment: path.segment, sequence: 1, field: path.field, component: path.component, subComponent: path.subComponent };
}
