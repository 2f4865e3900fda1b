/**
 * The audit journal (src/audit/audit-trail.ts over storage's appendJournal/takeJournal): an
 * AuditEvent is one journal row committed with the change it records, stored and indexed
 * behind the answer, and visible to every read that starts after its commit.
 */
import type { AuditEvent } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../../src/audit/audit-trail.ts';
import { GroupCommit } from '../../../src/audit/group-commit.ts';
import type { AuditRecord } from '../../../src/audit/audit-event.ts';
import { loadConformance } from '../../../src/fhir/conformance.ts';
import { createLogger } from '../../../src/shared/logger.ts';
import { openStorage } from '../../../src/storage/open.ts';
import type { Storage } from '../../../src/storage/types.ts';
import { backendEnv, backends, type BackendEnv } from '../../helpers/backends.ts';

const { searchParams } = loadConformance();
const trailOver = (storage: Storage) => new AuditTrail({ storage, commit: new GroupCommit(storage), baseUrl: () => 'http://eso.test', fhirBase: () => 'http://eso.test/fhir',
  searchParams, log: createLogger('silent') });
const record = (entity: string, organization = 'RX1'): AuditRecord => ({ interaction: 'read', resourceType: 'Patient', id: entity, status: 200, requestId: `req-${entity}`,
  principal: { clientId: 'c1', organization, scopes: [] }, entities: [`Patient/${entity}`] });
const byEntity = (storage: Storage, entity: string) => storage.search({ type: 'AuditEvent', criteria: [{ kind: 'reference', param: 'entity', values: [`Patient/${entity}`] }], count: 10, offset: 0, total: 'none' });

describe.each(backends())('the audit journal on %s', (backend) => {
  let env: BackendEnv;
  let storage: Storage;
  let trail: AuditTrail;
  beforeAll(async () => {
    env = await backendEnv(backend);
    storage = await openStorage({ databaseUrl: env.env.DATABASE_URL, dataDir: env.dataDir });
    trail = trailOver(storage);
  });
  afterAll(async () => {
    await trail?.close();
    await storage?.close();
    await env?.cleanup();
  });

  it('when an access is audited, then a search that starts after the answer finds its AuditEvent, indexed and granted to the caller\'s organisation only', async () => {
    const written = await trail.write(record('p-1'));
    const found = await byEntity(storage, 'p-1');
    expect(found.resources.map((r) => r.resource.id)).toEqual([written.id]);
    expect((found.resources[0].resource as AuditEvent).outcomeDesc).toBe('HTTP 200');
    expect(await storage.accessOf('AuditEvent', written.id!)).toEqual(['RX1']);
    expect(await storage.journalLength()).toBe(0);
  });

  it('when the audited transaction rolls back, then its journal row goes with it and no AuditEvent appears', async () => {
    await expect(storage.transaction(async (tx) => {
      await trail.writeIn(tx, record('p-2'));
      throw new Error('the change failed');
    })).rejects.toThrow('the change failed');
    expect((await byEntity(storage, 'p-2')).resources).toEqual([]);
  });

  it('when many accesses are audited at once, then each has exactly one AuditEvent', async () => {
    const ids = Array.from({ length: 120 }, (_, i) => `p-many-${i}`);
    const written = await Promise.all(ids.map((id) => trail.write(record(id))));
    const found = await storage.search({ type: 'AuditEvent', criteria: [{ kind: 'reference', param: 'entity', values: ids.map((id) => `Patient/${id}`) }], count: 500, offset: 0, total: 'accurate' });
    expect(found.total).toBe(120);
    expect(new Set(found.resources.map((r) => r.resource.id))).toEqual(new Set(written.map((w) => w.id)));
  });
  it('when the process stops before the journal is stored, then the next start stores every entry once, in order', async () => {
    await trail.close(); // this trail's timer stops: nothing stores the journal until the "next start"
    // Journalled in the audited transaction, then the "process" goes away before the trail stores them.
    await storage.transaction(async (tx) => {
      for (const e of ['p-3a', 'p-3b', 'p-3c']) await tx.appendJournal({ resourceType: 'AuditEvent', id: `ae-${e}`, recorded: '2026-01-01T00:00:00Z' } as AuditEvent, ['RX2']);
    });
    expect(await storage.journalLength()).toBe(3);
    const taken = await storage.transaction((tx) => tx.takeJournal(2));
    expect(taken.map((t) => t.resource.id)).toEqual(['ae-p-3a', 'ae-p-3b']);
    expect(taken[0].orgs).toEqual(['RX2']);
    // A store that does not commit (killed mid-store) takes nothing: the entry stays for the next start.
    await expect(storage.transaction(async (tx) => {
      await tx.takeJournal(10);
      throw new Error('killed mid-store');
    })).rejects.toThrow('killed mid-store');
    expect(await storage.journalLength()).toBe(1);
    const restarted = trailOver(storage);
    await restarted.close();
    expect(await storage.journalLength()).toBe(0);
    expect((await storage.readResource('AuditEvent', 'ae-p-3c'))?.resource.id).toBe('ae-p-3c');
  });

});
