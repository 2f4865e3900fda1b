/**
 * Builds the FHIR message Bundle of a queued message when it is sent: the whole current state of
 * what the event is about. The case's records are read through a repository acting for the
 * peer's party, so the case-access chain (consent gate) decides which records travel: after a
 * withdrawal none does. Everything else is read as our own party of the case sees it (tenancy), never
 * as the system. https://hl7.org/fhir/R4/messageheader.html
 */
import { randomUUID } from 'node:crypto';
import type { Binary, Bundle, BundleEntry, Consent, MessageHeader, DocumentReference, Organization, Patient, Practitioner, PractitionerRole, Reference, RelatedPerson, Resource, ServiceRequest, Task } from 'fhir/r4.js';
import type { Repository } from '../fhir/repository.ts';
import { odsCodeOf } from '../fhir/uk-core.ts';
import { partiesOfTask } from '../domain/case.ts';
import type { Actor } from '../domain/ports.ts';
import { Reader } from '../domain/reader.ts';
import { notFound } from '../shared/outcomes.ts';
import { CORRELATION_EXTENSION, MESSAGE_EVENT_SYSTEM, odsRef, SENDER_SIDE, SEQUENCE_EXTENSION, type QueuedMessage } from './messages.ts';

export interface BuilderDeps {
  repoFor: (actor: Actor | undefined) => Repository;
  /** Our FHIR base (fullUrls, MessageHeader.source). */
  base: () => string;
}

/**
 * The case's parts the requester sends: child, family, clinicians, organisations, Consent (read as the
 * requester sees them: its own records of the child, never another Trust's) and the records the peer may see.
 */
async function requesterParts(sys: Reader, peer: Reader, task: Task, sr: ServiceRequest, parties: Organization[]): Promise<Resource[]> {
  const out: Resource[] = [...parties];
  const patient = await sys.ref<Patient>(task.for);
  if (patient) out.push(patient);
  if (patient) out.push(...(await sys.search<RelatedPerson>('RelatedPerson', { patient: `Patient/${patient.id}` })));
  const roleRefs: (Reference | undefined)[] = [sr.requester, ...(sr.performer ?? []), ...(task.input ?? []).map((i) => i.valueReference)];
  for (const ref of roleRefs) {
    const role = sys.key(ref)?.startsWith('PractitionerRole/') ? await sys.ref<PractitionerRole>(ref) : undefined;
    if (!role || out.some((r) => r.id === role.id && r.resourceType === 'PractitionerRole')) continue;
    out.push(role);
    const practitioner = await sys.ref<Practitioner>(role.practitioner);
    if (practitioner) out.push(practitioner);
  }
  const consents = patient ? await sys.search<Consent>('Consent', { patient: `Patient/${patient.id}` }) : [];
  const consent = consents.filter((c) => (c.provision?.data ?? []).some((d) => sys.key(d.reference) === `ServiceRequest/${sr.id}`)).at(-1);
  if (consent) out.push(consent);
  // The records as the provider may see them now: only under an active Consent naming it. Those the request
  // lists and those attached to it later (DocumentReference.context.related).
  const docs = [...(await Promise.all((sr.supportingInfo ?? []).map((ref) => peer.ref<DocumentReference>(ref)))),
    ...(await peer.search<DocumentReference>('DocumentReference', { related: `ServiceRequest/${sr.id}` }))];
  for (const doc of docs) {
    if (doc?.resourceType !== 'DocumentReference' || out.some((r) => r.resourceType === 'DocumentReference' && r.id === doc.id)) continue;
    out.push(doc);
    const url = doc.content?.[0]?.attachment?.url;
    const binary = url?.startsWith('Binary/') ? await peer.byKey<Binary>(url) : undefined;
    if (binary) out.push(binary);
  }
  return out;
}

/** The message Bundle for `q`; 404 when its Task is gone. */
export async function buildMessage(q: QueuedMessage, deps: BuilderDeps, destinationBase: string): Promise<Bundle> {
  const sys = Reader.ofSystem(deps.repoFor(undefined));
  const task = await sys.byKey<Task>(`Task/${q.taskId}`);
  const sr = task && (await sys.ref<ServiceRequest>(task.focus));
  if (!task || !sr) throw notFound(`Task/${q.taskId} is not known`);
  const { requester, owner } = await partiesOfTask(sys, task);
  const parties = [requester, owner].filter((o): o is Organization => !!o);
  const base = deps.base();
  const resources: Resource[] = [sr, task];
  // Each side reads as a party of the case (the chain decides), never as the system: no party, no message.
  const ods = (org: Organization | undefined) => org && odsCodeOf(org);
  const [ourOds, peerOds] = SENDER_SIDE[q.event] === 'requester' ? [ods(requester), ods(owner)] : [ods(owner), ods(requester)];
  if (!ourOds || !peerOds) throw notFound(`Task/${q.taskId}: a party of the case has no ODS code`);
  const ours = Reader.ofRepo(deps.repoFor({ organization: ourOds, agent: 'federation' }));
  if (SENDER_SIDE[q.event] === 'requester') {
    const peer = Reader.ofRepo(deps.repoFor({ organization: peerOds, agent: 'federation' }));
    resources.push(...(await requesterParts(ours, peer, task, sr, parties)));
  } else {
    resources.push(...parties);
    for (const o of task.output ?? []) {
      const report = await ours.ref(o.valueReference);
      if (report?.resourceType === 'DiagnosticReport') resources.push(report);
    }
  }
  const header: MessageHeader = {
    resourceType: 'MessageHeader',
    id: randomUUID(),
    extension: [{ url: SEQUENCE_EXTENSION, valuePositiveInt: q.sequence }, { url: CORRELATION_EXTENSION, valueString: q.correlationId }],
    eventCoding: { system: MESSAGE_EVENT_SYSTEM, code: q.event },
    destination: [{ endpoint: destinationBase, receiver: odsRef(q.destinationOds) }],
    sender: odsRef(q.senderOds),
    source: { name: 'eso-bridge', endpoint: base },
    focus: [{ reference: `ServiceRequest/${sr.id}` }],
  };
  const entry: BundleEntry[] = [header, ...resources].map((r) => ({ fullUrl: r.resourceType === 'MessageHeader' ? `urn:uuid:${r.id}` : `${base}/${r.resourceType}/${r.id}`, resource: r }));
  return { resourceType: 'Bundle', id: q.requestId, type: 'message', timestamp: new Date().toISOString(), entry };
}
