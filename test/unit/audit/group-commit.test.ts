/** Group commit over the real SQLite storage: one transaction per group, every caller settles after the commit. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GroupCommit } from '../../../src/audit/group-commit.ts';
import { jtiRecorder } from '../../../src/auth/jti-store.ts';
import { openStorage } from '../../../src/storage/open.ts';
import type { Storage } from '../../../src/storage/types.ts';

let dir: string;
let storage: Storage;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eso-gc-'));
  storage = await openStorage({ dataDir: dir });
});
afterEach(async () => {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('GroupCommit', () => {
  it('when many writes arrive together, then they share few transactions and each resolves with its own result', async () => {
    let transactions = 0;
    const counting: Storage = { ...storage, transaction: (fn) => { transactions++; return storage.transaction(fn); } };
    const commit = new GroupCommit(counting, { windowMs: 5 });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => commit.run((tx) => tx.putKey('t', `k${i}`, String(i)))));
    expect(results.every((r) => r === true)).toBe(true);
    expect(transactions).toBeLessThanOrEqual(3);
    expect(await storage.getKey('t', 'k199')).toBe('199');
  });

  it('when a write arrives, then it waits the window for company: a write within the window joins its transaction, none is written before the window ends', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      let transactions = 0;
      const counting: Storage = { ...storage, transaction: (fn) => { transactions++; return storage.transaction(fn); } };
      const commit = new GroupCommit(counting, { windowMs: 50 });
      const first = commit.run((tx) => tx.putKey('t', 'w1', '1'));
      await vi.advanceTimersByTimeAsync(30);
      expect(transactions, 'written before the window ended').toBe(0);
      const second = commit.run((tx) => tx.putKey('t', 'w2', '2'));
      await vi.advanceTimersByTimeAsync(19);
      expect(transactions).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(await Promise.all([first, second])).toEqual([true, true]);
      expect(transactions, 'one transaction for both').toBe(1);
      expect(await storage.getKey('t', 'w2')).toBe('2');
    } finally {
      vi.useRealTimers();
    }
  });

  it('when the group transaction fails, then every caller in it is rejected', async () => {
    const commit = new GroupCommit(storage, { windowMs: 5 });
    const ok = commit.run((tx) => tx.putKey('t', 'a', '1'));
    const bad = commit.run(async () => { throw new Error('disk full'); });
    await expect(bad).rejects.toThrow('disk full');
    await expect(ok).rejects.toThrow('disk full');
    expect(await storage.getKey('t', 'a')).toBeNull();
  });

  it('when a jti is recorded twice, even in one group, then the second is refused; after its expiry it may be recorded again', async () => {
    const commit = new GroupCommit(storage);
    const record = jtiRecorder(commit);
    const later = new Date(Date.now() + 60_000);
    expect(await Promise.all([record('c', 'j1', later), record('c', 'j1', later), record('other', 'j1', later)])).toEqual([true, false, true]);
    expect(await record('c', 'j2', new Date(Date.now() - 1000))).toBe(true);
    expect(await record('c', 'j2', later)).toBe(true);
    await commit.close();
  });
});
