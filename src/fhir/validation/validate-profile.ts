/**
 * Validation against a constraining StructureDefinition's differential
 * (https://hl7.org/fhir/R4/profiling.html): cardinality, fixed[x], pattern[x], choice types,
 * Reference targets, required bindings, and extension profiles for sliced extensions.
 * Driven entirely by the profile JSON: there is no code per profile.
 */
import type { ElementDefinition, StructureDefinition } from 'fhir/r4.js';
import { choiceKey } from './base-table.js';
import { type Segment, type Item, parseElementId, select, sliceUrlResolver } from './differential.js';
import { IssueList, type ValidationIssue, isObject, own, quote } from './issues.js';
import { deepEqual, matchesPattern, referencedType, show } from './value-match.js';

/** What profile validation needs from the registry. */
export interface Terminology {
  /** A conformance resource (StructureDefinition, ValueSet, ...) by canonical URL. */
  byUrl(url: string): { resourceType: string } | undefined;
  /** `system|code` entries of a ValueSet's expansion. */
  expandValueSet(url: string): ReadonlySet<string>;
}

/** Extension profiles may nest extension profiles; a cycle in the data must not recurse forever. */
const MAX_PROFILE_NESTING = 8;
const FHIR_SD = 'http://hl7.org/fhir/StructureDefinition/';

interface Ctx {
  out: IssueList;
  terminology: Terminology;
  /** The resource being validated (for `#id` references to contained resources). */
  resource: unknown;
}

/**
 * Validates `resource` against `profile` (a resource or extension profile). Run it on a resource
 * that already passed base validation: it trusts the JSON shapes base validation checked.
 * Every issue has `source: 'profile'`; `expression` is rooted at `rootExpr` (the resourceType by default).
 */
export function validateProfile(
  resource: unknown, profile: StructureDefinition, terminology: Terminology, rootExpr: string = profile.type,
): ValidationIssue[] {
  const ctx: Ctx = { out: new IssueList('profile'), terminology, resource };
  checkDifferential(ctx, resource, rootExpr, profile, 0);
  return ctx.out.issues;
}

function checkDifferential(ctx: Ctx, node: unknown, expr: string, profile: StructureDefinition, nesting: number): void {
  const elements = profile.differential?.element ?? [];
  const sliceUrl = sliceUrlResolver(elements);
  for (const el of elements) {
    const segments = parseElementId(el);
    if (segments.length === 0) continue;
    for (const group of select(node, expr, segments, sliceUrl)) {
      checkCardinality(ctx, el, group.expr, group.items.length);
      for (const item of group.items) checkItem(ctx, el, segments, item, nesting);
    }
  }
}

function label(el: ElementDefinition): string {
  return el.id ?? el.path;
}

function checkCardinality(ctx: Ctx, el: ElementDefinition, expr: string, count: number): void {
  if (el.min !== undefined && count < el.min) {
    ctx.out.error('required', expr, `${label(el)}: at least ${el.min} required by the profile, found ${count}`);
  }
  if (el.max !== undefined && el.max !== '*' && count > Number(el.max)) {
    const rule = el.max === '0' ? 'not allowed by the profile' : `at most ${el.max} allowed by the profile`;
    ctx.out.error('invariant', expr, `${label(el)}: ${rule}, found ${count}`);
  }
}

function checkItem(ctx: Ctx, el: ElementDefinition, segments: Segment[], item: Item, nesting: number): void {
  const name = segments.at(-1)?.name ?? '';
  if (name.endsWith('[x]') && el.type?.length) {
    const allowed = el.type.map((t) => choiceKey(name, t.code));
    if (!allowed.includes(item.key)) {
      ctx.out.error('value', item.expr, `${label(el)}: ${quote(item.key)} is not allowed here; expected ${allowed.join(' or ')}`);
      return;
    }
  }
  for (const key of Object.keys(el)) {
    const expected = (el as Record<string, unknown>)[key];
    if (key.startsWith('fixed') && !deepEqual(item.value, expected)) {
      ctx.out.error('value', item.expr, `${label(el)}: must be exactly ${show(expected)}, found ${show(item.value)}`);
    } else if (key.startsWith('pattern') && !matchesPattern(item.value, expected)) {
      ctx.out.error('value', item.expr, `${label(el)}: must match ${show(expected)}, found ${show(item.value)}`);
    }
  }
  if (el.binding?.strength === 'required' && el.binding.valueSet) checkBinding(ctx, el, el.binding.valueSet, item);
  checkReferenceTargets(ctx, el, item);
  const extensionUrl = el.type?.[0]?.code === 'Extension' ? el.type[0].profile?.[0] : undefined;
  if (extensionUrl) checkExtensionProfile(ctx, extensionUrl, item, nesting);
}

function checkExtensionProfile(ctx: Ctx, url: string, item: Item, nesting: number): void {
  const sd = ctx.terminology.byUrl(url) as StructureDefinition | undefined;
  if (sd?.resourceType !== 'StructureDefinition' || sd.type !== 'Extension') {
    ctx.out.warning('not-supported', item.expr, `Extension profile ${url} is not known: not checked`);
    return;
  }
  if (nesting >= MAX_PROFILE_NESTING) {
    ctx.out.error('structure', item.expr, `Extension profiles nested deeper than ${MAX_PROFILE_NESTING}`);
    return;
  }
  checkDifferential(ctx, item.value, item.expr, sd, nesting + 1);
}

/** Codes of a `code` element carry no system: match on the code alone. */
function codeOnly(expansion: ReadonlySet<string>, code: string): boolean {
  for (const entry of expansion) if (entry.endsWith(`|${code}`)) return true;
  return false;
}

function codingIn(expansion: ReadonlySet<string>, coding: unknown): boolean {
  if (!isObject(coding)) return false;
  return expansion.has(`${String(own(coding, 'system'))}|${String(own(coding, 'code'))}`);
}

function checkBinding(ctx: Ctx, el: ElementDefinition, valueSet: string, item: Item): void {
  const url = valueSet.split('|')[0] ?? valueSet;
  if (ctx.terminology.byUrl(url)?.resourceType !== 'ValueSet') {
    ctx.out.warning('not-supported', item.expr, `ValueSet ${url} is not known: binding not checked`);
    return;
  }
  const expansion = ctx.terminology.expandValueSet(url);
  const value = item.value;
  let ok: boolean;
  if (typeof value === 'string') ok = codeOnly(expansion, value);
  else if (isObject(value) && own(value, 'coding') !== undefined) {
    const codings = own(value, 'coding');
    ok = Array.isArray(codings) && codings.some((c: unknown) => codingIn(expansion, c));
  } else ok = codingIn(expansion, value);
  if (!ok) ctx.out.error('code-invalid', item.expr, `${label(el)}: ${show(value)} is not in the required value set ${url}`);
}

/** The type a profile's targetProfile stands for: a base resource URL, or a profile in the registry. */
function targetType(ctx: Ctx, targetProfile: string): string | undefined {
  if (targetProfile.startsWith(FHIR_SD)) return targetProfile.slice(FHIR_SD.length);
  const sd = ctx.terminology.byUrl(targetProfile) as StructureDefinition | undefined;
  return sd?.resourceType === 'StructureDefinition' ? sd.type : undefined;
}

function checkReferenceTargets(ctx: Ctx, el: ElementDefinition, item: Item): void {
  const targets = (el.type ?? []).filter((t) => t.code === 'Reference').flatMap((t) => t.targetProfile ?? []);
  if (targets.length === 0) return;
  const actual = referencedType(item.value, ctx.resource);
  if (actual === undefined) return;
  const allowed = targets.map((t) => targetType(ctx, t)).filter((t): t is string => t !== undefined);
  if (allowed.length > 0 && !allowed.includes(actual)) {
    ctx.out.error('value', item.expr, `${label(el)}: must reference ${allowed.join(' or ')}, not ${quote(actual)}`);
  }
}
