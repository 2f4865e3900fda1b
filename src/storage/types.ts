/**
 * The storage interface. Everything above storage/ talks to these types only; sqlite/ and
 * postgres/ implement them behind one dialect seam (storage/dialect.ts).
 */
import type { Resource } from 'fhir/r4.js';

export type ResourceType = Resource['resourceType'];

/** A stored version: the resource JSON (with meta.versionId and meta.lastUpdated set). */
export interface StoredResource<T extends Resource = Resource> {
  resource: T;
  versionId: number;
  lastUpdated: string;
}

/** One criterion of a parsed search (fhir/search.ts builds these from URL parameters). */
export type SearchCriterion =
  | { kind: 'id'; values: string[] }
  | { kind: 'lastUpdated'; comparisons: DateComparison[] }
  | { kind: 'token'; param: string; values: { system?: string; code?: string }[]; not?: boolean } // OR of values; `not`: none of them (or no value)
  | { kind: 'reference'; param: string; values: string[] } // "Type/id", OR of values
  | { kind: 'string'; param: string; values: string[]; exact?: boolean; contains?: boolean } // prefix match (or exact, or anywhere), case-insensitive
  | { kind: 'date'; param: string; comparisons: DateComparison[] } // AND of comparisons
  | { kind: 'org'; orgs: string[] }; // tenancy: resource readable by one of these organisations

/** One `_sort` key: the resource's last update or id, or the lowest (highest, descending) indexed value of a search parameter. */
export interface SortKey {
  kind: 'lastUpdated' | 'id' | 'date' | 'value';
  /** The search parameter (kind date or value). */
  param?: string;
  descending: boolean;
}

export interface DateComparison {
  prefix: 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le' | 'sa' | 'eb';
  /** Inclusive lower and upper instants of the value's precision, ISO UTC. */
  low: string;
  high: string;
}

export interface SearchQuery {
  type: ResourceType;
  criteria: SearchCriterion[];
  /** Sort keys in order (default: last updated, oldest first). */
  sort?: SortKey[];
  count: number;
  offset: number;
  /** 'none' skips counting (fast); 'accurate' counts all matches. */
  total: 'none' | 'accurate';
}

export interface SearchResult {
  resources: StoredResource[];
  total?: number;
  /** True when more matches exist after this page. */
  hasMore: boolean;
}

/** One index row extracted from a resource (fhir/search-params.ts decides which). */
export interface IndexRow {
  param: string;
  /** token: system; reference: target type; string/date: null. */
  system: string | null;
  /** token: code; reference: "Type/id"; string: normalised text; date: null. */
  value: string | null;
  low: string | null;
  high: string | null;
}

/** The outbox destination of an EPR reached over MLLP, by its organisation's ODS code (one order per destination). */
export const mllpDestination = (ods: string): string => `mllp:${ods.toUpperCase()}`;

export interface OutboxMessage {
  id: number;
  destination: string;
  kind: string;
  payload: string;
  status: 'pending' | 'sent' | 'failed';
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
  /** Set by claimOutbound: the lease this claim holds, to hand back to markOutbound. */
  leaseUntil?: string;
}

/**
 * Operations available inside one database transaction. Writes commit together or not at all.
 * Version checks happen in the database (UPDATE ... WHERE version = ?), so several processes
 * on one PostgreSQL never lose an update.
 */
/** A resource written behind: its id is set, and it becomes a stored resource when taken. */
export interface JournalEntry {
  resource: Resource;
  orgs: string[];
}

export interface StorageTx {
  /** Serialise work on `key` until the transaction ends (PostgreSQL advisory lock; SQLite writes are already serial). */
  lock(key: string): Promise<void>;
  insertResource(resource: Resource, index: IndexRow[]): Promise<StoredResource>;
  /**
   * Inserts many new resources with their index rows, each granted to its `orgs`, in a few multi-row
   * statements (the audit journal's batches): the same rows as insertResource and grantAccess one by one.
   */
  insertBatch(items: { resource: Resource; index: IndexRow[]; orgs: string[] }[]): Promise<StoredResource[]>;
  /** Writes a new version if the current one is `expectedVersion`; returns null when it is not (a conflict). */
  updateResource(resource: Resource, expectedVersion: number, index: IndexRow[]): Promise<StoredResource | null>;
  readResource(type: ResourceType, id: string): Promise<StoredResource | null>;
  search(query: SearchQuery): Promise<SearchResult>;
  /** Organisations that may see a resource (tenancy). */
  accessOf(type: ResourceType, id: string): Promise<string[]>;
  /** Adds organisations that may see this resource (tenancy). Idempotent. */
  grantAccess(type: ResourceType, id: string, orgs: string[]): Promise<void>;
  /** A small key-value table for idempotency keys, HL7 message ids, JWT jti replay, ... Returns false if the key existed. */
  putKey(scope: string, key: string, value: string, expiresAt?: string): Promise<boolean>;
  getKey(scope: string, key: string): Promise<string | null>;
  /** Sets a key's value whether or not it exists (a high-water mark, e.g. the last message applied per case). */
  setKey(scope: string, key: string, value: string): Promise<void>;
  enqueueOutbound(destination: string, kind: string, payload: string): Promise<number>;
  /** Advances the counter `name` by one and returns its new value (1 first): gap-free, committed with the transaction or not at all. */
  nextSequence(name: string): Promise<number>;
  /**
   * Writes a resource behind (the audit journal): one append-only row in this transaction, durable
   * with it; the resource is stored, indexed and granted to `orgs` later by whoever takes the journal.
   */
  appendJournal(resource: Resource, orgs: string[]): Promise<void>;
  /** Takes (and deletes) the oldest `limit` journal entries, in the order they were appended. */
  takeJournal(limit: number): Promise<JournalEntry[]>;
}

export interface Storage {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs `fn` in one transaction; retried by the caller on conflicts, never here. */
  transaction<T>(fn: (tx: StorageTx) => Promise<T>): Promise<T>;
  /**
   * Journalled resources of `type` are brought in by `catchUp` before any read of that type outside a
   * transaction, so a read sees everything committed before it (the audit trail registers it).
   */
  beforeRead(type: ResourceType, catchUp: () => Promise<void>): void;
  /** Journal entries not yet taken (for the bench and metrics). */
  journalLength(): Promise<number>;
  /** Reads outside a transaction see committed data only. */
  readResource(type: ResourceType, id: string): Promise<StoredResource | null>;
  readVersion(type: ResourceType, id: string, versionId: number): Promise<StoredResource | null>;
  history(type: ResourceType, id: string): Promise<StoredResource[]>;
  search(query: SearchQuery): Promise<SearchResult>;
  getKey(scope: string, key: string): Promise<string | null>;
  /** Organisations that may see a resource (tenancy). */
  accessOf(type: ResourceType, id: string): Promise<string[]>;
  /** The committed value of the counter `name` (0 when never advanced). */
  currentSequence(name: string): Promise<number>;
  /** Claims the next due outbound message for `destination` order (oldest first per destination); null if none is due. */
  claimOutbound(now: string, leaseMs: number): Promise<OutboxMessage | null>;
  /**
   * Records a send's outcome and ends the lease. With `lease` (the claim's leaseUntil), only while the
   * message still carries that lease: false when it ran out and another claim took over (nothing changed).
   */
  markOutbound(id: number, result: { status: 'sent' | 'failed' | 'pending'; error?: string; nextAttemptAt?: string }, lease?: string): Promise<boolean>;
  /** Calls `listener` after each commit of a transaction that enqueued outbound messages (in this process); returns an unsubscribe. */
  onOutboundCommitted(listener: () => void): () => void;
  listOutbound(filter: { status?: OutboxMessage['status']; destination?: string; limit?: number }): Promise<OutboxMessage[]>;
  /** Deletes keys whose expiry has passed (jti replay entries, old HL7 ACKs); returns how many. */
  purgeExpiredKeys(now: string): Promise<number>;
  ping(): Promise<void>;
  /** 'ok' or the problems: SQLite's PRAGMA integrity_check, then on both backends the invariants a partial write would break. */
  integrityCheck(): Promise<string>;
  close(): Promise<void>;
}
