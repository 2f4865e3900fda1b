/**
 * REF^I12 → EsoRequestInput: the mapping in mappings/REF_I12.to-fhir.json, the one derivation it
 * names (who gave consent), and validation with the domain's own schema so that every content
 * problem is reported against a v2 location before intake is called.
 * @see mappings/README.md, HL7 v2.5.1 section 11.5 (REF/RRI)
 */
import { EsoRequestInput } from '../domain/eso-request-input.ts';
import { applyInbound, locateTarget, type Derivation, type MappingIssue } from './mapping-engine.ts';
import { loadInboundMapping, type InboundMapping } from './mapping-types.ts';
import type { V2Location, V2Message } from './v2-message.ts';

export type RefI12Result =
  | { ok: true; input: EsoRequestInput; locations: Map<string, V2Location> }
  | { ok: false; issues: MappingIssue[] };

export interface RefI12Options {
  /** Zone for timestamps sent without an offset (default Europe/London). */
  timeZone?: string;
  /** Another mapping (tests); default mappings/REF_I12.to-fhir.json. */
  mapping?: InboundMapping;
}

/** Derivations named by REF_I12.to-fhir.json ("derive"). */
export const refI12Derivations: Record<string, Derivation> = {
  /**
   * A REF^I12 from an EPR means the sending Trust recorded consent. The first parent with parental
   * responsibility gave it; without one (no NK1, or none with responsibility), the young person.
   */
  consentGivenBy: (draft) => {
    const parents = Array.isArray(draft.parents) ? (draft.parents as { parentalResponsibility?: boolean }[]) : [];
    const i = parents.findIndex((p) => p.parentalResponsibility === true);
    return i >= 0 ? { parent: i } : { youngPerson: true };
  },
};

/**
 * Maps a parsed REF^I12 to the ESO request, or to the content issues (table 0357 codes with
 * locations) that make it unacceptable. Does not check MSH (see v2-receiver.ts).
 */
export function refI12ToRequest(msg: V2Message, options: RefI12Options = {}): RefI12Result {
  const mapping = options.mapping ?? loadInboundMapping('REF_I12.to-fhir');
  const mapped = applyInbound(mapping, msg, { timeZone: options.timeZone, derivations: refI12Derivations });
  if (mapped.issues.length > 0) return { ok: false, issues: mapped.issues };
  const parsed = EsoRequestInput.safeParse(mapped.value);
  if (parsed.success) return { ok: true, input: parsed.data, locations: mapped.locations };
  return {
    ok: false,
    issues: parsed.error.issues.map((i) => {
      const target = i.path.map(String).join('.');
      const missing = i.code === 'invalid_type' && i.input === undefined;
      // zod's messages name the expectation, never the value, so they are safe to send back.
      return { code: missing ? 101 : 102, text: `${target || 'request'}: ${i.message}`, location: locateTarget(mapped.locations, target) };
    }),
  };
}
