/**
 * REF^I14 (cancel patient referral) → which of the requester's cases to cancel: the referral id
 * it sent in RF1-6 of the REF^I12 (system from MSH-4, as for I12), and the reason from the notes.
 * The PID is not used to find the case: the referral id is the requester's own key.
 * @see HL7 v2.5.1 section 11.5.4 (REF^I14), mappings/README.md "Amend and cancel"
 */
import { inbound } from './conversions.ts';
import type { MappingIssue } from './mapping-engine.ts';
import type { V2Location, V2Message } from './v2-message.ts';

export type RefI14Result =
  | { ok: true; ref: { system: string; value: string; reason?: string }; locations: Map<string, V2Location> }
  | { ok: false; issues: MappingIssue[] };

export function refI14ToCancel(msg: V2Message): RefI14Result {
  const rf1 = msg.first('RF1');
  if (!rf1) return { ok: false, issues: [{ code: 100, text: 'Required segment RF1 is missing: RF1-6 names the referral to cancel', location: { segment: 'RF1', sequence: 1 } }] };
  const location: V2Location = { segment: 'RF1', sequence: rf1.sequence, field: 6, component: 1 };
  const value = rf1.get(6)?.trim();
  if (!value) return { ok: false, issues: [{ code: 101, text: 'RF1-6 (originating referral identifier) is required: the referral to cancel', location }] };
  const system = inbound.referralSystem({ value: msg.header.get(4) ?? '', label: 'MSH-4', timeZone: 'UTC' });
  const notes = msg.all('NTE').flatMap((n) => n.reps(3).map((r) => r.get(1) ?? '')).filter(Boolean).join('\n').trim();
  const reason = notes || rf1.get(10, 2) || undefined;
  const locations = new Map<string, V2Location>([['requestId', location], ['requestId.value', location]]);
  return { ok: true, ref: { system: (system.ok ? system.value : '') as string, value, reason }, locations };
}
