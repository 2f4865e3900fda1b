/**
 * A minimal in-memory Storage for HL7 unit tests only: the key table and the outbox. Everything
 * else throws, so a test that reaches further than it should fails loudly. The lead's
 * integration tests run the same code against the real SQLite/PostgreSQL storage.
 */
import type { OutboxMessage, Storage, StorageTx } from '../../../src/storage/types.ts';

export class FakeStorage {
  readonly keys = new Map<string, string>();
  readonly outbox: OutboxMessage[] = [];
  readonly marks: { id: number; result: Parameters<Storage['markOutbound']>[1] }[] = [];
  /** Set to make the next calls fail (a database outage). */
  failing = false;

  readonly tx: StorageTx = {
    lock: async () => undefined,
    insertResource: notHere,
    insertBatch: notHere,
    updateResource: notHere,
    readResource: notHere,
    search: notHere,
    accessOf: notHere,
    grantAccess: notHere,
    nextSequence: notHere,
    appendJournal: notHere,
    takeJournal: notHere,
    putKey: async (scope, key, value) => {
      this.check();
      const k = `${scope}/${key}`;
      if (this.keys.has(k)) return false;
      this.keys.set(k, value);
      return true;
    },
    getKey: async (scope, key) => this.keys.get(`${scope}/${key}`) ?? null,
    setKey: async (scope, key, value) => {
      this.keys.set(`${scope}/${key}`, value);
    },
    enqueueOutbound: async (destination, kind, payload) => {
      const id = this.outbox.length + 1;
      const now = new Date().toISOString();
      this.outbox.push({ id, destination, kind, payload, status: 'pending', attempts: 0, nextAttemptAt: now, lastError: null, createdAt: now, sentAt: null });
      return id;
    },
  };

  private check(): void {
    if (this.failing) throw new Error('database unavailable');
  }

  transaction = async <T>(fn: (tx: StorageTx) => Promise<T>): Promise<T> => {
    this.check();
    return fn(this.tx);
  };

  getKey = async (scope: string, key: string): Promise<string | null> => {
    this.check();
    return this.keys.get(`${scope}/${key}`) ?? null;
  };

  /** Oldest due pending message, leased (attempts + 1, next attempt after the lease). */
  claimOutbound = async (now: string, leaseMs: number): Promise<OutboxMessage | null> => {
    this.check();
    const due = this.outbox.find((m) => m.status === 'pending' && m.nextAttemptAt <= now);
    if (!due) return null;
    due.attempts++;
    due.nextAttemptAt = new Date(Date.parse(now) + leaseMs).toISOString();
    return { ...due };
  };

  markOutbound = async (id: number, result: Parameters<Storage['markOutbound']>[1]): Promise<void> => {
    this.check();
    this.marks.push({ id, result });
    const m = this.outbox.find((x) => x.id === id)!;
    m.status = result.status;
    m.lastError = result.error ?? null;
    if (result.nextAttemptAt) m.nextAttemptAt = result.nextAttemptAt;
    if (result.status === 'sent') m.sentAt = new Date().toISOString();
  };
}

async function notHere(): Promise<never> {
  throw new Error('not available in the HL7 unit-test fake storage');
}
