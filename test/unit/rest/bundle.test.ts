/** transaction and batch Bundles (rest/bundle.ts) against a fake repository: urn:uuid rewrite, deep nesting, __proto__ as data. */
import type { Bundle, BundleEntry, Resource, Task } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { processBundle } from '../../../src/rest/bundle.ts';
import type { FhirContext, FhirRequest, FhirResponse } from '../../../src/rest/types.ts';
import { badRequest, isOutcomeError } from '../../../src/shared/outcomes.ts';

function fakeContext() {
  const created: Resource[] = [];
  const repo = {
    inTx: <T>(fn: (r: unknown) => Promise<T>) => fn(repo),
    async create(resource: Resource, opts: { assignedId?: string }) {
      const stored = { ...resource, id: opts.assignedId };
      created.push(stored);
      return { stored: { resource: stored, versionId: 1, lastUpdated: '2026-01-01T00:00:00.000Z' }, created: true };
    },
  };
  const ctx = { repo, baseUrl: 'http://h', capabilities: () => ({}) } as unknown as FhirContext;
  return { ctx, created };
}

const transaction = (entry: BundleEntry[]): Bundle => ({ resourceType: 'Bundle', type: 'transaction', entry });
const post = (type: string, resource: unknown, fullUrl?: string): BundleEntry =>
  ({ ...(fullUrl ? { fullUrl } : {}), resource: resource as Resource, request: { method: 'POST', url: type } });

const noDispatch = async (): Promise<FhirResponse> => { throw new Error('not expected'); };

describe('processBundle', () => {
  it('when a transaction entry references another by urn:uuid, then the reference becomes Type/id of the id assigned', async () => {
    const { ctx, created } = fakeContext();
    const patientUrn = 'urn:uuid:11111111-1111-4111-8111-111111111111';
    const res = await processBundle(ctx, transaction([
      post('Task', { resourceType: 'Task', for: { reference: patientUrn }, owner: { reference: 'Organization/x' }, note: [{ text: patientUrn }] }),
      post('Patient', { resourceType: 'Patient' }, patientUrn),
    ]), false, noDispatch);
    const patient = created.find((r) => r.resourceType === 'Patient')!;
    const task = created.find((r) => r.resourceType === 'Task') as Record<string, any>;
    expect(task.for.reference).toBe(`Patient/${patient.id}`);
    expect(task.owner.reference).toBe('Organization/x'); // not a urn: untouched
    expect(task.note[0].text).toBe(patientUrn); // only `reference` values are rewritten
    const entries = (res.resource as Bundle).entry!;
    expect((res.resource as Bundle).type).toBe('transaction-response');
    expect(entries.map((e) => e.response?.status)).toEqual(['201', '201']);
    expect(entries[1].response?.location).toBe(`http://h/fhir/Patient/${patient.id}/_history/1`);
  });

  it('when a PUT entry references a POSTed one by urn:uuid, then the dispatched body carries the rewritten reference', async () => {
    const { ctx, created } = fakeContext();
    const seen: FhirRequest[] = [];
    const urn = 'urn:uuid:22222222-2222-4222-8222-222222222222';
    await processBundle(ctx, transaction([
      { resource: { resourceType: 'Task', id: 't1', status: 'requested', intent: 'order', focus: { reference: urn } } as Task, request: { method: 'PUT', url: 'Task/t1' } },
      post('ServiceRequest', { resourceType: 'ServiceRequest' }, urn),
    ]), true, async (_c, req) => { seen.push(req); return { status: 200 }; });
    expect(seen).toHaveLength(1);
    expect(seen[0].path).toEqual(['Task', 't1']);
    expect((seen[0].body as Record<string, any>).focus.reference).toBe(`ServiceRequest/${created[0].id}`);
  });

  it('when a resource is nested tens of thousands of levels deep, then the rewrite completes without overflowing the stack', async () => {
    const { ctx, created } = fakeContext();
    const urn = 'urn:uuid:33333333-3333-4333-8333-333333333333';
    const depth = 50_000;
    let inner: Record<string, unknown> = { reference: urn };
    for (let i = 0; i < depth; i++) inner = { extension: [inner] };
    await processBundle(ctx, transaction([post('Patient', { resourceType: 'Patient', ...inner }), post('Organization', { resourceType: 'Organization' }, urn)]), false, noDispatch);
    const org = created.find((r) => r.resourceType === 'Organization')!;
    let at: any = created.find((r) => r.resourceType === 'Patient');
    let levels = 0;
    while (at.extension) { at = at.extension[0]; levels++; }
    expect(levels).toBe(depth);
    expect(at.reference).toBe(`Organization/${org.id}`);
  });

  it('when a resource holds a "__proto__" key from JSON, then it stays a plain data key and no prototype changes', async () => {
    const { ctx, created } = fakeContext();
    const body = JSON.parse('{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","extension":[{"url":"x","__proto__":{"polluted":true}}]}}]}');
    await processBundle(ctx, body, false, noDispatch);
    const ext = (created[0] as Record<string, any>).extension[0];
    expect(Object.hasOwn(ext, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(ext)).toBe(Object.prototype);
    expect(ext.polluted).toBeUndefined();
    expect(JSON.stringify(created[0])).toContain('"__proto__":{"polluted":true}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('when a transaction entry fails, then the whole bundle fails with the entry named in the outcome', async () => {
    const { ctx } = fakeContext();
    const err = await processBundle(ctx, transaction([
      post('Patient', { resourceType: 'Patient' }),
      { resource: { resourceType: 'Task' } as Resource, request: { method: 'PUT', url: 'Task/t1' } },
    ]), false, async () => { throw badRequest('bad status', 'Task.status'); }).catch((e: unknown) => e);
    expect(isOutcomeError(err) && err.status).toBe(400);
    expect(isOutcomeError(err) && err.outcome.issue[0]).toMatchObject({ diagnostics: 'Entry 1: bad status', expression: ['Bundle.entry[1].resource.status'] });
  });

  it('when a batch entry fails, then only that entry carries the error and the others still answer', async () => {
    const { ctx } = fakeContext();
    const res = await processBundle(ctx, { resourceType: 'Bundle', type: 'batch', entry: [
      { request: { method: 'GET', url: 'Task/ok' } },
      { request: { method: 'GET', url: 'Task/bad' } },
      { request: { method: 'GET', url: '' } },
    ] }, false, async (_c, req) => {
      if (req.path[1] === 'bad') throw badRequest('nope');
      return { status: 200, resource: { resourceType: 'Task', id: 'ok' } as Resource };
    });
    const entries = (res.resource as Bundle).entry!;
    expect((res.resource as Bundle).type).toBe('batch-response');
    expect(entries.map((e) => e.response?.status)).toEqual(['200', '400', '400']);
    expect(entries[1].response?.outcome).toMatchObject({ resourceType: 'OperationOutcome' });
  });

  it('when the body is not a transaction or batch Bundle, then it is refused with 400', async () => {
    const { ctx } = fakeContext();
    for (const body of [null, { resourceType: 'Patient' }, { resourceType: 'Bundle', type: 'collection' }, { resourceType: 'Bundle', type: 'batch', entry: Array.from({ length: 1001 }, () => ({})) }]) {
      const err = await processBundle(ctx, body, false, noDispatch).catch((e: unknown) => e);
      expect(isOutcomeError(err) && err.status).toBe(400);
    }
  });

  it('when a transaction POST does not name a supported type, then it is refused with 400 before anything is written', async () => {
    const { ctx, created } = fakeContext();
    const err = await processBundle(ctx, transaction([post('Patient', { resourceType: 'Patient' }), post('Nonsense', { resourceType: 'Nonsense' })]), false, noDispatch).catch((e: unknown) => e);
    expect(isOutcomeError(err) && err.status).toBe(400);
    expect(created).toEqual([]);
  });
});
