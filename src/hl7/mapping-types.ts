/**
 * The shape of the mapping files in mappings/ (validated when loaded, so a typo in a data file
 * fails at boot, not on the first message), and the loader.
 */
import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { projectUrl } from '../shared/project-root.ts';
import { inbound, outbound } from './conversions.ts';

const Vocabulary = z.object({
  description: z.string(),
  table: z.string().optional(),
  match: z.enum(['exact', 'prefix']).default('exact'),
  map: z.record(z.string(), z.union([z.string(), z.boolean(), z.null()])),
  unknown: z.enum(['error', 'default', 'omit']).default('error'),
  default: z.union([z.string(), z.boolean()]).optional(),
}).strict();

const inboundType = z.string().refine((t) => t in inbound, { message: 'unknown inbound conversion' });
const outboundType = z.string().refine((t) => t in outbound, { message: 'unknown outbound conversion' });

/** One v2 value (or several, see `join` and `[]` targets) → one target element. */
const InFieldRule = z.object({
  /** v2 path(s), e.g. `PID-3[5=NH].1`; several paths are fallbacks in order, unless joined or collected. */
  source: z.union([z.string(), z.array(z.string()).min(1)]),
  /** Dotted target path; a trailing `[]` collects every value into an array. */
  target: z.string(),
  type: inboundType,
  vocabulary: z.string().optional(),
  required: z.boolean().default(false),
  /** Joins every value found (all sources, repetitions and segments) with this text. */
  join: z.string().optional(),
  default: z.union([z.string(), z.boolean(), z.number()]).optional(),
  /** When nothing is found: a value computed from another field, e.g. MSH-7 + 90 days. */
  fallback: z.object({ source: z.string(), type: inboundType, addDays: z.number().int().optional() }).strict().optional(),
  /** When this value is missing, drop the object at this target prefix instead (`$item`: the group item). */
  requiredFor: z.string().optional(),
  description: z.string().optional(),
}).strict();

const DerivedRule = z.object({ target: z.string(), derive: z.string(), description: z.string() }).strict();

const GroupRule = z.object({
  /** Segment selector, e.g. `NK1` or `OBX[2=ED]`; rules inside read the current segment. */
  forEach: z.string(),
  /** Array target, e.g. `parents[]`. */
  target: z.string().regex(/\[\]$/),
  required: z.boolean().default(false),
  /** Skip segments whose nearest preceding non-NTE segment is one of these (notes on OBR/OBX). */
  excludeAfter: z.array(z.string()).optional(),
  description: z.string().optional(),
  fields: z.array(InFieldRule).min(1),
}).strict();

const Precondition = z.object({ source: z.string(), equals: z.array(z.string()).min(1), description: z.string() }).strict();

export const InboundMapping = z.object({
  message: z.string(),
  direction: z.literal('to-request'),
  description: z.string(),
  target: z.string(),
  versions: z.array(z.string()).min(1),
  requiredSegments: z.array(z.object({ segment: z.string(), description: z.string() }).strict()).default([]),
  preconditions: z.array(Precondition).default([]),
  vocabularies: z.record(z.string(), Vocabulary).default({}),
  rules: z.array(z.union([InFieldRule, GroupRule, DerivedRule])),
}).strict();

const OutFieldBase = z.object({
  /** Path(s) into the event (`task.id`, `$.title` inside forEach, `$setId`); several are fallbacks in order. Or use `literal`. */
  source: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  literal: z.string().optional(),
  /** v2 position in the segment: `F`, `F.C`, `F.C.S`, with an optional repetition `F[n]`. */
  target: z.string().regex(/^\d+(\[\d+\])?(\.\d+){0,2}$/),
  type: outboundType.default('string'),
  vocabulary: z.string().optional(),
  join: z.string().optional(),
  required: z.boolean().default(false),
  description: z.string().optional(),
}).strict();
const oneOfSourceOrLiteral = (r: { source?: unknown; literal?: unknown }) => (r.source === undefined) !== (r.literal === undefined);
const OutFieldRule = OutFieldBase.refine(oneOfSourceOrLiteral, { message: 'a row needs exactly one of source or literal' });

/**
 * A repeating field: one repetition per item found at the `forEach` path(s) (all of them, in the
 * order given, each item once), its components written by `fields` with `$` the item and targets
 * `C` or `C.S`. For PID-3: the NHS number first, then the sender's own identifiers.
 */
const OutRepeatRule = z.object({
  forEach: z.union([z.string(), z.array(z.string()).min(1)]),
  /** The repeating field's sequence number. */
  target: z.string().regex(/^\d+$/),
  required: z.boolean().default(false),
  description: z.string().optional(),
  fields: z.array(OutFieldBase.extend({ target: z.string().regex(/^\d+(\.\d+)?$/) }).refine(oneOfSourceOrLiteral, { message: 'a row needs exactly one of source or literal' })).min(1),
}).strict();

const OutSegment = z.object({
  segment: z.string().regex(/^[A-Z][A-Z0-9]{2}$/),
  /** Repeat the segment for each value at this path (`$` inside refers to the current one). */
  forEach: z.string().optional(),
  /** Write the segment only when this path has a value. */
  when: z.string().optional(),
  /** Write the segment only for these event kinds. */
  events: z.array(z.string()).optional(),
  description: z.string().optional(),
  fields: z.array(z.union([OutFieldRule, OutRepeatRule])),
}).strict();

export const OutboundMapping = z.object({
  message: z.string(),
  direction: z.literal('from-fhir'),
  description: z.string(),
  source: z.string(),
  /** MSH-9 as sent, e.g. `RRI^I12^RRI_I12`. */
  messageType: z.string(),
  /** CaseEvent kinds that produce this message. */
  events: z.array(z.enum(['accepted', 'rejected', 'completed', 'cancelled'])).min(1),
  vocabularies: z.record(z.string(), Vocabulary).default({}),
  segments: z.array(OutSegment).min(1),
}).strict();

export type InboundMapping = z.infer<typeof InboundMapping>;
export type OutboundMapping = z.infer<typeof OutboundMapping>;
export type InFieldRule = z.infer<typeof InFieldRule>;
export type GroupRule = z.infer<typeof GroupRule>;
export type DerivedRule = z.infer<typeof DerivedRule>;
export type OutSegmentRule = z.infer<typeof OutSegment>;
export type OutFieldRule = z.infer<typeof OutFieldRule>;
export type OutRepeatRule = z.infer<typeof OutRepeatRule>;

/** mappings/ at the repository root, found from this file so the working directory does not matter. */
export const MAPPINGS_DIR = projectUrl('mappings/');

const cache = new Map<string, InboundMapping | OutboundMapping>();

/**
 * Loads and validates `mappings/<name>.json` (cached). Throws with the file name and zod's
 * issues when a file is malformed.
 */
export function loadMapping(name: string, dir: URL = MAPPINGS_DIR): InboundMapping | OutboundMapping {
  const url = new URL(`${name}.json`, dir);
  const cached = cache.get(url.href);
  if (cached) return cached;
  const json: unknown = JSON.parse(readFileSync(url, 'utf8'));
  const direction = (json as { direction?: string }).direction;
  const parsed = direction === 'from-fhir' ? OutboundMapping.safeParse(json) : InboundMapping.safeParse(json);
  if (!parsed.success) throw new Error(`mappings/${name}.json is invalid: ${z.prettifyError(parsed.error)}`);
  cache.set(url.href, parsed.data);
  return parsed.data;
}

/** Loads an inbound (v2 → request) mapping by name, e.g. `REF_I12.to-request`. */
export function loadInboundMapping(name: string, dir?: URL): InboundMapping {
  const m = loadMapping(name, dir);
  if (m.direction !== 'to-request') throw new Error(`mappings/${name}.json is not a to-request mapping`);
  return m;
}

/** Loads an outbound (event → v2) mapping by name, e.g. `RRI_I12.from-fhir`. */
export function loadOutboundMapping(name: string, dir?: URL): OutboundMapping {
  const m = loadMapping(name, dir);
  if (m.direction !== 'from-fhir') throw new Error(`mappings/${name}.json is not a from-fhir mapping`);
  return m;
}
