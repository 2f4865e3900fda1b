/** sql-storage.ts against a real SQLite file in a temp dir (PostgreSQL is covered by the integration suites). */
import type { Resource, Task } from 'fhir/r4.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openStorage } from '../../../src/storage/open.ts';
import type { IndexRow, Storage } from '../../../src/storage/types.ts';

const task = (more: Partial<Task> = {}): Task => ({ resourceType: 'Task', status: 'requested', intent: 'order', ...more });
const token = (param: string, value: string): IndexRow => ({ param, system: null, value, low: null, high: null });

describe('sql-storage on SQLite', () => {
  let dir: string;
  let storage: Storage;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eso-sql-storage-'));
    storage = await openStorage({ dataDir: dir });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const insert = (r: Resource, index: IndexRow[] = []) => storage.transaction((tx) => tx.insertResource(r, index));

  it('when a resource without an id is inserted, then it gets an id, version 1 and meta, and reads back the same', async () => {
    const stored = await insert(task());
    expect(stored.versionId).toBe(1);
    expect(stored.resource.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(stored.resource.meta).toEqual({ versionId: '1', lastUpdated: stored.lastUpdated });
    expect(await storage.readResource('Task', stored.resource.id!)).toEqual(stored);
    expect(await storage.readResource('Task', 'missing')).toBeNull();
    expect(await storage.integrityCheck()).toBe('ok');
  });

  it('when an update names a stale version, then it returns null and the current version is unchanged', async () => {
    const v1 = await insert(task());
    const v2 = await storage.transaction((tx) => tx.updateResource({ ...v1.resource, status: 'accepted' } as Task, 1, []));
    expect(v2?.versionId).toBe(2);
    const stale = await storage.transaction((tx) => tx.updateResource({ ...v1.resource, status: 'rejected' } as Task, 1, []));
    expect(stale).toBeNull();
    const current = await storage.readResource('Task', v1.resource.id!);
    expect(current?.versionId).toBe(2);
    expect((current!.resource as Task).status).toBe('accepted');
  });

  it('when a resource has several versions, then history lists them newest first and each version stays readable', async () => {
    const v1 = await insert(task());
    let cur = v1;
    for (const [i, status] of (['accepted', 'in-progress', 'completed'] as const).entries()) {
      cur = (await storage.transaction((tx) => tx.updateResource({ ...cur.resource, status } as Task, i + 1, [])))!;
    }
    const history = await storage.history('Task', v1.resource.id!);
    expect(history.map((h) => h.versionId)).toEqual([4, 3, 2, 1]);
    expect(history.map((h) => (h.resource as Task).status)).toEqual(['completed', 'in-progress', 'accepted', 'requested']);
    expect((await storage.readVersion('Task', v1.resource.id!, 2))?.resource).toEqual(history[2].resource);
    expect(await storage.readVersion('Task', v1.resource.id!, 9)).toBeNull();
  });

  it('when two writes happen in the same millisecond, then their lastUpdated still strictly increase', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(Date.parse('2026-01-01T00:00:00.000Z'));
    const [a, b] = await storage.transaction(async (tx) => [await tx.insertResource(task(), []), await tx.insertResource(task(), [])]);
    const c = await storage.transaction((tx) => tx.updateResource(b.resource, 1, []));
    expect(a.lastUpdated < b.lastUpdated).toBe(true);
    expect(b.lastUpdated < c!.lastUpdated).toBe(true);
    expect(a.lastUpdated).toBe('2026-01-01T00:00:00.000Z');
  });

  it('when a key is put twice, then the second put returns false and the first value stays', async () => {
    expect(await storage.transaction((tx) => tx.putKey('jti', 'k1', 'first'))).toBe(true);
    expect(await storage.transaction((tx) => tx.putKey('jti', 'k1', 'second'))).toBe(false);
    expect(await storage.getKey('jti', 'k1')).toBe('first');
    expect(await storage.getKey('other-scope', 'k1')).toBeNull();
  });

  it('when a key has expired, then it reads as absent and may be put again', async () => {
    expect(await storage.transaction((tx) => tx.putKey('jti', 'k2', 'old', '2000-01-01T00:00:00.000Z'))).toBe(true);
    expect(await storage.getKey('jti', 'k2')).toBeNull();
    expect(await storage.transaction((tx) => tx.putKey('jti', 'k2', 'new'))).toBe(true);
    expect(await storage.getKey('jti', 'k2')).toBe('new');
  });

  it('when access is granted repeatedly or with duplicates, then each organisation is recorded once', async () => {
    const { resource } = await insert(task());
    await storage.transaction((tx) => tx.grantAccess('Task', resource.id!, ['A', 'A', 'B']));
    await storage.transaction((tx) => tx.grantAccess('Task', resource.id!, ['B', 'A']));
    expect((await storage.accessOf('Task', resource.id!)).sort()).toEqual(['A', 'B']);
  });

  it('when searching by a token and organisations, then only granted resources with that value are returned, oldest first', async () => {
    const mine = await insert(task(), [token('status', 'requested')]);
    const other = await insert(task(), [token('status', 'requested')]);
    const done = await insert(task({ status: 'completed' }), [token('status', 'completed')]);
    const mine2 = await insert(task(), [token('status', 'requested')]);
    await storage.transaction(async (tx) => {
      for (const s of [mine, done, mine2]) await tx.grantAccess('Task', s.resource.id!, ['A']);
      await tx.grantAccess('Task', other.resource.id!, ['B']);
    });
    const result = await storage.search({ type: 'Task', criteria: [{ kind: 'token', param: 'status', values: [{ code: 'requested' }] }, { kind: 'org', orgs: ['A'] }], count: 1, offset: 0, total: 'accurate' });
    expect(result.resources.map((r) => r.resource.id)).toEqual([mine.resource.id]);
    expect(result.hasMore).toBe(true);
    expect(result.total).toBe(2);
  });
});
