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
 * - A search is kept likewise (its rows' text, parsed again per caller) until the transaction
 *   writes or grants a resource of the searched type: a search reads only its own type's rows,
 *   index rows and grants, so nothing else can change its answer.
 * - Taking a lock forgets every read and search: what follows a lock must see what was committed
 *   before it (PostgreSQL runs READ COMMITTED; on SQLite nothing else writes meanwhile). Grants
 *   stay, as they only ever grow.
 * It lives and dies with its transaction: a transaction that rolls back takes its cache with it.
 */
import type { Resource } from 'fhir/r4.js';
import type { SearchQuery, SearchResult, StoredResource } from './types.ts';

export interface KeptRow { version: number; lastUpdated: string; content: string }

/** A search's answer as rows' text. */
export interface KeptSearch { rows: KeptRow[]; hasMore: boolean; total?: number }

/** A kept row as a stored resource of its own (parsed anew). */
export const storedOf = (row: KeptRow): StoredResource => ({ resource: JSON.parse(row.content) as Resource, versionId: row.version, lastUpdated: row.lastUpdated });

/** A kept search as a result of its own: every resource parsed anew. */
export function searchResultOf(kept: KeptSearch): SearchResult {
  return { resources: kept.rows.map(storedOf), hasMore: kept.hasMore, ...(kept.total === undefined ? {} : { total: kept.total }) };
}

export class TxCache {
  private readonly rows = new Map<string, KeptRow | null>();
  private readonly access = new Map<string, Set<string>>();
  /** `Type/id|org` granted by this transaction (for resources whose whole access is not known). */
  private readonly granted = new Set<string>();
  /** Kept searches by type, then by the query. */
  private readonly searches = new Map<string, Map<string, KeptSearch>>();

  /** undefined: not known here; null: known not to exist. */
  read(type: string, id: string): StoredResource | null | undefined {
    const row = this.rows.get(`${type}/${id}`);
    if (row === undefined || row === null) return row;
    return storedOf(row);
  }

  /** The answer to `q` when kept (each resource parsed anew). */
  searched(q: SearchQuery): SearchResult | undefined {
    const kept = this.searches.get(q.type)?.get(JSON.stringify(q));
    return kept && searchResultOf(kept);
  }

  keepSearch(q: SearchQuery, kept: KeptSearch): void {
    let ofType = this.searches.get(q.type);
    if (!ofType) this.searches.set(q.type, (ofType = new Map()));
    ofType.set(JSON.stringify(q), kept);
  }

  /** The transaction wrote or granted a resource of `type`: no kept search of that type still holds. */
  changed(type: string): void {
    this.searches.delete(type);
  }

  keep(type: string, id: string, row: KeptRow | null): void {
    this.rows.set(`${type}/${id}`, row);
  }

  forgetReads(): void {
    this.rows.clear();
    this.searches.clear();
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
    if (fresh.length) this.changed(type);
    return fresh;
  }
}
