/**
 * Group commit: small writes (AuditEvents, jti records) from concurrent requests gathered for
 * a few milliseconds and written in one transaction. Each caller's promise settles only after
 * that transaction commits (or fails: then every caller in the group fails, and its request
 * answers 500). One group is written at a time; the next gathers meanwhile.
 */
import type { Storage, StorageTx } from '../storage/types.ts';

interface Pending {
  fn: (tx: StorageTx) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export interface GroupCommitOptions {
  /** How long the first write of a group waits for company (ms). */
  windowMs?: number;
  /** A group this large is written at once. */
  maxBatch?: number;
}

export class GroupCommit {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private readonly windowMs: number;
  private readonly maxBatch: number;

  constructor(private readonly storage: Storage, opts: GroupCommitOptions = {}) {
    this.windowMs = opts.windowMs ?? 2;
    this.maxBatch = opts.maxBatch ?? 500;
  }

  /** Runs `fn` in the next group's transaction; resolves with its result after the commit. */
  run<T>(fn: (tx: StorageTx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.writing) return; // the running write picks the queue up when it ends
    if (this.queue.length >= this.maxBatch) {
      this.flushNow();
      return;
    }
    this.timer ??= setTimeout(() => this.flushNow(), this.windowMs);
  }

  private flushNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || !this.queue.length) return;
    const group = this.queue.splice(0, this.maxBatch);
    this.writing = this.write(group).finally(() => {
      this.writing = undefined;
      if (this.queue.length) this.flushNow();
    });
  }

  private async write(group: Pending[]): Promise<void> {
    try {
      const results = await this.storage.transaction(async (tx) => {
        const out: unknown[] = [];
        for (const p of group) out.push(await p.fn(tx));
        return out;
      });
      group.forEach((p, i) => p.resolve(results[i]));
    } catch (e) {
      for (const p of group) p.reject(e);
    }
  }

  /** Writes whatever is queued and waits for it. */
  async close(): Promise<void> {
    while (this.queue.length || this.writing || this.timer) {
      this.flushNow();
      await this.writing;
    }
  }
}
