/** References as the domain compares them: "Type/id" keys, whatever form the reference was written in. */
import type { Reference } from 'fhir/r4.js';
import { referenceKey } from '../fhir/search-params.ts';

/** "Type/id" of a Reference (relative, absolute on this server, or versioned), or undefined. */
export function keyOf(ref: Reference | undefined, baseUrl?: string): string | undefined {
  return ref?.reference ? referenceKey(ref.reference, baseUrl) : undefined;
}

/** [type, id] of a reference key. */
export function splitKey(key: string): [string, string] {
  const [type, id] = key.split('/');
  return [type, id];
}
