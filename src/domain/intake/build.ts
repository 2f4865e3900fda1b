/**
 * The FHIR resources of a new ESO case, built from the checked input (pure: ids, references and
 * "now" are passed in). docs/DESIGN.md "FHIR R4 mapping"; profiles/ (eso-servicerequest, eso-task,
 * eso-consent) define what each must carry.
 */
import type { Binary, CodeableConcept, Condition, Consent, ContactPoint, DocumentReference, Extension, HumanName, Identifier, Patient, Practitioner,
  PractitionerRole, Reference, RelatedPerson, ServiceRequest, Task } from 'fhir/r4.js';
import { Profiles } from '../../fhir/eso-urls.ts';
import { gmcIdentifier, nhsNumberIdentifier } from '../../fhir/uk-core.ts';
import { CONSENT_CATEGORY, ConsentAction, esoCoding, Extensions, ParticipationType, Systems } from '../codes.ts';
import type { EsoRequestInput } from '../eso-request-input.ts';
import { defaultDue } from '../rules/task.ts';

type Clinician = EsoRequestInput['requester']['consultant'];
type Parent = EsoRequestInput['parents'][number];

/** Ids assigned before anything is written, so the resources can reference each other. */
export interface CaseIds {
  serviceRequest: string;
  task: string;
  consent: string;
  /** Per record: its DocumentReference and, for inline data, its Binary. */
  records: { doc: string; binary?: string }[];
  conditions: string[];
}

/** What intake found or created in the directory before building the case. */
export interface CaseParties {
  patient: Reference;
  requesterOrg: Reference;
  providerOrg: Reference;
  consultant: Reference;
  advocate?: Reference;
  specialist?: Reference;
  /** RelatedPerson references, in the order of `input.parents`. */
  parents: Reference[];
}

const ref = (type: string, id: string, display?: string): Reference => (display ? { reference: `${type}/${id}`, display } : { reference: `${type}/${id}` });

export function humanName(n: Clinician['name'], use?: HumanName['use']): HumanName {
  const name: HumanName = { family: n.family };
  if (use) name.use = use;
  if (n.given?.length) name.given = n.given;
  if (n.prefix?.length) name.prefix = n.prefix;
  return name;
}

/** "Dr Ada Brown" */
export function nameText(n: Clinician['name']): string {
  return [...(n.prefix ?? []), ...(n.given ?? []), n.family].join(' ');
}

const telecom = (t: { system: 'phone' | 'email'; value: string }[] | undefined): ContactPoint[] | undefined => (t?.length ? t.map((x) => ({ system: x.system, value: x.value })) : undefined);

export function buildPatient(input: EsoRequestInput, managingOrg: Reference): Patient {
  const p: Patient = {
    resourceType: 'Patient',
    identifier: [nhsNumberIdentifier(input.child.nhsNumber), ...otherIdentifiers(input)],
    name: [humanName(input.child.name, 'official'), ...(input.child.otherNames ?? []).map((n) => humanName(n, n.use))],
    birthDate: input.child.birthDate,
    managingOrganization: managingOrg,
  };
  if (input.child.gender) p.gender = input.child.gender;
  return p;
}

/** The sender's other identifiers for the child (the NHS number is the first identifier already). */
function otherIdentifiers(input: EsoRequestInput): Identifier[] {
  const seen = new Set([`${Systems.nhsNumber}|${input.child.nhsNumber}`]);
  const out: Identifier[] = [];
  for (const i of input.child.identifiers ?? []) {
    if (seen.has(`${i.system}|${i.value}`)) continue;
    seen.add(`${i.system}|${i.value}`);
    const id: Identifier = { system: i.system, value: i.value };
    if (i.type) id.type = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: i.type }] };
    if (i.assigner) id.assigner = { display: i.assigner };
    out.push(id);
  }
  return out;
}

/** HL7 v2 table 0063 display names, and the v3 RoleCode each corresponds to. */
const RELATIONSHIPS: Record<string, { display: string; v3?: [string, string] }> = {
  MTH: { display: 'Mother', v3: ['MTH', 'mother'] }, FTH: { display: 'Father', v3: ['FTH', 'father'] },
  PAR: { display: 'Parent', v3: ['PRN', 'parent'] }, GRD: { display: 'Guardian', v3: ['GUARD', 'guardian'] },
  GRP: { display: 'Grandparent', v3: ['GRPRN', 'grandparent'] }, SIB: { display: 'Sibling', v3: ['SIB', 'sibling'] },
  BRO: { display: 'Brother', v3: ['BRO', 'brother'] }, SIS: { display: 'Sister', v3: ['SIS', 'sister'] },
  SPO: { display: 'Spouse', v3: ['SPS', 'spouse'] }, DOM: { display: 'Life partner', v3: ['DOMPART', 'domestic partner'] },
  EXF: { display: 'Extended family', v3: ['EXT', 'extended family member'] }, CGV: { display: 'Care giver' },
  FND: { display: 'Friend', v3: ['FRND', 'unrelated friend'] }, OTH: { display: 'Other' }, UNK: { display: 'Unknown' },
};

/** RelatedPerson.relationship: table 0063, the v3 RoleCode, and RESPRSN for parental responsibility. */
export function relationshipCodes(code: string, parentalResponsibility: boolean, text?: string): CodeableConcept[] {
  const known = RELATIONSHIPS[code];
  const v2: CodeableConcept = { coding: [{ system: Systems.v2RelationshipTable0063, code, ...(known ? { display: known.display } : {}) }] };
  // The sender's own words are kept: "Grandmother" sent as free text stays on the UNK coding.
  if (text) v2.text = text;
  const out = [v2];
  // A guardian is legally responsible: say so only when the input says so.
  if (known?.v3 && (known.v3[0] !== 'GUARD' || parentalResponsibility)) out.push({ coding: [{ system: Systems.roleCode, code: known.v3[0], display: known.v3[1] }] });
  if (parentalResponsibility) out.push({ coding: [{ system: Systems.roleCode, code: 'RESPRSN', display: 'responsible party' }], text: 'Parental responsibility' });
  return out;
}

export function buildRelatedPerson(parent: Parent, patient: Reference): RelatedPerson {
  const rp: RelatedPerson = {
    resourceType: 'RelatedPerson',
    active: true,
    patient,
    relationship: relationshipCodes(parent.relationship, parent.parentalResponsibility, parent.relationshipText),
    name: [humanName(parent.name)],
  };
  const t = telecom(parent.telecom);
  if (t) rp.telecom = t;
  return rp;
}

export function buildPractitioner(c: Clinician): Practitioner {
  const p: Practitioner = { resourceType: 'Practitioner', active: true, name: [humanName(c.name)] };
  if (c.gmc) p.identifier = [gmcIdentifier(c.gmc)];
  const t = telecom(c.telecom);
  if (t) p.telecom = t;
  return p;
}

/** A clinician's role at an organisation; `role` is plain text (no verified code exists). */
export function buildRole(practitioner: Reference, organization: Reference, role: string): PractitionerRole {
  return { resourceType: 'PractitionerRole', active: true, practitioner, organization, code: [{ text: role }] };
}

export function buildConditions(input: EsoRequestInput, ids: CaseIds, patient: Reference, now: string): Condition[] {
  return (input.reason.codes ?? []).map((c, i) => ({
    resourceType: 'Condition',
    id: ids.conditions[i],
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    code: { coding: [{ system: c.system, code: c.code, ...(c.display ? { display: c.display } : {}) }], ...(c.display ? { text: c.display } : {}) },
    subject: patient,
    recordedDate: now,
  }));
}

function questionExtension(q: EsoRequestInput['questions'][number], i: number): Extension {
  return {
    url: Extensions.question,
    extension: [
      { url: 'text', valueString: q.text },
      { url: 'askedBy', valueCoding: esoCoding(q.askedBy) },
      { url: 'linkId', valueString: `q${i + 1}` },
    ],
  };
}

export function buildServiceRequest(input: EsoRequestInput, ids: CaseIds, parties: CaseParties, authoredOn: string): ServiceRequest {
  const extension: Extension[] = input.questions.map(questionExtension);
  if (input.familyStatement) extension.push({ url: Extensions.familyStatement, valueString: input.familyStatement });
  if (input.reviewKind) extension.push({ url: Extensions.reviewKind, valueCoding: esoCoding(input.reviewKind) });
  const sr: ServiceRequest = {
    resourceType: 'ServiceRequest',
    id: ids.serviceRequest,
    meta: { profile: [Profiles.serviceRequest] },
    extension,
    identifier: [{ system: input.requestId.system ?? Systems.esoRequestId, value: input.requestId.value }],
    status: 'active',
    intent: 'order',
    priority: input.urgency,
    code: { coding: [esoCoding('external-second-opinion')], text: 'External second opinion' },
    subject: parties.patient,
    authoredOn,
    requester: parties.consultant,
    performer: [parties.providerOrg, ...(parties.specialist ? [parties.specialist] : [])],
    reasonCode: [{ ...(input.reason.codes?.length ? { coding: input.reason.codes.map((c) => ({ ...c })) } : {}), text: input.reason.text }],
  };
  if (ids.conditions.length) sr.reasonReference = ids.conditions.map((id) => ref('Condition', id));
  if (ids.records.length) sr.supportingInfo = ids.records.map((r, i) => ref('DocumentReference', r.doc, input.records[i].title));
  const notes = [input.clinicalSummary, input.provider.recommendedBy && `Provider recommended by ${input.provider.recommendedBy}`].filter((n): n is string => !!n);
  if (notes.length) sr.note = notes.map((text) => ({ text }));
  return sr;
}

/** Shared records: a DocumentReference each, plus a Binary for inline (base64) data. */
export function buildRecords(input: EsoRequestInput, ids: CaseIds, parties: CaseParties, now: string): { doc: DocumentReference; binary?: Binary }[] {
  return input.records.map((r, i) => {
    const id = ids.records[i];
    const doc: DocumentReference = {
      resourceType: 'DocumentReference',
      id: id.doc,
      status: 'current',
      subject: parties.patient,
      date: now,
      author: [parties.requesterOrg],
      custodian: parties.requesterOrg,
      description: r.title,
      content: [{ attachment: { contentType: r.contentType, url: id.binary ? `Binary/${id.binary}` : r.url, title: r.title } }],
      context: { related: [ref('ServiceRequest', ids.serviceRequest)] },
    };
    const binary: Binary | undefined = id.binary && r.data
      ? { resourceType: 'Binary', id: id.binary, contentType: r.contentType, securityContext: ref('DocumentReference', id.doc), data: r.data.replace(/\s+/g, '') }
      : undefined;
    return binary ? { doc, binary } : { doc };
  });
}

export function buildConsent(input: EsoRequestInput, ids: CaseIds, parties: CaseParties): Consent | undefined {
  const c = input.consent;
  if (!c) return undefined;
  const performer = 'parent' in c.givenBy ? parties.parents[c.givenBy.parent] : parties.patient;
  const consent: Consent = {
    resourceType: 'Consent',
    id: ids.consent,
    meta: { profile: [Profiles.consent] },
    status: 'active',
    scope: { coding: [{ system: Systems.consentScope, code: 'patient-privacy' }] },
    category: [CONSENT_CATEGORY],
    patient: parties.patient,
    dateTime: c.dateTime,
    performer: [performer],
    organization: [parties.requesterOrg],
    policyRule: { text: 'Explicit consent to share records with the chosen provider for an external second opinion' },
    provision: {
      type: 'permit',
      period: { start: c.dateTime, end: c.until },
      actor: [{ role: { coding: [{ system: ParticipationType, code: 'IRCP', display: 'information recipient' }] }, reference: parties.providerOrg }],
      action: [{ coding: [{ system: ConsentAction, code: 'disclose' }] }],
    },
  };
  // The request itself ('related': records attached to it) ties the consent to this case; the
  // records listed ('instance') are those shared now.
  consent.provision!.data = [
    { meaning: 'related', reference: ref('ServiceRequest', ids.serviceRequest) },
    ...ids.records.map((r) => ({ meaning: 'instance' as const, reference: ref('DocumentReference', r.doc) })),
  ];
  return consent;
}

/** The due date: the given day (its end, UTC), or the default for urgent requests. */
export function dueOf(input: EsoRequestInput, authoredOn: string): string | undefined {
  return input.dueDate ? `${input.dueDate}T23:59:59Z` : defaultDue(input.urgency, authoredOn);
}

export function buildTask(input: EsoRequestInput, ids: CaseIds, parties: CaseParties, authoredOn: string): Task {
  const task: Task = {
    resourceType: 'Task',
    id: ids.task,
    meta: { profile: [Profiles.task] },
    identifier: [{ system: input.requestId.system ?? Systems.esoRequestId, value: input.requestId.value }],
    status: 'requested',
    businessStatus: { coding: [esoCoding(input.consent ? 'request-sent' : 'awaiting-consent')] },
    intent: 'order',
    priority: input.urgency,
    code: { coding: [{ system: Systems.taskCode, code: 'fulfill', display: 'Fulfill the focal request' }] },
    description: 'External second opinion',
    focus: ref('ServiceRequest', ids.serviceRequest),
    for: parties.patient,
    authoredOn,
    requester: parties.requesterOrg,
    owner: parties.providerOrg,
  };
  if (input.reviewKind) task.extension = [{ url: Extensions.reviewKind, valueCoding: esoCoding(input.reviewKind) }];
  const due = dueOf(input, authoredOn);
  if (due) task.restriction = { period: { end: due } };
  if (parties.advocate) task.input = [{ type: { text: 'family-advocate' }, valueReference: parties.advocate }];
  return task;
}
