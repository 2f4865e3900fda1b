/**
 * Tenancy grants (docs/DESIGN.md "Security model": an organisation sees a case only as its requester
 * or its owner). For each written resource, the ODS codes of the case's organisations; the
 * Repository adds the acting organisation itself. Resources written before their case exists
 * (a Patient, a Condition, or Bundle entries in any order) are granted when the case is written.
 */
import type { Binary, Consent, DiagnosticReport, DocumentReference, Provenance, Reference, RelatedPerson, Resource, ServiceRequest, Task } from 'fhir/r4.js';
import { TENANT_SCOPED, type Repository } from '../fhir/repository.ts';
import type { ResourceType, StorageTx } from '../storage/types.ts';
import { odsOf, partiesOfRequest, partiesOfTask } from './case.ts';
import { splitKey } from './codes.ts';
import { orgOfRef } from './organization-tree.ts';
import { Reader } from './reader.ts';

/** Provenance -> Task -> ... is the longest chain; deeper means a reference loop. */
const MAX_DEPTH = 4;

async function refsOrgs(reader: Reader, refs: (Reference | undefined)[]): Promise<string[]> {
  return odsOf(await Promise.all(refs.map((r) => orgOfRef(reader, r))));
}

async function ofRequests(reader: Reader, refs: (Reference | undefined)[], depth: number): Promise<string[]> {
  const out: string[] = [];
  for (const ref of refs) {
    const sr = await reader.ref<ServiceRequest>(ref);
    if (sr?.resourceType === 'ServiceRequest') out.push(...(await caseOrgsOf(reader, sr, depth + 1)));
  }
  return out;
}

/** The ServiceRequests about a patient: a Patient or RelatedPerson belongs to all of them. */
async function ofPatient(reader: Reader, patientKey: string | undefined): Promise<string[]> {
  if (!patientKey?.startsWith('Patient/')) return [];
  const requests = await reader.search<ServiceRequest>('ServiceRequest', { patient: patientKey });
  const out: string[] = [];
  for (const sr of requests) out.push(...(await caseOrgsOf(reader, sr, MAX_DEPTH)));
  return out;
}

/** ODS codes of the organisations that may see `resource` besides the writer. */
export async function caseOrgsOf(reader: Reader, resource: Resource, depth = 0): Promise<string[]> {
  if (depth > MAX_DEPTH) return [];
  let orgs: string[] = [];
  switch (resource.resourceType) {
    case 'Task': {
      const p = await partiesOfTask(reader, resource as Task);
      orgs = odsOf([p.requester, p.owner]);
      break;
    }
    case 'ServiceRequest': {
      const p = await partiesOfRequest(reader, resource as ServiceRequest);
      orgs = odsOf([p.requester, ...p.performers]);
      break;
    }
    case 'Consent': {
      const c = resource as Consent;
      orgs = await refsOrgs(reader, [...(c.organization ?? []), ...(c.provision?.actor ?? []).map((a) => a.reference)]);
      break;
    }
    case 'DocumentReference': {
      const d = resource as DocumentReference;
      orgs = [...(await refsOrgs(reader, [d.custodian, ...(d.author ?? [])])), ...(await ofRequests(reader, d.context?.related ?? [], depth))];
      break;
    }
    case 'Binary': {
      const context = await reader.ref((resource as Binary).securityContext);
      orgs = context ? await caseOrgsOf(reader, context, depth + 1) : [];
      break;
    }
    case 'DiagnosticReport': {
      const r = resource as DiagnosticReport;
      orgs = [...(await refsOrgs(reader, r.performer ?? [])), ...(await ofRequests(reader, r.basedOn ?? [], depth))];
      break;
    }
    case 'Provenance':
      for (const target of (resource as Provenance).target) {
        const found = await reader.ref(target);
        if (found) orgs.push(...(await caseOrgsOf(reader, found, depth + 1)));
      }
      break;
    case 'Patient':
      orgs = await ofPatient(reader, `Patient/${resource.id}`);
      break;
    case 'RelatedPerson':
      orgs = await ofPatient(reader, reader.key((resource as RelatedPerson).patient));
      break;
    default:
      // Condition: granted with its ServiceRequest (reasonReference), see grantCase.
      break;
  }
  return [...new Set(orgs)];
}

/**
 * DomainRules.grants: the case's organisations for a resource being written, following only
 * references the writer can see (a reference into another Trust's case grants nothing).
 */
export async function grantsFor(resource: Resource, repo: Repository, fresh = false): Promise<string[]> {
  if (!TENANT_SCOPED.has(resource.resourceType)) return [];
  // A Patient belongs to the requests that name it; none can name an id made a moment ago (they are granted it when written).
  if (fresh && resource.resourceType === 'Patient') return [];
  return caseOrgsOf(Reader.ofRepo(repo), resource);
}

/** Grants `orgs` the resource `key` names, when the deciding reader (the writer's view) sees it. */
async function grant(tx: StorageTx, reader: Reader, key: string | undefined, orgs: string[]): Promise<void> {
  if (!key || !orgs.length) return;
  const [type, id] = splitKey(key);
  if (!TENANT_SCOPED.has(type) || !(await reader.byKey(key))) return;
  await tx.grantAccess(type as ResourceType, id, orgs);
}

/**
 * Grants a case's organisations the resources around its ServiceRequest that may have been
 * written before it: the Patient, the family (RelatedPerson), reason Conditions, supporting
 * records and their Binaries. The consent gate still decides whether records are readable.
 */
export async function grantCase(tx: StorageTx, reader: Reader, sr: ServiceRequest, orgs: string[]): Promise<void> {
  if (!orgs.length) return;
  const srKey = `ServiceRequest/${sr.id}`;
  await grant(tx, reader, srKey, orgs);
  const patientKey = reader.key(sr.subject);
  await grant(tx, reader, patientKey, orgs);
  if (patientKey) for (const rp of await reader.search<RelatedPerson>('RelatedPerson', { patient: patientKey })) await grant(tx, reader, `RelatedPerson/${rp.id}`, orgs);
  for (const ref of sr.reasonReference ?? []) await grant(tx, reader, reader.key(ref), orgs);
  const records = new Set<string>((sr.supportingInfo ?? []).map((r) => reader.key(r)).filter((k): k is string => !!k));
  for (const d of await reader.search<DocumentReference>('DocumentReference', { related: srKey })) records.add(`DocumentReference/${d.id}`);
  for (const key of records) {
    await grant(tx, reader, key, orgs);
    const doc = key.startsWith('DocumentReference/') ? await reader.byKey<DocumentReference>(key) : undefined;
    for (const c of doc?.content ?? []) await grant(tx, reader, c.attachment.url ? reader.key({ reference: c.attachment.url }) : undefined, orgs);
  }
}
