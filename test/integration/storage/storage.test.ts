/** Storage behaviour on both backends: versions, history, index, tenancy, keys, outbox. */
import { describe, expect, it } from 'vitest';
import type { Task } from 'fhir/r4.js';
import { extractIndex as indexWith, SearchParameterRegistry } from '../../../src/fhir/search-params.ts';
import { join } from 'node:path';
import { migrate } from '../../../src/storage/migrations.ts';
import { openPostgres } from '../../../src/storage/postgres/driver.ts';
import { createSqlStorage } from '../../../src/storage/sql-storage.ts';
import { openSqlite } from '../../../src/storage/sqlite/driver.ts';
import type { SearchCriterion } from '../../../src/storage/types.ts';
import { backendEnv, backends, suiteStorage } from '../../helpers/backends.ts';

/** The base table's index rows (enough for the Task fields these tests search). */
const SEARCH_PARAMS = SearchParameterRegistry.build();
const extractIndex = (t: Task) => indexWith(t, SEARCH_PARAMS);

const task = (owner: string, status: Task['status']): Task => ({
  resourceType: 'Task', status, intent: 'order', owner: { reference: `Organization/${owner}` }, for: { reference: 'Patient/p1' },
});

describe.each(backends())('storage on %s', (backend) => {
  const suite = suiteStorage(backend);

  it('when a resource is inserted and updated, then every version is kept in history', async () => {
    const t = task('o1', 'requested');
    const v1 = await suite.storage.transaction((tx) => tx.insertResource(t, extractIndex(t)));
    const v2 = await suite.storage.transaction((tx) => tx.updateResource({ ...v1.resource, status: 'received' } as Task, 1, extractIndex(t)));
    expect(v2?.versionId).toBe(2);
    const history = await suite.storage.history('Task', v1.resource.id!);
    expect(history.map((h) => (h.resource as Task).status)).toEqual(['received', 'requested']);
    expect((await suite.storage.readVersion('Task', v1.resource.id!, 1))?.resource).toMatchObject({ status: 'requested', meta: { versionId: '1' } });
  });

  it('when an update names a stale version, then nothing is written and null is returned', async () => {
    const t = task('o1', 'requested');
    const v1 = await suite.storage.transaction((tx) => tx.insertResource(t, extractIndex(t)));
    await suite.storage.transaction((tx) => tx.updateResource({ ...v1.resource, status: 'received' } as Task, 1, []));
    const stale = await suite.storage.transaction((tx) => tx.updateResource({ ...v1.resource, status: 'cancelled' } as Task, 1, []));
    expect(stale).toBeNull();
    expect(((await suite.storage.readResource('Task', v1.resource.id!))!.resource as Task).status).toBe('received');
  });

  it('when concurrent updates race on one version, then exactly one wins', async () => {
    const t = task('o1', 'requested');
    const v1 = await suite.storage.transaction((tx) => tx.insertResource(t, extractIndex(t)));
    const results = await Promise.all(['received', 'rejected', 'cancelled'].map((status) =>
      suite.storage.transaction((tx) => tx.updateResource({ ...v1.resource, status } as Task, 1, []))));
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    expect((await suite.storage.history('Task', v1.resource.id!)).length).toBe(2);
  });

  it('when a transaction throws, then none of its writes are visible', async () => {
    const t = task('rollback-org', 'requested');
    await expect(suite.storage.transaction(async (tx) => {
      await tx.insertResource(t, extractIndex(t));
      throw new Error('boom');
    })).rejects.toThrow('boom');
    const found = await suite.storage.search({ type: 'Task', criteria: [{ kind: 'reference', param: 'owner', values: ['Organization/rollback-org'] }], count: 10, offset: 0, total: 'accurate' });
    expect(found.total).toBe(0);
  });

  it('when searching owner and status, then only matching tasks come back, newest first when asked', async () => {
    for (const [o, s] of [['s1', 'requested'], ['s1', 'completed'], ['s2', 'requested'], ['s1', 'requested']] as const) {
      const t = task(o, s);
      await suite.storage.transaction((tx) => tx.insertResource(t, extractIndex(t)));
    }
    const r = await suite.storage.search({ type: 'Task', criteria: [
      { kind: 'reference', param: 'owner', values: ['Organization/s1'] },
      { kind: 'token', param: 'status', values: [{ code: 'requested' }] },
    ], sort: [{ kind: 'lastUpdated', descending: true }], count: 10, offset: 0, total: 'accurate' });
    expect(r.total).toBe(2);
    expect(r.resources.every((x) => (x.resource as Task).status === 'requested')).toBe(true);
    expect(r.resources[0].lastUpdated >= r.resources[1].lastUpdated).toBe(true);
  });

  it('when owner and status tasks are paged newest first, then pages neither overlap nor skip, and an update moves a task out of the old status and into the new', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const t = task('pg1', i === 3 ? 'completed' : 'requested');
      ids.push((await suite.storage.transaction((tx) => tx.insertResource(t, extractIndex(t)))).resource.id!);
    }
    const first = (await suite.storage.readResource('Task', ids[0]))!;
    await suite.storage.transaction((tx) => tx.updateResource({ ...first.resource, status: 'completed' } as Task, 1, extractIndex({ ...first.resource, status: 'completed' } as Task)));
    const owner = { kind: 'reference' as const, param: 'owner', values: ['Organization/pg1'] };
    const page = (status: SearchCriterion, offset: number) => suite.storage.search({ type: 'Task', criteria: [owner, status], sort: [{ kind: 'lastUpdated', descending: true }], count: 2, offset, total: 'none' });
    const requested: SearchCriterion = { kind: 'token', param: 'status', values: [{ code: 'requested' }] };
    const seen: string[] = [];
    for (let offset = 0; ; offset += 2) {
      const r = await page(requested, offset);
      seen.push(...r.resources.map((x) => x.resource.id!));
      if (!r.hasMore) break;
    }
    expect(seen).toEqual([ids[6], ids[5], ids[4], ids[2], ids[1]]);
    const notRequested = await page({ kind: 'token', param: 'status', values: [{ code: 'requested' }], not: true }, 0);
    expect(notRequested.resources.map((x) => x.resource.id)).toEqual([ids[0], ids[3]]);
    const completed = await page({ kind: 'token', param: 'status', values: [{ code: 'completed' }] }, 0);
    expect(completed.resources.map((x) => x.resource.id)).toEqual([ids[0], ids[3]]);
  });

  it('when a name prefix matches a few Patients or more than the driving cap, then either way exactly the matches come back, in last-updated order, with the date filter applied', async () => {
    const patients = [
      ...Array.from({ length: 520 }, (_, i) => ({ family: 'Commonname', birthDate: i % 2 ? '2019-06-24' : '2010-01-01' })),
      { family: 'Rarename', birthDate: '2019-01-02' }, { family: 'Rarename', birthDate: '2009-01-02' }, { family: 'Rarenamex', birthDate: '2020-05-05' },
    ];
    await suite.storage.transaction(async (tx) => {
      for (const p of patients) {
        const r = { resourceType: 'Patient' as const, name: [{ family: p.family }], birthDate: p.birthDate };
        await tx.insertResource(r, indexWith(r, SEARCH_PARAMS));
      }
    });
    const find = (prefix: string) => suite.storage.search({ type: 'Patient', criteria: [
      { kind: 'string', param: 'family', values: [prefix] },
      { kind: 'date', param: 'birthdate', comparisons: [{ prefix: 'ge', low: '2019-01-01T00:00:00.000Z', high: '2019-01-01T23:59:59.999Z' }] },
    ], count: 20, offset: 0, total: 'accurate' });
    const rare = await find('rarename');
    expect(rare.total).toBe(2);
    expect(rare.resources.map((r) => (r.resource as { birthDate?: string }).birthDate)).toEqual(['2019-01-02', '2020-05-05']);
    const common = await find('common');
    expect(common.total).toBe(260);
    expect(common.resources).toHaveLength(20);
    expect(common.hasMore).toBe(true);
    const times = common.resources.map((r) => r.lastUpdated);
    expect([...times].sort()).toEqual(times);
  });

  it('when a criterion that could drive a search matches one resource or none, then the search answers exactly the matches, and none with a total of 0', async () => {
    for (const [o, st] of [['one-owner', 'requested'], ['many-owner', 'requested'], ['many-owner', 'requested'], ['many-owner', 'completed']] as const) {
      const t = task(o, st);
      await suite.storage.transaction((tx) => tx.insertResource(t, extractIndex(t)));
    }
    const find = (owner: string, status: string) => suite.storage.search({ type: 'Task', criteria: [
      { kind: 'reference', param: 'owner', values: [`Organization/${owner}`] },
      { kind: 'token', param: 'status', values: [{ code: status }] },
    ], count: 10, offset: 0, total: 'accurate' });
    const statuses = (r: Awaited<ReturnType<typeof find>>) => r.resources.map((x) => (x.resource as Task).status);
    expect(statuses(await find('one-owner', 'requested'))).toEqual(['requested']);
    expect((await find('one-owner', 'completed')).total).toBe(0);
    expect(statuses(await find('many-owner', 'completed'))).toEqual(['completed']);
    for (const none of [await find('no-such-owner', 'requested'), await find('many-owner', 'no-such-status')]) {
      expect(none).toMatchObject({ resources: [], total: 0, hasMore: false });
    }
    const prefix = await suite.storage.search({ type: 'Patient', criteria: [{ kind: 'string', param: 'family', values: ['nosuchfamilyname'] }], count: 10, offset: 0, total: 'accurate' });
    expect(prefix).toMatchObject({ resources: [], total: 0 });
  });

  it('when resources are inserted as a batch, then each is stored, versioned, indexed and granted exactly as one by one, and the database checks ok', async () => {
    const tasks = [task('batch-owner', 'requested'), task('batch-owner', 'completed'), task('batch-owner', 'requested')];
    const stored = await suite.storage.transaction((tx) => tx.insertBatch(tasks.map((t, i) => ({ resource: t, index: extractIndex(t), orgs: i === 2 ? [] : ['RB1', 'RB1', 'RX2'] }))));
    expect(stored.map((x) => x.versionId)).toEqual([1, 1, 1]);
    expect(new Set(stored.map((x) => x.resource.id)).size).toBe(3);
    const found = await suite.storage.search({ type: 'Task', criteria: [
      { kind: 'reference', param: 'owner', values: ['Organization/batch-owner'] },
      { kind: 'token', param: 'status', values: [{ code: 'requested' }] },
    ], count: 10, offset: 0, total: 'accurate' });
    expect(found.resources.map((r) => r.resource.id).sort()).toEqual([stored[0].resource.id, stored[2].resource.id].sort());
    expect((await suite.storage.accessOf('Task', stored[0].resource.id as string)).sort()).toEqual(['RB1', 'RX2']);
    expect(await suite.storage.accessOf('Task', stored[2].resource.id as string)).toEqual([]);
    expect((await suite.storage.history('Task', stored[1].resource.id as string)).map((h) => h.versionId)).toEqual([1]);
    expect(await suite.storage.integrityCheck()).toBe('ok');
  });

  it('when access is granted to one organisation, then an org-filtered search sees it and others do not', async () => {
    const t = task('tenant-owner', 'requested');
    const stored = await suite.storage.transaction(async (tx) => {
      const s = await tx.insertResource(t, extractIndex(t));
      await tx.grantAccess('Task', s.resource.id!, ['RQ1', 'RQ1']);
      return s;
    });
    const base = { type: 'Task' as const, count: 10, offset: 0, total: 'accurate' as const };
    const owner = { kind: 'reference' as const, param: 'owner', values: ['Organization/tenant-owner'] };
    expect((await suite.storage.search({ ...base, criteria: [owner, { kind: 'org', orgs: ['RQ1'] }] })).total).toBe(1);
    expect((await suite.storage.search({ ...base, criteria: [owner, { kind: 'org', orgs: ['RX9'] }] })).total).toBe(0);
    expect(await suite.storage.accessOf('Task', stored.resource.id!)).toEqual(['RQ1']);
  });

  it('when a key is put twice, then the second put reports it existed; an expired key can be put again', async () => {
    expect(await suite.storage.transaction((tx) => tx.putKey('jti', 'a', '1'))).toBe(true);
    expect(await suite.storage.transaction((tx) => tx.putKey('jti', 'a', '2'))).toBe(false);
    expect(await suite.storage.getKey('jti', 'a')).toBe('1');
    const past = new Date(Date.now() - 1000).toISOString();
    await suite.storage.transaction((tx) => tx.putKey('jti', 'b', '1', past));
    expect(await suite.storage.getKey('jti', 'b')).toBeNull();
    expect(await suite.storage.transaction((tx) => tx.putKey('jti', 'b', '2'))).toBe(true);
  });

  it('when expired keys are purged, then only unexpired and unexpiring keys remain', async () => {
    const past = new Date(Date.now() - 1000).toISOString();
    const future = new Date(Date.now() + 60_000).toISOString();
    await suite.storage.transaction(async (tx) => {
      await tx.putKey('purge', 'old', '1', past);
      await tx.putKey('purge', 'new', '1', future);
      await tx.putKey('purge', 'forever', '1');
    });
    expect(await suite.storage.purgeExpiredKeys(new Date().toISOString())).toBeGreaterThanOrEqual(1);
    expect(await suite.storage.getKey('purge', 'new')).toBe('1');
    expect(await suite.storage.getKey('purge', 'forever')).toBe('1');
    expect(await suite.storage.transaction((tx) => tx.putKey('purge', 'old', '2'))).toBe(true);
  });

  it('when messages are queued for one destination, then they are claimed one at a time in order', async () => {
    const ids = await suite.storage.transaction(async (tx) => [
      await tx.enqueueOutbound('epr-a', 'RRI^I12', 'm1'), await tx.enqueueOutbound('epr-a', 'RRI^I12', 'm2'),
    ]);
    const now = new Date(Date.now() + 1000).toISOString();
    const first = await suite.storage.claimOutbound(now, 30_000);
    expect(first?.id).toBe(ids[0]);
    expect(await suite.storage.claimOutbound(now, 30_000)).toBeNull(); // m2 waits for m1
    await suite.storage.markOutbound(first!.id, { status: 'sent' });
    expect((await suite.storage.claimOutbound(now, 30_000))?.id).toBe(ids[1]);
  });

  it('when a transaction that queued a message commits, then the outbox listeners hear of it; not before, not on rollback, not for other writes', async () => {
    const heard: string[] = [];
    let inside = false;
    const off = suite.storage.onOutboundCommitted(() => heard.push(inside ? 'before commit' : 'after commit'));
    try {
      await suite.storage.transaction(async (tx) => {
        inside = true;
        await tx.enqueueOutbound('epr-listen', 'RRI^I12', 'm');
        inside = false;
      });
      expect(heard).toEqual(['after commit']);
      await expect(suite.storage.transaction(async (tx) => {
        await tx.enqueueOutbound('epr-listen', 'RRI^I12', 'rolled back');
        throw new Error('no');
      })).rejects.toThrow('no');
      await suite.storage.transaction((tx) => tx.putKey('listen', 'k', 'v'));
      expect(heard).toEqual(['after commit']);
    } finally {
      off();
    }
    await suite.storage.transaction((tx) => tx.enqueueOutbound('epr-listen', 'RRI^I12', 'unheard'));
    expect(heard).toHaveLength(1);
  });

  it('when a transaction has queued a message for a destination, then another queuing for it waits until the first commits', async () => {
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    let queued!: () => void;
    const aQueued = new Promise<void>((r) => { queued = r; });
    const a = suite.storage.transaction(async (tx) => {
      await tx.enqueueOutbound('epr-order', 'RRI^I12', 'a');
      queued();
      await held;
    }).then(() => order.push('a committed'));
    await aQueued;
    const b = suite.storage.transaction(async (tx) => {
      await tx.enqueueOutbound('epr-order', 'RRI^I12', 'b');
      order.push('b queued');
    });
    await new Promise((r) => setTimeout(r, 300));
    order.push('a released');
    release();
    await Promise.all([a, b]);
    // b's id is higher, and it could not be queued (so not committed, nor sent) before a was done.
    expect(order.indexOf('b queued')).toBeGreaterThan(order.indexOf('a released'));
  });

  it('when the database is checked, then it reports ok', async () => {
    expect(await suite.storage.integrityCheck()).toBe('ok');
  });
});

describe.each(backends())('the integrity check on %s', (backend) => {
  it('when a write was left half done (an index row without its resource, a resource ahead of its history, a stale index), then it names each problem', async () => {
    const env = await backendEnv(backend);
    const driver = backend === 'postgres' ? openPostgres(env.env.DATABASE_URL) : openSqlite(join(env.dataDir, 'eso-bridge.sqlite'));
    try {
      await migrate(driver);
      const storage = createSqlStorage(driver);
      const t = task('o1', 'requested');
      const stored = await storage.transaction((tx) => tx.insertResource(t, extractIndex(t)));
      const other = await storage.transaction((tx) => tx.insertResource(t, extractIndex(t)));
      expect(await storage.integrityCheck()).toBe('ok');
      await driver.exec(`INSERT INTO search_index (res_type, id, param, sys, val, last_updated) VALUES ('Task', 'gone', 'status', NULL, 'requested', '2026-01-01T00:00:00.000Z')`);
      await driver.exec(`UPDATE resources SET version = 2 WHERE id = '${stored.resource.id}'`);
      await driver.exec(`UPDATE resources SET last_updated = '2030-01-01T00:00:00.000Z' WHERE id = '${other.resource.id}'`);
      const report = await storage.integrityCheck();
      expect(report).toMatch(/1 resources without their current version/);
      expect(report).toMatch(/1 search index rows without their resource/);
      expect(report).toMatch(/search index rows of an older version/);
    } finally {
      await driver.close();
      await env.cleanup();
    }
  });
});
