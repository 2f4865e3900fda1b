/**
 * Writes AuditEvents straight through storage (no repository: no hooks, no validation round
 * trip), grouped into shared transactions. Each event is granted to the caller's organisation
 * only, so an organisation reads its own trail (system/AuditEvent.rs) and nobody else's.
 */
import type { AuditEvent } from 'fhir/r4.js';
import { extractIndex, type SearchParameterRegistry } from '../fhir/search-params.ts';
import { buildAuditEvent, type AuditRecord } from './audit-event.ts';
import type { GroupCommit } from './group-commit.ts';
import type { StorageTx } from '../storage/types.ts';

export interface AuditTrailDeps {
  commit: GroupCommit;
  /** This server's base URL (the observer). */
  baseUrl: () => string;
  /** The FHIR base, for reference index rows. */
  fhirBase: () => string;
  /** The server's search parameters, for the index rows (fhir/conformance.ts builds them once). */
  searchParams: SearchParameterRegistry;
}

export class AuditTrail {
  constructor(private readonly deps: AuditTrailDeps) {}

  /** Resolves once the AuditEvent is committed; rejects if it could not be written. */
  async write(record: AuditRecord): Promise<AuditEvent> {
    return this.deps.commit.run((tx) => this.writeIn(tx, record));
  }

  /** Writes the AuditEvent in the caller's transaction: it commits with the change it records, or not at all. */
  async writeIn(tx: StorageTx, record: AuditRecord): Promise<AuditEvent> {
    const event = buildAuditEvent(record, this.deps.baseUrl());
    const org = record.principal?.organization;
    const stored = await tx.insertResource(event, extractIndex(event, this.deps.searchParams, this.deps.fhirBase()));
    if (org) await tx.grantAccess('AuditEvent', stored.resource.id as string, [org]);
    return stored.resource as AuditEvent;
  }
}
