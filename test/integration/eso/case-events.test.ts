/**
 * The domain wired over real storage, as src/server.ts wires it, with a recording CaseEventSink
 * and a settable clock: case events inside the transaction, and the consent gate over time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, DocumentReference, Organization, Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domainOperations, domainRules, type DomainOperations } from '../../../src/domain/index.ts';
import type { Actor, CaseEvent } from '../../../src/domain/ports.ts';
import { loadConformance } from '../../../src/fhir/conformance.ts';
import { Repository } from '../../../src/fhir/repository.ts';
import { openStorage } from '../../../src/storage/open.ts';
import type { Storage } from '../../../src/storage/types.ts';
import { declaration, fixture, report, requestInput, step } from './harness.ts';

const requester: Actor = { organization: 'RZ1', agent: 'rz1-epr' };
const provider: Actor = { organization: 'RZ2NP', agent: 'rz2np-eso' };

describe('ESO domain: case events and the consent clock', () => {
  let dir: string;
  let storage: Storage;
  let domain: DomainOperations;
  let repoFor: (a: Actor | undefined) => Repository;
  const events: CaseEvent[] = [];
  let failSink = false;
  let now = Date.now();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eso-domain-'));
    storage = await openStorage({ dataDir: dir });
    const { validate, searchParams } = loadConformance();
    const rules = domainRules({
      now: () => now,
      caseEvents: { async onCaseEvent(_tx, e) { if (failSink) throw new Error('outbox down'); events.push(e); } },
    });
    repoFor = (actor) => new Repository(storage, {
      baseUrl: 'http://eso.test/fhir', searchParams, validate, orgs: actor ? [actor.organization] : undefined, agent: actor?.agent,
      hooks: rules.hooks, grants: rules.grants, access: rules.access,
    });
    domain = domainOperations(repoFor);
    const ids: Record<string, string> = {};
    for (const e of fixture<Bundle>('organisations.json').entry!) {
      const org = { ...(e.resource as Organization) };
      if (org.partOf) org.partOf = { reference: ids[org.partOf.reference!] };
      ids[e.fullUrl!] = `Organization/${(await repoFor(undefined).create(org)).stored.resource.id}`;
    }
  });
  afterAll(async () => {
    await storage?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function move(actor: Actor, id: string, change: (t: Task) => void) {
    const repo = repoFor(actor);
    const t = structuredClone((await repo.read<Task>('Task', id)).resource);
    change(t);
    return repo.update(t);
  }

  it('when the provider accepts and completes a case, then the sink hears both inside the transaction, with the report and both ODS codes', async () => {
    const { task, serviceRequest: sr } = await domain.submit(requestInput(), requester);
    await move(provider, task.id!, (t) => { t.status = 'received'; t.businessStatus = step('received'); });
    await move(provider, task.id!, (t) => { t.status = 'accepted'; t.businessStatus = step('accepted'); t.extension = [declaration()]; });
    await move(provider, task.id!, (t) => { t.status = 'in-progress'; t.businessStatus = step('records-review'); });
    const dr = (await repoFor(provider).create(report(sr))).stored.resource;
    await move(provider, task.id!, (t) => {
      t.status = 'completed'; t.businessStatus = step('report-issued');
      t.output = [{ type: { text: 'ESO report' }, valueReference: { reference: `DiagnosticReport/${dr.id}` } }];
    });
    const mine = events.filter((e) => e.task.id === task.id);
    expect(mine.map((e) => e.kind)).toEqual(['accepted', 'completed']);
    expect(mine[1]).toMatchObject({ requesterOds: 'RZ1', providerOds: 'RZ2NP', report: { id: dr.id }, serviceRequest: { id: sr.id } });
    expect(mine[1].patient.identifier?.[0].value).toBe('9434765919');
  });

  it('when the sink fails, then the transition is rolled back with it', async () => {
    const { task } = await domain.submit(requestInput(), requester);
    failSink = true;
    try {
      await expect(move(requester, task.id!, (t) => { t.status = 'cancelled'; t.businessStatus = step('withdrawn'); })).rejects.toThrow('outbox down');
    } finally {
      failSink = false;
    }
    expect((await repoFor(requester).read<Task>('Task', task.id!)).resource.status).toBe('requested');
  });

  it('when the clock passes the end of the consent period, then the provider stops seeing the records on its next read', async () => {
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const { serviceRequest: sr } = await domain.submit(requestInput((r) => { r.consent.until = until; }), requester);
    const search = () => repoFor(provider).searchParams('DocumentReference', { related: [`ServiceRequest/${sr.id}`] }, 10);
    expect((await search()).resources).toHaveLength(2);
    now = Date.parse(until) + 1000;
    try {
      expect((await search()).resources).toHaveLength(0);
      const doc = (await repoFor(requester).searchParams('DocumentReference', { related: [`ServiceRequest/${sr.id}`] }, 10)).resources[0].resource as DocumentReference;
      await expect(repoFor(provider).read('DocumentReference', doc.id!)).rejects.toThrow(/not known/);
    } finally {
      now = Date.now();
    }
  });

  it('when the system (auth disabled) submits, then there is no requester check and the timeline still reads plainly', async () => {
    const { task, created } = await domain.submit(requestInput(), undefined);
    expect(created).toBe(true);
    const timeline = await domain.timeline(task.id!, undefined);
    expect(timeline.events[0]).toEqual({ at: expect.any(String), text: "Request sent to Dr Brown at Paediatric Neurology, Northern Children's Trust" });
    await expect(domain.timeline(task.id!, { organization: 'RZ9', agent: 'x' })).rejects.toThrow(/not known/);
  });
});
