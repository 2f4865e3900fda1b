/**
 * The directory rule: tenancy and independence are worked out from Organization.partOf and ODS
 * codes, so the directory is administered: an organisation changes only its own entry's name and
 * contact details; nobody adds, re-parents or re-codes an organisation to get around independence
 * or redirect access (test/integration/security/directory-admin.test.ts has the rest).
 */
import type { Bundle, Organization } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { startEsoServer, type EsoServer } from './harness.ts';

describe.each(backends())('the directory on %s', (backend) => {
  let s: EsoServer;
  beforeAll(async () => { s = await startEsoServer(backend); });
  afterAll(async () => { await s?.stop(); });

  const read = async (id: string) => (await s.as.requester.get<Organization>(`/fhir/Organization/${id}`)).body;

  it('when the requester moves the provider team under its own Trust, then 403 and the entry is unchanged', async () => {
    const team = await read(s.orgIds.RZ2NP);
    const res = await s.as.requester.put(`/fhir/Organization/${team.id}`, { ...team, partOf: { reference: `Organization/${s.orgIds.RZ1}` } });
    expect(res.status).toBe(403);
    expect((await read(team.id!)).partOf?.reference).toBe(`Organization/${s.orgIds.RZ2}`);
  });

  it('when an organisation updates its own entry\'s contact details, then it is saved', async () => {
    const own = await read(s.orgIds.RZ2NP);
    const res = await s.as.provider.put(`/fhir/Organization/${own.id}`, { ...own, telecom: [{ system: 'phone', value: '0191 496 0000' }] });
    expect(res.status).toBe(200);
    const saved = await read(own.id!);
    expect(saved.telecom).toEqual([{ system: 'phone', value: '0191 496 0000' }]);
    expect(saved.meta?.versionId).not.toBe(own.meta?.versionId);
    // Only the contact details changed: name, codes and place in the directory are as they were.
    expect(saved).toMatchObject({ name: own.name, identifier: own.identifier, partOf: own.partOf });
  });

  it('when a Trust updates a team below it, then 403: each organisation keeps its own entry', async () => {
    const team = await read(s.orgIds.RZ2NP);
    const res = await s.as.providerTrust.put(`/fhir/Organization/${team.id}`, { ...team, name: 'Paediatric Neurology (North)' });
    expect(res.status).toBe(403);
    expect((await read(team.id!)).name).toBe(team.name);
  });

  it('when a team updates its Trust, then 403', async () => {
    const trust = await read(s.orgIds.RZ2);
    expect((await s.as.provider.put(`/fhir/Organization/${trust.id}`, { ...trust, alias: ['x'] })).status).toBe(403);
  });

  it('when an organisation changes its own ODS code, then 422', async () => {
    const own = await read(s.orgIds.RZ2NP);
    const res = await s.as.provider.put(`/fhir/Organization/${own.id}`, { ...own, identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'RZ2XX' }] });
    expect(res.status).toBe(422);
  });

  it('when a client adds a new organisation, then 403 and nothing is stored: the operator adds organisations', async () => {
    const org = { resourceType: 'Organization', name: 'New Team', identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'RZ7AB' }] };
    expect((await s.as.stranger.post('/fhir/Organization', org)).status).toBe(403);
    expect((await s.as.requester.post('/fhir/Organization', org)).status).toBe(403);
    const found = await s.as.requester.get<Bundle>('/fhir/Organization?identifier=https://fhir.nhs.uk/Id/ods-organization-code|RZ7AB');
    expect(found.body.entry ?? []).toHaveLength(0);
  });

  it('when a PractitionerRole at another organisation is changed, then 403; its own organisation may change it', async () => {
    const role = { resourceType: 'PractitionerRole', active: true, organization: { reference: `Organization/${s.orgIds.RZ2NP}` } };
    const created = await s.as.requester.post<{ id: string }>('/fhir/PractitionerRole', role);
    expect(created.status).toBe(201); // a referral names the provider's specialist
    const readRole = async () => (await s.as.provider.get<{ active?: boolean }>(`/fhir/PractitionerRole/${created.body.id}`)).body;
    expect((await s.as.requester.put(`/fhir/PractitionerRole/${created.body.id}`, { ...role, id: created.body.id, active: false })).status).toBe(403);
    expect((await readRole()).active).toBe(true);
    expect((await s.as.provider.put(`/fhir/PractitionerRole/${created.body.id}`, { ...role, id: created.body.id, active: false })).status).toBe(200);
    expect((await readRole()).active).toBe(false);
  });
});
