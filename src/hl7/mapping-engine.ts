/**
 * Applies an inbound mapping (mappings/*.to-request.json) to a parsed v2 message: every row reads a
 * v2 path, converts it by its named type and vocabulary, and writes one target element. The result
 * remembers where each target value came from, so later validation errors (zod, domain) can point
 * at the v2 segment and field in the ACK.
 * @see mappings/README.md for the rows themselves
 */
import { addDays, inbound, type Vocabulary } from './conversions.ts';
import type { DerivedRule, GroupRule, InboundMapping, InFieldRule } from './mapping-types.ts';
import type { V2Location, V2Message, V2Segment } from './v2-message.ts';
import { expectedLocation, parseV2Path, readPath, selectSegments, type Hit, type V2Path } from './v2-path.ts';

/** A content problem found while mapping, with its HL7 table 0357 code. */
export interface MappingIssue {
  code: 100 | 101 | 102 | 103;
  text: string;
  location?: V2Location;
}

/** Computes a target value from the partly built result (rules that are not one field's copy). */
export type Derivation = (draft: Record<string, unknown>, msg: V2Message) => unknown;

export interface InboundOptions {
  /** Zone for timestamps without an offset; default Europe/London. */
  timeZone?: string;
  derivations?: Record<string, Derivation>;
}

export interface InboundResult {
  value: Record<string, unknown>;
  issues: MappingIssue[];
  /** Source location of each target path ("parents.0.name.family"). */
  locations: Map<string, V2Location>;
}

/** Types that read a whole repetition (XTN, ED) rather than one component. */
const COMPOSITE = new Set(['telecom', 'edData', 'identifier', 'personName', 'unlistedText']);

const pathCache = new Map<string, V2Path>();
function path(text: string): V2Path {
  let p = pathCache.get(text);
  if (!p) pathCache.set(text, (p = parseV2Path(text)));
  return p;
}

/** What a row says, worked out once per row (mapping files are loaded once and never change). */
interface CompiledField {
  sources: string[];
  paths: V2Path[];
  composite: boolean;
  collect: boolean;
  /** The target without its `[]`, and split at its dots. */
  target: string;
  targetParts: string[];
}

const compiledFields = new WeakMap<InFieldRule, CompiledField>();
function compiled(rule: InFieldRule): CompiledField {
  let c = compiledFields.get(rule);
  if (!c) {
    const sources = Array.isArray(rule.source) ? rule.source : [rule.source];
    const target = rule.target.replace(/\[\]$/, '');
    c = { sources, paths: sources.map(path), composite: COMPOSITE.has(rule.type), collect: rule.target.endsWith('[]'), target, targetParts: target.split('.') };
    compiledFields.set(rule, c);
  }
  return c;
}

/**
 * Maps `msg` by `mapping`. Never throws on message content: problems come back as issues.
 * Required segments and preconditions are checked first; when they fail nothing else is mapped.
 */
export function applyInbound(mapping: InboundMapping, msg: V2Message, options: InboundOptions = {}): InboundResult {
  const ctx: Ctx = { msg, mapping, timeZone: options.timeZone ?? 'Europe/London', issues: [], locations: new Map(), drops: [] };
  const value: Record<string, unknown> = {};

  for (const req of mapping.requiredSegments) {
    if (selectSegments(msg, path(req.segment)).length === 0) {
      ctx.issues.push({ code: 100, text: `Required segment ${req.segment} is missing: ${req.description}`, location: { segment: path(req.segment).segment, sequence: 1 } });
    }
  }
  for (const pre of mapping.preconditions) {
    const p = path(pre.source);
    const hit = readPath(msg, p)[0];
    const v = hit?.value?.trim();
    if (!v) ctx.issues.push({ code: 101, text: `${pre.source} is required: ${pre.description}`, location: hit?.location ?? expectedLocation(p) });
    else if (!pre.equals.some((e) => e.toUpperCase() === v.toUpperCase())) ctx.issues.push({ code: 103, text: `${pre.source} is '${v}': ${pre.description}`, location: hit.location });
  }
  if (ctx.issues.length > 0) return { value, issues: ctx.issues, locations: ctx.locations };

  for (const rule of mapping.rules) {
    if ('derive' in rule) applyDerived(ctx, rule, value, options.derivations ?? {});
    else if ('forEach' in rule) applyGroup(ctx, rule, value);
    else applyField(ctx, rule, value, '', undefined);
  }
  for (const drop of ctx.drops) deletePath(value, drop);
  return { value, issues: ctx.issues, locations: ctx.locations };
}

interface Ctx {
  msg: V2Message;
  mapping: InboundMapping;
  timeZone: string;
  issues: MappingIssue[];
  locations: Map<string, V2Location>;
  /** Target prefixes to delete at the end (requiredFor). */
  drops: string[];
}

/** Applies one row; returns false when the row asks for its group item to be dropped. */
function applyField(ctx: Ctx, rule: InFieldRule, root: Record<string, unknown>, base: string, within: V2Segment | undefined): boolean {
  const { sources, paths, composite, collect, target, targetParts } = compiled(rule);
  const hits = paths.length === 1 ? readPath(ctx.msg, paths[0], within) : paths.flatMap((p) => readPath(ctx.msg, p, within));
  const present = hits.filter((h) => (composite ? h.rep !== undefined : h.value !== undefined && h.value.trim() !== ''));
  const fullTarget = base ? `${base}.${target}` : target;
  const label = sources[0];
  const vocabulary = rule.vocabulary ? ctx.mapping.vocabularies[rule.vocabulary] : undefined;

  let result: unknown;
  let location: V2Location | undefined = present[0]?.location;
  if (present.length > 0) {
    if (rule.join !== undefined) {
      result = convert(ctx, rule.type, { value: present.map((h) => h.value ?? '').join(rule.join), rep: present[0].rep, location }, vocabulary, label);
    } else if (collect) {
      const values = present.map((h) => convert(ctx, rule.type, hitInput(h), vocabulary, label)).filter((v) => v !== undefined);
      result = values.length > 0 ? values : undefined;
    } else {
      result = convert(ctx, rule.type, hitInput(present[0]), vocabulary, label);
    }
    if (result === FAILED) return true;
  }
  if (result === undefined && rule.default !== undefined) result = rule.default;
  if (result === undefined && rule.fallback) {
    const fb = readPath(ctx.msg, path(rule.fallback.source)).find((h) => h.value?.trim());
    if (fb) {
      const v = convert(ctx, rule.fallback.type, hitInput(fb), vocabulary, rule.fallback.source);
      if (v === FAILED) return true;
      result = typeof v === 'string' && rule.fallback.addDays !== undefined ? addDays(v, rule.fallback.addDays) : v;
      location = fb.location;
    }
  }
  if (result === undefined) {
    if (rule.requiredFor === '$item') return false;
    if (rule.requiredFor) ctx.drops.push(rule.requiredFor);
    else if (rule.required) {
      ctx.issues.push({ code: 101, text: `${label} is required${rule.description ? `: ${rule.description}` : ''}`, location: hits[0]?.location ?? expectedLocation(path(label)) });
    }
    return true;
  }
  setPath(root, targetParts, result);
  if (location) ctx.locations.set(fullTarget, location);
  return true;
}

function hitInput(h: Hit) {
  return { value: h.value ?? '', rep: h.rep, location: h.location };
}

const FAILED = Symbol('failed');

function convert(ctx: Ctx, type: string, input: { value: string; rep: Hit['rep']; location?: V2Location }, vocabulary: Vocabulary | undefined, label: string): unknown {
  const r = inbound[type]({ value: input.value, rep: input.rep, vocabulary, label, timeZone: ctx.timeZone });
  if (r.ok) return r.value;
  ctx.issues.push({ code: r.code, text: r.text, location: input.location });
  return FAILED;
}

function applyGroup(ctx: Ctx, rule: GroupRule, root: Record<string, unknown>): void {
  const selector = path(rule.forEach);
  const segments = selectSegments(ctx.msg, { ...selector, segmentSelector: selector.segmentSelector ?? '*' }).filter((s) => {
    if (!rule.excludeAfter) return true;
    const before = ctx.msg.segments.slice(0, s.position).reverse().find((p) => p.type !== s.type && p.type !== 'NTE');
    return !before || !rule.excludeAfter.includes(before.type);
  });
  const target = rule.target.replace(/\[\]$/, '');
  // Two groups may fill one array (records from OBX ED and from OBX RP): append.
  const existing = getPath(root, target);
  const items: Record<string, unknown>[] = Array.isArray(existing) ? existing : [];
  const first = items.length;
  for (const seg of segments) {
    const item: Record<string, unknown> = {};
    const base = `${target}.${items.length}`;
    const before = ctx.locations.size;
    const keep = rule.fields.every((f) => applyField(ctx, f, item, base, seg));
    if (keep) items.push(item);
    else for (const k of [...ctx.locations.keys()].slice(before)) ctx.locations.delete(k);
  }
  if (items.length > 0) setPath(root, target.split('.'), items);
  if (rule.required && items.length === first) {
    ctx.issues.push({
      code: segments.length > 0 ? 101 : 100,
      text: `At least one ${rule.forEach} is required${rule.description ? `: ${rule.description}` : ''}`,
      location: segments[0] ? { segment: segments[0].type, sequence: segments[0].sequence } : { segment: selector.segment, sequence: 1 },
    });
  }
}

function applyDerived(ctx: Ctx, rule: DerivedRule, root: Record<string, unknown>, derivations: Record<string, Derivation>): void {
  const fn = derivations[rule.derive];
  if (!fn) throw new Error(`mapping ${ctx.mapping.message}: no derivation named '${rule.derive}'`);
  const v = fn(root, ctx.msg);
  if (v !== undefined) setPath(root, rule.target.split('.'), v);
}

function setPath(root: Record<string, unknown>, parts: string[], value: unknown): void {
  let o = root;
  for (let i = 0; i < parts.length - 1; i++) o = (o[parts[i]] ??= {}) as Record<string, unknown>;
  o[parts[parts.length - 1]] = value;
}

function getPath(root: Record<string, unknown>, dotted: string): unknown {
  let o: unknown = root;
  for (const p of dotted.split('.')) o = (o as Record<string, unknown> | undefined)?.[p];
  return o;
}

function deletePath(root: Record<string, unknown>, dotted: string): void {
  const parts = dotted.split('.');
  let o: Record<string, unknown> | undefined = root;
  for (const p of parts.slice(0, -1)) o = o?.[p] as Record<string, unknown> | undefined;
  if (o) delete o[parts[parts.length - 1]];
}

/**
 * The v2 location of a target path or its nearest mapped ancestor (zod and OperationOutcome
 * expressions name targets such as `child.nhsNumber` or `parents.0.name`).
 */
export function locateTarget(locations: Map<string, V2Location>, target: string): V2Location | undefined {
  const parts = target.split('.');
  for (let n = parts.length; n > 0; n--) {
    const key = parts.slice(0, n).join('.');
    const hit = locations.get(key) ?? [...locations.entries()].find(([k]) => k.startsWith(`${key}.`))?.[1];
    if (hit) return hit;
  }
  return undefined;
}
