/**
 * REF^I12 → EsoRequestInput: the mapping in mappings/REF_I12.to-request.json, the one derivation it
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
  /** Another mapping (tests); default mappings/REF_I12.to-request.json. */
  mapping?: InboundMapping;
}

/** Derivations named by REF_I12.to-request.json ("derive"). */
export const refI12Derivations: Record<string, Derivation> = {
  /**
   * The PID-5 names (child.names, each with its use): the legal one (name type L, read as
   * official) first as child.name, every other in child.otherNames.
   */
  legalNameFirst: (draft, msg) => {
    const child = (draft.child ?? {}) as Record<string, unknown>;
    const names = Array.isArray(child.names) ? (child.names as { use?: string }[]) : [];
    delete child.names;
    if (names.length === 0) return undefined;
    const types = msg.first('PID')?.reps(5).filter((r) => r.get(1)?.trim()).map((r) => (r.get(7) ?? '').trim().toUpperCase()) ?? [];
    let legal = types.indexOf('L');
    if (legal < 0) legal = Math.max(0, names.findIndex((n) => n.use === 'official'));
    const others = names.filter((_, i) => i !== legal);
    if (others.length > 0) child.otherNames = others;
    const { use: _use, ...name } = names[legal];
    return name;
  },
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
  const mapping = options.mapping ?? loadInboundMapping('REF_I12.to-request');
  const mapped = applyInbound(mapping, msg, { timeZone: options.timeZone, derivations: refI12Derivations });
  mapped.issues.push(...unnamedResponsibleKin(msg, mapping));
  if (mapped.issues.length > 0) return { ok: false, issues: mapped.issues };
  const pid5 = msg.first('PID');
  if (pid5) mapped.locations.set('child.name', { segment: 'PID', sequence: pid5.sequence, field: 5 });
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

/**
 * An NK1 without a name is skipped, unless its relationship gives parental responsibility:
 * consent is recorded in the name of who holds it, so that one NK1 is refused, precisely.
 */
function unnamedResponsibleKin(msg: V2Message, mapping: InboundMapping): MappingIssue[] {
  const responsible = mapping.vocabularies.parentalResponsibility?.map ?? {};
  return msg.all('NK1').flatMap((nk1) => {
    if (nk1.get(2)?.trim()) return [];
    const code = (nk1.get(3) ?? '').trim().toUpperCase();
    if (responsible[code] !== true) return [];
    return [{ code: 101 as const, text: `NK1-2 (name) is required for a next of kin with parental responsibility (${code}): consent is recorded in their name`, location: { segment: 'NK1', sequence: nk1.sequence, field: 2, component: 1 } }];
  });
}
