/**
 * Finding the instance data that a differential element (by its id, e.g.
 * `ServiceRequest.extension:question` or `Extension.extension:text.value[x]`) talks about.
 * Element ids: https://hl7.org/fhir/R4/elementdefinition.html#id
 */
import type { ElementDefinition } from 'fhir/r4.js';
import { isObject, own } from './issues.ts';

export interface Segment {
  /** Element name, e.g. `extension` or `value[x]`. */
  name: string;
  /** Slice name after `:`, if any. */
  slice?: string;
  /** The element id up to and including this segment (to look up the slice's definition). */
  id: string;
}

/** One value found in the instance. */
export interface Item {
  value: unknown;
  /** FHIRPath of this value, with an index when it sits in an array. */
  expr: string;
  /** The JSON property it came from (`valueCoding` for `value[x]`). */
  key: string;
}

/** The values of one element under one parent instance: cardinality is counted per group. */
export interface Group {
  /** FHIRPath of the element under that parent, e.g. `ServiceRequest.extension.where(url='...')`. */
  expr: string;
  items: Item[];
}

/** Segments of an element id, without the root (the type name). */
export function parseElementId(el: ElementDefinition): Segment[] {
  const parts = (el.id ?? el.path).split('.');
  const segments: Segment[] = [];
  let id = parts[0] ?? '';
  for (const part of parts.slice(1)) {
    id = `${id}.${part}`;
    const colon = part.indexOf(':');
    segments.push(colon < 0 ? { name: part, id } : { name: part.slice(0, colon), slice: part.slice(colon + 1), id });
  }
  return segments;
}

/** Finds the url a slice of `extension` matches, from the differential (`type.profile` or a fixed `url`). */
export type SliceUrl = (sliceId: string) => string | undefined;

export function sliceUrlResolver(elements: ElementDefinition[]): SliceUrl {
  const byId = new Map(elements.map((e) => [e.id ?? e.path, e]));
  return (sliceId) => byId.get(sliceId)?.type?.[0]?.profile?.[0] ?? byId.get(`${sliceId}.url`)?.fixedUri;
}

function keysFor(node: Record<string, unknown>, seg: Segment): string[] {
  if (!seg.name.endsWith('[x]')) return [seg.name];
  // A type slice (`value[x]:valueString`) names its one JSON key.
  if (seg.slice) return [seg.slice];
  const prefix = seg.name.slice(0, -3);
  const keys = new Set<string>();
  for (const k of Object.keys(node)) {
    const key = k.startsWith('_') ? k.slice(1) : k;
    if (key.startsWith(prefix) && /^[A-Z]/.test(key.slice(prefix.length))) keys.add(key);
  }
  return [...keys];
}

/** The values of `seg` directly under `node`, filtered to the slice if the segment names one. */
export function children(node: unknown, nodeExpr: string, seg: Segment, sliceUrl: SliceUrl): Item[] {
  if (!isObject(node)) return [];
  const items: Item[] = [];
  for (const key of keysFor(node, seg)) {
    const value = own(node, key);
    // A primitive may be present only through its `_key` extensions: it still counts.
    const present = value !== undefined ? value : own(node, `_${key}`);
    if (present === undefined) continue;
    if (Array.isArray(present)) {
      present.forEach((v: unknown, i) => items.push({ value: Array.isArray(value) ? v : undefined, expr: `${nodeExpr}.${key}[${i}]`, key }));
    } else {
      items.push({ value, expr: `${nodeExpr}.${key}`, key });
    }
  }
  if (!seg.slice || seg.name.endsWith('[x]')) return items;
  const url = sliceUrl(seg.id);
  // Extension slices are told apart by url; a slice without one cannot be matched.
  if (url === undefined) return [];
  return items.filter((item) => isObject(item.value) && own(item.value, 'url') === url);
}

function groupExpr(parentExpr: string, seg: Segment, sliceUrl: SliceUrl): string {
  const name = seg.name.endsWith('[x]') ? seg.name.slice(0, -3) : seg.name;
  const url = seg.slice && !seg.name.endsWith('[x]') ? sliceUrl(seg.id) : undefined;
  return url === undefined ? `${parentExpr}.${name}` : `${parentExpr}.${name}.where(url='${url}')`;
}

/**
 * Groups of values for an element id under `root`: one group per instance of its parent.
 * A missing parent yields no group, so a child's min applies only where its parent exists.
 */
export function select(root: unknown, rootExpr: string, segments: Segment[], sliceUrl: SliceUrl, parentsOf?: Map<string, Item[]>): Group[] {
  const last = segments.at(-1);
  if (!last) return [];
  let parents: Item[] = [{ value: root, expr: rootExpr, key: '' }];
  for (let i = 0; i < segments.length - 1; i++) {
    const seg = segments[i];
    // Elements of one differential share their parents (every slice of `extension`, and the
    // elements under it): `parentsOf`, kept for one instance, finds each parent's values once.
    const known = parentsOf?.get(seg.id);
    if (known) {
      parents = known;
      continue;
    }
    const from = parents;
    parents = from.flatMap((p) => children(p.value, p.expr, seg, sliceUrl));
    parentsOf?.set(seg.id, parents);
  }
  return parents
    .filter((p) => isObject(p.value))
    .map((p) => ({ expr: groupExpr(p.expr, last, sliceUrl), items: children(p.value, p.expr, last, sliceUrl) }));
}
