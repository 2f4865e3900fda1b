/**
 * Comparisons a profile asks for: fixed[x] (exact), pattern[x] (subset), and the type a
 * Reference points at. https://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.pattern_x_
 */
import { isObject, own } from './issues.ts';

/** fixed[x]: the value must be exactly this, no more and no less. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x: unknown, i) => deepEqual(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/**
 * pattern[x]: every property the pattern has must be in the value with a matching value;
 * each item of a pattern array must match some item of the value's array.
 */
export function matchesPattern(value: unknown, pattern: unknown): boolean {
  if (Array.isArray(pattern)) {
    return Array.isArray(value) && pattern.every((p: unknown) => value.some((v: unknown) => matchesPattern(v, p)));
  }
  if (isObject(pattern)) {
    return isObject(value) && Object.keys(pattern).every((k) => matchesPattern(own(value, k), pattern[k]));
  }
  return value === pattern;
}

/** `Patient/123`, `Patient/123/_history/2`, or an absolute URL ending in one of those. */
const LITERAL = /(?:^|\/)([A-Z][A-Za-z]{1,63})\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/**
 * The resource type a Reference points at, when it can be told without resolving it:
 * from `type`, a literal `Type/id`, or a `#id` contained resource. `urn:uuid:` (inside a
 * transaction Bundle) and identifier-only references give undefined.
 */
export function referencedType(reference: unknown, root: unknown): string | undefined {
  if (!isObject(reference)) return undefined;
  const type = own(reference, 'type');
  if (typeof type === 'string') return type;
  const ref = own(reference, 'reference');
  if (typeof ref !== 'string') return undefined;
  if (ref.startsWith('#')) {
    const contained = isObject(root) ? own(root, 'contained') : undefined;
    const match = Array.isArray(contained) ? contained.find((c: unknown) => isObject(c) && own(c, 'id') === ref.slice(1)) : undefined;
    const rt = isObject(match) ? own(match, 'resourceType') : undefined;
    return typeof rt === 'string' ? rt : undefined;
  }
  if (ref.startsWith('urn:')) return undefined;
  return LITERAL.exec(ref)?.[1];
}

/** Short JSON for a diagnostics message. */
export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 120)}...` : text;
}
