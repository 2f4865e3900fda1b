/**
 * The audit trail: each AuditEvent is one append-only journal row written in the audited
 * transaction (or in a shared group commit for reads), so the access is not answered unless its
 * record is durable, and a crash loses none that was answered. The AuditEvent resources are built
 * from the journal behind the answers: stored, indexed and granted to the caller's organisation
 * only, in large batches (every JOURNAL_EVERY_MS, and before any read of AuditEvent, so a search
 * sees every event committed before it). docs/RELIABILITY.md "Audit durability".
 */
import { newResourceId } from '../shared/resource-id.ts';
import type { AuditEvent } from 'fhir/r4.js';
import { extractIndex, type SearchParameterRegistry } from '../fhir/search-params.ts';
import type { Logger } from '../shared/logger.ts';
import type { Storage, StorageTx } from '../storage/types.ts';
import { buildAuditEvent, type AuditRecord } from './audit-event.ts';
import type { GroupCommit } from './group-commit.ts';

export interface AuditTrailDeps {
  storage: Storage;
  commit: GroupCommit;
  /** This server's base URL (the observer). */
  baseUrl: () => string;
  /** The FHIR base, for reference index rows. */
  fhirBase: () => string;
  /** The server's search parameters, for the index rows (fhir/conformance.ts builds them once). */
  searchParams: SearchParameterRegistry;
  log: Logger;
}

/** How often the journal is brought into the store when nobody reads AuditEvents (ms). */
const JOURNAL_EVERY_MS = 250;
/** Journal entries stored per transaction. */
const BATCH = 500;

export class AuditTrail {
  private catchingUp: Promise<void> | undefined;
  /** Set when this process journals an event; without it a tick only looks (a read) before it writes. */
  private journalled = true;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly deps: AuditTrailDeps) {
    deps.storage.beforeRead('AuditEvent', () => this.catchUp());
    this.timer = setInterval(() => {
      this.catchUp().catch((e: unknown) => deps.log.warn({ err: e instanceof Error ? e.name : typeof e }, 'audit journal not yet stored; retried'));
    }, JOURNAL_EVERY_MS);
    this.timer.unref();
  }

  /** Resolves once the AuditEvent is committed (in the journal); rejects if it could not be written. */
  async write(record: AuditRecord): Promise<AuditEvent> {
    return this.deps.commit.run((tx) => this.writeIn(tx, record));
  }

  /** Journals the AuditEvent in the caller's transaction: it commits with the change it records, or not at all. */
  async writeIn(tx: StorageTx, record: AuditRecord): Promise<AuditEvent> {
    const event = { ...buildAuditEvent(record, this.deps.baseUrl()), id: newResourceId() };
    const org = record.principal?.organization;
    await tx.appendJournal(event, org ? [org] : []);
    this.journalled = true;
    return event;
  }

  /**
   * Stores every journal entry committed before the call. Concurrent callers share the run in
   * flight, and one more run follows it for those who arrived after it started.
   */
  catchUp(): Promise<void> {
    if (this.catchingUp) return this.catchingUp.then(() => this.catchUp());
    this.catchingUp = this.drain().finally(() => { this.catchingUp = undefined; });
    return this.catchingUp;
  }

  private async drain(): Promise<void> {
    // An idle service (or a read of AuditEvent with nothing new) costs a read, not a write transaction and its fsync.
    // The count also finds what another instance on the same database, or a killed process, left behind.
    const journalled = this.journalled;
    this.journalled = false;
    if (!journalled && (await this.deps.storage.journalLength()) === 0) return;
    for (;;) {
      const taken = await this.deps.storage.transaction(async (tx) => {
        const entries = await tx.takeJournal(BATCH);
        // In a few multi-row statements: one statement per event and table was most of this work.
        await tx.insertBatch(entries.map(({ resource, orgs }) => ({ resource, index: extractIndex(resource, this.deps.searchParams, this.deps.fhirBase()), orgs })));
        return entries.length;
      });
      if (taken < BATCH) return;
    }
  }

  /** Stores what is journalled and stops the timer (at shutdown, before storage closes). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.catchUp();
  }
}
