/**
 * What one transaction has already read or written, so the rules that decide one write (each with
 * its own Reader) do not ask the database the same thing again: measured on a REF^I12 intake, 93
 * single-resource reads of 14 distinct resources, 27 tenancy look-ups of 8, and 43 grant inserts of
 * 23 (docs/PERFORMANCE.md "REF^I12 over MLLP").
 *
 * - A read is kept as the row's text and parsed again for each caller, so no caller can change
 *   what the next one sees. The transaction's own inserts and updates replace what is kept.
 * - Tenancy grants are known exactly (there is no revoke): the organisations read, plus those
 *   this transaction granted. A grant already known is not written again.
 * - Taking a lock forgets every read: what follows a lock must see what was committed before it
 *   (PostgreSQL runs READ COMMITTED; on SQLite nothing else writes meanwhile). Grants stay, as
 *   they only ever grow.
 * It lives and dies with its transaction: a transaction that rolls back takes its cache with it.
 */
import type { Resource } from 'fhir/r4.js';
import type { StoredResource } from './types.ts';

interface KeptRow { version: number; lastUpdated: string; content: string }

export class TxCache {
  private readonly rows = new Map<string, KeptRow | null>();
  private readonly access = new Map<string, Set<string>>();
  /** `Type/id|org` granted by this transaction (for resources whose whole access is not known). */
  private readonly granted = new Set<string>();

  /** undefined: not known here; null: known not to exist. */
  read(type: string, id: string): StoredResource | null | undefined {
    const row = this.rows.get(`${type}/${id}`);
    if (row === undefined || row === null) return row;
    return { resource: JSON.parse(row.content) as Resource, versionId: row.version, lastUpdated: row.lastUpdated };
  }

  keep(type: string, id: string, row: KeptRow | null): void {
    this.rows.set(`${type}/${id}`, row);
  }

  forgetReads(): void {
    this.rows.clear();
  }

  /** The organisations granted the resource, when known (a copy). */
  accessOf(type: string, id: string): string[] | undefined {
    const orgs = this.access.get(`${type}/${id}`);
    return orgs ? [...orgs] : undefined;
  }

  keepAccess(type: string, id: string, orgs: string[]): void {
    this.access.set(`${type}/${id}`, new Set(orgs));
  }

  /** Of `orgs`, those not yet known to be granted; from now on they are known to be. */
  newGrants(type: string, id: string, orgs: string[]): string[] {
    const key = `${type}/${id}`;
    const known = this.access.get(key);
    const fresh = [...new Set(orgs)].filter((o) => !known?.has(o) && !this.granted.has(`${key}|${o}`));
    for (const o of fresh) {
      known?.add(o);
      this.granted.add(`${key}|${o}`);
    }
    return fresh;
  }
}
