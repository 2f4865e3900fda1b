/**
 * A requester's message Bundle (eso-request, eso-update) as the one ESO request shape intake and
 * amend take (domain/eso-request-input.ts): the receiver makes its own copies of the case from it,
 * linked to the sender's by the request identifier, never by server ids. The reverse of
 * domain/intake/build.ts; intake's own checks (zod schema, rules) then apply as to any way in.
 */
import type { Binary, Bundle, CodeableConcept, Consent, DocumentReference, HumanName, Patient, Practitioner, PractitionerRole, Reference, RelatedPerson, ServiceRequest, Task } from 'fhir/r4.js';
import { Extensions, PARENTAL_RESPONSIBILITY_CODES, questionsOf, Systems } from '../domain/codes.ts';
import type { EsoRequestInputRaw } from '../domain/eso-request-input.ts';
import { gmcNumberOf, nhsNumberOf, odsCodeOf } from '../fhir/uk-core.ts';
import { badRequest } from '../shared/outcomes.ts';
import { entriesOf, resolveIn } from './messages.ts';

const name = (n: HumanName | undefined) => ({ family: n?.family ?? '', ...(n?.given?.length ? { given: n.given } : {}), ...(n?.prefix?.length ? { prefix: n.prefix } : {}) });
const telecom = (t: { system?: string; value?: string }[] | undefined) => {
  const out = (t ?? []).filter((x) => (x.system === 'phone' || x.system === 'email') && x.value).map((x) => ({ system: x.system as 'phone' | 'email', value: x.value! }));
  return out.length ? { telecom: out } : {};
};

function clinician(bundle: Bundle, ref: Reference | undefined) {
  const role = resolveIn<PractitionerRole>(bundle, ref);
  const p = role?.resourceType === 'PractitionerRole' ? resolveIn<Practitioner>(bundle, role.practitioner) : undefined;
  if (!p) return undefined;
  const gmc = gmcNumberOf(p);
  return { name: name(p.name?.[0]), ...(gmc ? { gmc } : {}), ...telecom(p.telecom) };
}

const hasRole = (cc: CodeableConcept[] | undefined, codes: string[]) => (cc ?? []).some((c) => c.coding?.some((x) => x.system === Systems.roleCode && codes.includes(x.code ?? '')));

function parent(rp: RelatedPerson) {
  const v2 = (rp.relationship ?? []).find((c) => c.coding?.some((x) => x.system === Systems.v2RelationshipTable0063));
  return {
    name: name(rp.name?.[0]),
    relationship: v2?.coding?.find((x) => x.system === Systems.v2RelationshipTable0063)?.code ?? 'UNK',
    ...(v2?.text ? { relationshipText: v2.text } : {}),
    parentalResponsibility: hasRole(rp.relationship, PARENTAL_RESPONSIBILITY_CODES),
    ...telecom(rp.telecom),
  };
}

function record(bundle: Bundle, doc: DocumentReference) {
  const a = doc.content?.[0]?.attachment;
  const binary = a?.url?.startsWith('Binary/') ? resolveIn<Binary>(bundle, { reference: a.url }) : undefined;
  const title = doc.description ?? a?.title ?? 'Record';
  const contentType = a?.contentType ?? binary?.contentType ?? 'application/octet-stream';
  if (binary?.data) return { title, contentType, data: binary.data };
  if (a?.data) return { title, contentType, data: a.data };
  return { title, contentType, ...(a?.url && /^https?:/.test(a.url) ? { url: a.url } : {}) };
}

function ext(sr: ServiceRequest, url: string) {
  return sr.extension?.find((e) => e.url === url);
}

/** The request the message carries; 400 (expression = the Bundle path) when a part it needs is missing. */
export function requestInputOf(bundle: Bundle, sr: ServiceRequest): EsoRequestInputRaw {
  const task = entriesOf<Task>(bundle, 'Task')[0];
  const patient = resolveIn<Patient>(bundle, sr.subject);
  const requesterOds = task && resolveIn(bundle, task.requester) ? odsCodeOf(resolveIn(bundle, task.requester) as { identifier?: [] }) : undefined;
  const providerOds = task && resolveIn(bundle, task.owner) ? odsCodeOf(resolveIn(bundle, task.owner) as { identifier?: [] }) : undefined;
  if (!task || !patient || !requesterOds || !providerOds) throw badRequest('An eso-request or eso-update message carries the Task, its Patient and both Organizations (with ODS codes)', 'Bundle.entry');
  const ident = sr.identifier?.[0];
  const parents = entriesOf<RelatedPerson>(bundle, 'RelatedPerson');
  const consent = entriesOf<Consent>(bundle, 'Consent').find((c) => c.status === 'active');
  const performer = consent?.performer?.[0]?.reference?.split('/').slice(-2).join('/');
  const parentIndex = parents.findIndex((p) => `RelatedPerson/${p.id}` === performer);
  const notes = (sr.note ?? []).map((n) => n.text);
  const recommended = notes.find((n) => n.startsWith('Provider recommended by '));
  const summary = notes.find((n) => !n.startsWith('Provider recommended by '));
  const specialistRef = (sr.performer ?? []).find((p) => p.reference?.includes('PractitionerRole/'));
  const advocateRef = (task.input ?? []).find((i) => i.type?.text === 'family-advocate')?.valueReference;
  const reason = sr.reasonCode?.[0];
  const review = ext(sr, Extensions.reviewKind)?.valueCoding?.code;
  const due = task.restriction?.period?.end;
  const otherIds = (patient.identifier ?? []).filter((i) => i.system !== Systems.nhsNumber && i.system && i.value);
  const family = ext(sr, Extensions.familyStatement)?.valueString;
  return {
    requestId: { ...(ident?.system ? { system: ident.system } : {}), value: ident?.value ?? '' },
    child: {
      nhsNumber: nhsNumberOf(patient) ?? '',
      name: name(patient.name?.find((n) => n.use === 'official') ?? patient.name?.[0]),
      birthDate: patient.birthDate ?? '',
      ...(patient.gender ? { gender: patient.gender } : {}),
      ...(otherIds.length ? { identifiers: otherIds.map((i) => ({ system: i.system!, value: i.value! })) } : {}),
    },
    requester: { organization: requesterOds, consultant: clinician(bundle, sr.requester) ?? { name: { family: '' } } },
    ...(clinician(bundle, advocateRef) ? { familyAdvocate: clinician(bundle, advocateRef) } : {}),
    parents: parents.map(parent),
    provider: { organization: providerOds, ...(clinician(bundle, specialistRef) ? { specialist: clinician(bundle, specialistRef) } : {}),
      ...(recommended ? { recommendedBy: recommended.slice('Provider recommended by '.length) } : {}) },
    reason: { text: reason?.text ?? '', ...(reason?.coding?.length ? { codes: reason.coding.map((c) => ({ system: c.system ?? '', code: c.code ?? '', ...(c.display ? { display: c.display } : {}) })) } : {}) },
    ...(summary ? { clinicalSummary: summary } : {}),
    urgency: sr.priority ?? 'routine',
    ...(due ? { dueDate: due.slice(0, 10) } : {}),
    ...(sr.authoredOn ? { authoredOn: sr.authoredOn } : {}),
    ...(review ? { reviewKind: review as 'visit' } : {}),
    questions: questionsOf(sr).map((q) => ({ text: q.text, askedBy: (q.askedBy ?? 'treating-team') as 'family' })),
    ...(family ? { familyStatement: family } : {}),
    records: entriesOf<DocumentReference>(bundle, 'DocumentReference').map((d) => record(bundle, d)),
    ...(consent?.dateTime && consent.provision?.period?.end
      ? { consent: { givenBy: parentIndex >= 0 ? { parent: parentIndex } : { youngPerson: true as const }, dateTime: consent.dateTime, until: consent.provision.period.end } }
      : {}),
  } as EsoRequestInputRaw;
}
