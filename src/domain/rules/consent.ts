/**
 * Consent to share records (docs/DESIGN.md "The process" 5 and "Security model: Consent gate").
 * Rule 3: records reach the provider only while a Consent is active, names the provider as
 * provision.actor and `now` is inside provision.period; the consent is given by a parent/carer
 * with parental responsibility or by the young person. Withdrawal takes effect on the next request.
 */
import type { Consent, DocumentReference, Organization, Patient, Reference, RelatedPerson, ServiceRequest } from 'fhir/r4.js';
import type { Repository } from '../../fhir/repository.ts';
import { forbidden, unprocessable } from '../../shared/outcomes.ts';
import { actorOfRepo } from '../case.ts';
import { PARENTAL_RESPONSIBILITY_CODES, Systems } from '../codes.ts';
import { actsFor, orgOfRef } from '../organization-tree.ts';
import { Reader } from '../reader.ts';

/** True when a RelatedPerson is recorded as holding parental responsibility for the child. */
export function hasParentalResponsibility(rp: RelatedPerson): boolean {
  return (rp.relationship ?? []).some((cc) => cc.coding?.some((c) => c.system === Systems.roleCode && PARENTAL_RESPONSIBILITY_CODES.includes(c.code ?? '')));
}

/** True when `at` (epoch ms) is inside the period; open ends are open. */
export function inPeriod(period: { start?: string; end?: string } | undefined, at: number): boolean {
  if (!period) return false;
  if (period.start && Date.parse(period.start) > at) return false;
  if (period.end && Date.parse(period.end) < at) return false;
  return true;
}

/** The recipient organisations a Consent names (provision.actor). */
async function recipientsOf(reader: Reader, consent: Consent): Promise<Organization[]> {
  const out: Organization[] = [];
  for (const a of consent.provision?.actor ?? []) {
    const org = await orgOfRef(reader, a.reference);
    if (org) out.push(org);
  }
  return out;
}

async function actsForAny(reader: Reader, ods: string, orgs: Organization[]): Promise<boolean> {
  for (const o of orgs) if (await actsFor(reader, ods, o)) return true;
  return false;
}

/** Checks who gave the consent: the young person, or a RelatedPerson of theirs with parental responsibility. */
async function assertConsenter(reader: Reader, consent: Consent): Promise<void> {
  const patientKey = reader.key(consent.patient);
  const performers = consent.performer ?? [];
  const ok = performers.length > 0 && (await Promise.all(performers.map(async (p: Reference) => {
    const key = reader.key(p);
    if (key?.startsWith('Patient/')) return key === patientKey && !!(await reader.byKey<Patient>(key));
    if (!key?.startsWith('RelatedPerson/')) return false;
    const rp = await reader.byKey<RelatedPerson>(key);
    return !!rp && reader.key(rp.patient) === patientKey && hasParentalResponsibility(rp);
  }))).every(Boolean);
  if (!ok) {
    throw unprocessable('Consent to share records must be given by a parent or carer with parental responsibility (a RelatedPerson of the child) or by the young person (the Patient)', 'Consent.performer');
  }
}

/** A withdrawal (inactive) or a recorded refusal (rejected): statuses that stop sharing. */
const STOPS_SHARING = new Set<Consent['status']>(['inactive', 'rejected']);

/**
 * Withdrawal is never refused for what no longer holds about the consent (its consenter, its
 * period): only who withdraws it and which consent it is are checked.
 */
async function checkWithdrawal(next: Consent, previous: Consent | undefined, repo: Repository, reader: Reader): Promise<void> {
  if (previous && reader.key(previous.patient) !== reader.key(next.patient)) throw unprocessable('A consent cannot be moved to another patient', 'Consent.patient');
  const actor = actorOfRepo(repo);
  if (!actor) return;
  const holders = (await Promise.all(((previous ?? next).organization ?? []).map((o) => orgOfRef(reader, o)))).filter((o): o is Organization => !!o);
  if (!(await actsForAny(reader, actor.organization, holders))) throw forbidden('Only the organisation that holds the records may record or withdraw this consent');
}

/** Consent beforeWrite: who may consent, to whom, and who may record or change it. */
export async function checkConsentWrite(next: Consent, previous: Consent | undefined, repo: Repository): Promise<void> {
  const reader = Reader.ofRepo(repo);
  // A withdrawal, or a refusal recorded as a new Consent ('rejected'): never refused for the rest.
  if (previous && previous.status !== next.status && STOPS_SHARING.has(next.status)) return checkWithdrawal(next, previous, repo, reader);
  if (!previous && next.status === 'rejected') return checkWithdrawal(next, undefined, repo, reader);
  await assertConsenter(reader, next);
  const recipients = await recipientsOf(reader, next);
  if (!recipients.length) throw unprocessable('The consent must name the provider organisation that may receive the records (provision.actor)', 'Consent.provision.actor');
  const { start, end } = next.provision?.period ?? {};
  if (start && end && Date.parse(end) <= Date.parse(start)) throw unprocessable('The consent period must end after it starts', 'Consent.provision.period');
  if (previous) {
    if (reader.key(previous.patient) !== reader.key(next.patient)) throw unprocessable('A consent cannot be moved to another patient', 'Consent.patient');
    const before = (previous.provision?.actor ?? []).map((a) => reader.key(a.reference)).sort().join();
    const after = (next.provision?.actor ?? []).map((a) => reader.key(a.reference)).sort().join();
    if (before !== after) throw unprocessable('A consent cannot be redirected to another recipient: record a new Consent instead', 'Consent.provision.actor');
    if (previous.status === 'inactive' && next.status === 'active') throw unprocessable('A withdrawn consent cannot be reactivated: record a new Consent', 'Consent.status');
  }
  const actor = actorOfRepo(repo);
  if (!actor) return;
  // The recipient of records never records or changes the consent that lets it see them.
  if (await actsForAny(reader, actor.organization, recipients)) throw forbidden('The provider cannot record or change the consent that lets it receive records');
  const holders = (await Promise.all((next.organization ?? []).map((o) => orgOfRef(reader, o)))).filter((o): o is Organization => !!o);
  if (!holders.length) throw unprocessable('The consent must name the organisation that holds and shares the records (Consent.organization)', 'Consent.organization');
  if (!(await actsForAny(reader, actor.organization, holders))) throw forbidden('Only the organisation that holds the records may record or withdraw this consent');
}

/** The organisations that hold a record: its custodian and authors, and the requesters of its ServiceRequests. */
async function holdersOf(reader: Reader, doc: DocumentReference): Promise<Organization[]> {
  const out: Organization[] = [];
  for (const ref of [doc.custodian, ...(doc.author ?? [])]) {
    const org = await orgOfRef(reader, ref);
    if (org) out.push(org);
  }
  for (const ref of doc.context?.related ?? []) {
    const sr = await reader.ref<ServiceRequest>(ref);
    const org = sr?.resourceType === 'ServiceRequest' ? await orgOfRef(reader, sr.requester) : undefined;
    if (org) out.push(org);
  }
  return out;
}

/**
 * Whether a consent's provision.data covers a record: no data = all the child's records; a
 * DocumentReference = that record; a ServiceRequest = the records attached to that request
 * (DocumentReference.context.related), including ones added later.
 */
export function covers(reader: Reader, consent: Consent, doc: DocumentReference): boolean {
  const data = consent.provision?.data ?? [];
  if (!data.length) return true;
  const related = new Set((doc.context?.related ?? []).map((r) => reader.key(r)));
  return data.some((d) => {
    const key = reader.key(d.reference);
    return key === `DocumentReference/${doc.id}` || (!!key?.startsWith('ServiceRequest/') && related.has(key));
  });
}

/** True when an active Consent lets `ods` see `doc` at `at`. */
export async function consentAllows(reader: Reader, doc: DocumentReference, ods: string, at: number): Promise<boolean> {
  const patientKey = reader.key(doc.subject);
  if (!patientKey?.startsWith('Patient/')) return false;
  const holders = await holdersOf(reader, doc);
  for (const consent of await reader.search<Consent>('Consent', { patient: patientKey, status: 'active' })) {
    if (consent.status !== 'active' || consent.provision?.type !== 'permit' || !inPeriod(consent.provision.period, at)) continue;
    if (!(await actsForAny(reader, ods, await recipientsOf(reader, consent)))) continue;
    if (!covers(reader, consent, doc)) continue;
    const givenTo = (await Promise.all((consent.organization ?? []).map((o) => orgOfRef(reader, o)))).filter((o): o is Organization => !!o);
    if (givenTo.length && !givenTo.some((g) => holders.some((h) => h.id === g.id))) continue;
    return true;
  }
  return false;
}

/** True when `ods` acts for an organisation that holds the record (custodian, author, requester of its request). */
export async function holdsRecord(reader: Reader, ods: string, doc: DocumentReference): Promise<boolean> {
  return actsForAny(reader, ods, await holdersOf(reader, doc));
}
