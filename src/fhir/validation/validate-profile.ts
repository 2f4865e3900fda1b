/**
 * Validation against a constraining StructureDefinition's differential
 * (https://hl7.org/fhir/R4/profiling.html): cardinality, fixed[x], pattern[x], choice types,
 * Reference targets, required bindings, and extension profiles for sliced extensions.
 * Driven entirely by the profile JSON: there is no code per profile.
 */
import type { ElementDefinition, StructureDefinition } from 'fhir/r4.js';
import { choiceKey } from './base-table.ts';
import { type Item, type Segment, type SliceUrl, parseElementId, select, sliceUrlResolver } from './differential.ts';
import { IssueList, type ValidationIssue, isObject, own, quote } from './issues.ts';
import { deepEqual, matchesPattern, referencedType, show } from './value-match.ts';

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
  const actualType = isObject(resource) ? own(resource, 'resourceType') : undefined;
  if (profile.kind === 'resource' && actualType !== profile.type) {
    ctx.out.error('value', rootExpr, `Profile ${profile.url} is for ${profile.type}, not ${show(actualType)}`);
    return ctx.out.issues;
  }
  checkDifferential(ctx, resource, rootExpr, profile, 0);
  return ctx.out.issues;
}

/** One differential element, reduced to what is checked. */
interface Rule {
  label: string;
  segments: Segment[];
  min?: number;
  max?: string;
  /** For a choice element with a type list: the JSON keys allowed (`valueString`). */
  choiceKeys?: string[];
  fixed: unknown[];
  patterns: unknown[];
  /** Canonical URL of a required binding. */
  binding?: string;
  targetProfiles: string[];
  extensionUrl?: string;
}

interface Compiled {
  rules: Rule[];
  sliceUrl: SliceUrl;
}

// Derived from immutable profile data; keyed weakly so a discarded profile is not pinned.
const compiledProfiles = new WeakMap<StructureDefinition, Compiled>();

function compileRule(el: ElementDefinition): Rule | undefined {
  const segments = parseElementId(el);
  const name = segments.at(-1)?.name;
  if (name === undefined) return undefined;
  const entries = Object.entries(el) as [string, unknown][];
  const rule: Rule = {
    label: el.id ?? el.path,
    segments,
    min: el.min,
    max: el.max,
    choiceKeys: name.endsWith('[x]') && el.type?.length ? el.type.map((t) => choiceKey(name, t.code)) : undefined,
    fixed: entries.filter(([k]) => k.startsWith('fixed')).map(([, v]) => v),
    patterns: entries.filter(([k]) => k.startsWith('pattern')).map(([, v]) => v),
    binding: el.binding?.strength === 'required' ? el.binding.valueSet?.split('|')[0] : undefined,
    targetProfiles: (el.type ?? []).filter((t) => t.code === 'Reference').flatMap((t) => t.targetProfile ?? []),
    extensionUrl: el.type?.[0]?.code === 'Extension' ? el.type[0].profile?.[0] : undefined,
  };
  const checksSomething = (rule.min ?? 0) > 0 || (rule.max !== undefined && rule.max !== '*') || rule.choiceKeys
    || rule.fixed.length || rule.patterns.length || rule.binding || rule.targetProfiles.length || rule.extensionUrl;
  return checksSomething ? rule : undefined;
}

function compile(profile: StructureDefinition): Compiled {
  let compiled = compiledProfiles.get(profile);
  if (!compiled) {
    const elements = profile.differential?.element ?? [];
    compiled = {
      rules: elements.map(compileRule).filter((r): r is Rule => r !== undefined),
      sliceUrl: sliceUrlResolver(elements),
    };
    compiledProfiles.set(profile, compiled);
  }
  return compiled;
}

function checkDifferential(ctx: Ctx, node: unknown, expr: string, profile: StructureDefinition, nesting: number): void {
  const { rules, sliceUrl } = compile(profile);
  // Values of each element id under `node`, found once for all the rules below it.
  const parentsOf = new Map<string, Item[]>();
  for (const rule of rules) {
    for (const group of select(node, expr, rule.segments, sliceUrl, parentsOf)) {
      checkCardinality(ctx, rule, group.expr, group.items.length);
      for (const item of group.items) checkItem(ctx, rule, item, nesting);
    }
  }
}

function checkCardinality(ctx: Ctx, rule: Rule, expr: string, count: number): void {
  if (rule.min !== undefined && count < rule.min) {
    ctx.out.error('required', expr, `${rule.label}: at least ${rule.min} required by the profile, found ${count}`);
  }
  if (rule.max !== undefined && rule.max !== '*' && count > Number(rule.max)) {
    const limit = rule.max === '0' ? 'not allowed by the profile' : `at most ${rule.max} allowed by the profile`;
    ctx.out.error('invariant', expr, `${rule.label}: ${limit}, found ${count}`);
  }
}

function checkItem(ctx: Ctx, rule: Rule, item: Item, nesting: number): void {
  if (rule.choiceKeys && !rule.choiceKeys.includes(item.key)) {
    ctx.out.error('value', item.expr, `${rule.label}: ${quote(item.key)} is not allowed here; expected ${rule.choiceKeys.join(' or ')}`);
    return;
  }
  for (const expected of rule.fixed) {
    if (!deepEqual(item.value, expected)) {
      ctx.out.error('value', item.expr, `${rule.label}: must be exactly ${show(expected)}, found ${show(item.value)}`);
    }
  }
  for (const pattern of rule.patterns) {
    if (!matchesPattern(item.value, pattern)) {
      ctx.out.error('value', item.expr, `${rule.label}: must match ${show(pattern)}, found ${show(item.value)}`);
    }
  }
  if (rule.binding) checkBinding(ctx, rule, rule.binding, item);
  if (rule.targetProfiles.length) checkReferenceTargets(ctx, rule, item);
  if (rule.extensionUrl) checkExtensionProfile(ctx, rule.extensionUrl, item, nesting);
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

// Per expansion (immutable, from the registry): every text that follows a `|` in one of its entries.
const codesOfExpansion = new WeakMap<ReadonlySet<string>, ReadonlySet<string>>();

/** Codes of a `code` element carry no system: match on the code alone (an entry ending in `|code`). */
function codeOnly(expansion: ReadonlySet<string>, code: string): boolean {
  let codes = codesOfExpansion.get(expansion);
  if (!codes) {
    const suffixes = new Set<string>();
    for (const entry of expansion) {
      for (let i = entry.indexOf('|'); i >= 0; i = entry.indexOf('|', i + 1)) suffixes.add(entry.slice(i + 1));
    }
    codesOfExpansion.set(expansion, (codes = suffixes));
  }
  return codes.has(code);
}

function codingIn(expansion: ReadonlySet<string>, coding: unknown): boolean {
  if (!isObject(coding)) return false;
  return expansion.has(`${String(own(coding, 'system'))}|${String(own(coding, 'code'))}`);
}

function checkBinding(ctx: Ctx, rule: Rule, url: string, item: Item): void {
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
  if (!ok) ctx.out.error('code-invalid', item.expr, `${rule.label}: ${show(value)} is not in the required value set ${url}`);
}

/** The type a profile's targetProfile stands for: a base resource URL, or a profile in the registry. */
function targetType(ctx: Ctx, targetProfile: string): string | undefined {
  if (targetProfile.startsWith(FHIR_SD)) return targetProfile.slice(FHIR_SD.length);
  const sd = ctx.terminology.byUrl(targetProfile) as StructureDefinition | undefined;
  return sd?.resourceType === 'StructureDefinition' ? sd.type : undefined;
}

function checkReferenceTargets(ctx: Ctx, rule: Rule, item: Item): void {
  const actual = referencedType(item.value, ctx.resource);
  if (actual === undefined) return;
  const allowed = rule.targetProfiles.map((t) => targetType(ctx, t)).filter((t): t is string => t !== undefined);
  if (allowed.length > 0 && !allowed.includes(actual)) {
    ctx.out.error('value', item.expr, `${rule.label}: must reference ${allowed.join(' or ')}, not ${quote(actual)}`);
  }
}
