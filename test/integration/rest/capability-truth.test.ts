/**
 * The CapabilityStatement against what the server does, on both backends with authentication on:
 * every interaction per type is tried, and a declared one refused (403/405) or a refused one
 * declared fails the test. Also `Task/$everything` and `_include:iterate`, the case in one call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, CapabilityStatement, Resource, Task } from 'fhir/r4.js';
import { backends } from '../../helpers/backends.ts';
import { caseTransaction } from '../../helpers/cases.ts';
import { organizationId } from '../../helpers/directory.ts';
import { expectValidR4 } from '../../helpers/r4.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const REQUESTER = { clientId: 'ra7-epr', organization: 'RA7' };
const PROVIDER = { clientId: 'rj1-epr', organization: 'RJ1' };
const STRANGER = { clientId: 'zz9-epr', organization: 'ZZ9' };
/** Refusals of an interaction: not allowed, not supported, or (for a path the server does not serve) not found. */
const REFUSED = new Set([403, 404, 405]);

describe.each(backends())('CapabilityStatement truth and the case in one call on %s', (backend) => {
  let server: TestServer;
  let taskId: string;
  const raw = async (path: string, init: RequestInit = {}, who = REQUESTER.clientId) =>
    fetch(`${server.fhir}${path}`, { ...init, headers: { 'content-type': 'application/fhir+json', ...(await server.clients[who].headers()), ...(init.headers as Record<string, string> | undefined) } });

  beforeAll(async () => {
    // Index the R4 definitions first: indexing blocks the process (the in-process server too) and a kept-alive socket may reset meanwhile.
    expectValidR4({ resourceType: 'Patient' });
    server = await startTestServer(backend, {}, { client: REQUESTER, clients: [PROVIDER, STRANGER], directory: [{ ods: 'RA7', name: 'Requesting Trust' }, { ods: 'RJ1', name: 'Providing Trust' }] });
    const h = await server.authHeaders();
    const res = await raw('', { method: 'POST', body: JSON.stringify(caseTransaction(await organizationId(server.fhir, 'RA7', h), await organizationId(server.fhir, 'RJ1', h))) });
    expect(res.status).toBe(200);
    const out = (await res.json()) as Bundle;
    taskId = out.entry!.map((e) => e.response!.location!).find((l) => l.includes('/Task/'))!.split('/Task/')[1].split('/')[0];
  });
  afterAll(async () => server.stop());

  it('when every interaction of every type is tried, then what is declared is done and what is refused is not declared', async () => {
    const cs = (await (await raw('/metadata')).json()) as CapabilityStatement;
    const problems: string[] = [];
    for (const res of cs.rest![0].resource!) {
      const type = res.type;
      const declared = new Set(res.interaction?.map((i) => i.code));
      const verdict = (code: string, status: number) => {
        if (declared.has(code as never) && REFUSED.has(status)) problems.push(`${type} ${code}: declared but refused (${status})`);
        if (!declared.has(code as never) && !REFUSED.has(status)) problems.push(`${type} ${code}: not declared but answered ${status}`);
      };
      const search = await raw(`/${type}`);
      verdict('search-type', search.status);
      // An organisation may change only its own directory entry: try that one.
      const own = type === 'Organization' ? `?identifier=https://fhir.nhs.uk/Id/ods-organization-code|${REQUESTER.organization}` : '';
      const found = search.status === 200 ? ((await (await raw(`/${type}${own}`)).json()) as Bundle).entry?.[0]?.resource : undefined;
      verdict('create', (await raw(`/${type}`, { method: 'POST', body: JSON.stringify({ resourceType: type }) })).status);
      if (!found) continue; // nothing of this type to read or change in this case
      verdict('read', (await raw(`/${type}/${found.id}`)).status);
      verdict('vread', (await raw(`/${type}/${found.id}/_history/${found.meta?.versionId}`)).status);
      verdict('history-instance', (await raw(`/${type}/${found.id}/_history`)).status);
      verdict('update', (await raw(`/${type}/${found.id}`, { method: 'PUT', body: JSON.stringify(found) })).status);
      verdict('patch', (await raw(`/${type}/${found.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json-patch+json' }, body: '[]' })).status);
    }
    expect(problems).toEqual([]);
    for (const type of ['AuditEvent', 'Provenance']) {
      const res = cs.rest![0].resource!.find((r) => r.type === type)!;
      expect(res.interaction?.map((i) => i.code).sort(), type).toEqual(['history-instance', 'read', 'search-type', 'vread']);
    }
    expect(cs.rest![0].resource!.find((r) => r.type === 'Patient')).toMatchObject({ updateCreate: false, conditionalUpdate: true, conditionalRead: 'full-support' });
  });

  it('when an integration engine asks Task/$everything, then it gets the case it may see, paged; a stranger gets 404', async () => {
    const all = (await (await raw(`/Task/${taskId}/$everything`, {}, PROVIDER.clientId)).json()) as Bundle;
    expectValidR4(all);
    const types = new Set(all.entry!.map((e) => e.resource!.resourceType));
    for (const t of ['Task', 'ServiceRequest', 'Patient', 'Provenance']) expect(types, t).toContain(t);
    expect(all.entry![0].resource!.id).toBe(taskId);
    const seen: string[] = [];
    let url: string | undefined = `/Task/${taskId}/$everything?_count=2`;
    for (let i = 0; url && i < 100; i++) {
      const page = (await (await raw(url, {}, PROVIDER.clientId)).json()) as Bundle;
      seen.push(...page.entry!.map((e) => `${e.resource!.resourceType}/${e.resource!.id}`));
      url = page.link?.find((l) => l.relation === 'next')?.url.slice(server.fhir.length);
    }
    expect(seen).toEqual(all.entry!.map((e) => `${e.resource!.resourceType}/${e.resource!.id}`));
    expect((await raw(`/Task/${taskId}/$everything`, {}, STRANGER.clientId)).status).toBe(404);
    expect((await raw(`/Task/${taskId}/$everything?_count=x`, {}, PROVIDER.clientId)).status).toBe(400);
  });

  it('when _include:iterate follows Task → ServiceRequest → Patient, then one search returns the chain; without :iterate it stops at the first step', async () => {
    const get = async (q: string) => ((await (await raw(`/Task?_id=${taskId}&${q}`)).json()) as Bundle).entry!.map((e) => (e.resource as Resource).resourceType);
    expect((await get('_include=Task:focus&_include:iterate=ServiceRequest:patient')).sort()).toEqual(['Patient', 'ServiceRequest', 'Task']);
    expect((await get('_include=Task:focus&_include=ServiceRequest:patient')).sort()).toEqual(['ServiceRequest', 'Task']);
    const task = ((await (await raw(`/Task/${taskId}`)).json()) as Task);
    const rev = await (await raw(`/Patient?_id=${task.for!.reference!.split('/')[1]}&_revinclude=Task:patient&_revinclude:iterate=Provenance:target`)).json() as Bundle;
    expect(new Set(rev.entry!.map((e) => e.resource!.resourceType))).toEqual(new Set(['Patient', 'Task', 'Provenance']));
  });
});
