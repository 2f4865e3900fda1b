/**
 * A FHIR repository over Storage: validation, index extraction, versioning, conditional
 * create and tenancy. Made per request, already limited to what the caller may see
 * (after medplum's context.ts): an organisation sees tenant-scoped resources only when
 * granted, and anything else is 404, never 403.
 */
import type { Resource } from 'fhir/r4.js';
import { conflict, notFound, preconditionFailed } from '../shared/outcomes.ts';
import type { ResourceType, SearchQuery, SearchResult, Storage, StorageTx, StoredResource } from '../storage/types.ts';
import { parseSearch, queryParams } from './search-parse.ts';
import { extractIndex } from './search-params.ts';

/** Types whose instances belong to cases (tenancy applies); the rest is a shared directory. */
export const TENANT_SCOPED = new Set(['Patient', 'RelatedPerson', 'ServiceRequest', 'Task', 'Consent', 'DiagnosticReport', 'DocumentReference', 'Binary', 'Condition', 'Provenance', 'AuditEvent']);

/**
 * Domain rules that must hold whichever way a write arrives (REST, transaction, ESO API, HL7):
 * called inside the write's transaction, before and after the row is written.
 */
export interface WriteHook {
  beforeWrite?(next: Resource, previous: StoredResource | undefined, repo: Repository, tx: StorageTx): Promise<void>;
  afterWrite?(stored: StoredResource, previous: StoredResource | undefined, repo: Repository, tx: StorageTx): Promise<void>;
}

/** A copy without what the server sets (meta.versionId, meta.lastUpdated); an emptied meta goes. */
function withoutServerMeta<T extends Resource>(resource: T): T {
  const clean = { ...resource };
  if (clean.meta) {
    const { versionId: _v, lastUpdated: _l, ...meta } = clean.meta;
    if (Object.keys(meta).length) clean.meta = meta;
    else delete clean.meta;
  }
  return clean;
}

export interface RepositoryOptions {
  baseUrl: string;
  /** Throws an OperationOutcomeError if the resource is not valid (400 base R4, 422 profile). */
  validate: (resource: Resource) => void;
  /** The organisations the caller acts for; undefined = the system itself (no tenancy filter). */
  orgs?: string[];
  /** Organisations to grant access to when a resource is written (beyond the caller's own). */
  grants?: (resource: Resource, tx: StorageTx) => Promise<string[]>;
  hooks?: WriteHook[];
  /**
   * Checks made on every resource about to be returned to a tenant-limited caller (e.g. the
   * consent gate on shared records). false = the resource is invisible (404 / absent).
   */
  readGuards?: ((resource: Resource, repo: Repository) => Promise<boolean>)[];
  /** Who acts (client id or 'mllp'), for Provenance written by hooks. */
  agent?: string;
}

export class Repository {
  constructor(
    readonly storage: Storage,
    readonly opts: RepositoryOptions,
    private readonly tx?: StorageTx,
  ) {}

  /** The same repository bound to a transaction. */
  withTx(tx: StorageTx): Repository {
    return new Repository(this.storage, this.opts, tx);
  }

  /** The same repository without the tenancy filter (domain checks that need the whole picture). */
  asSystem(): Repository {
    return new Repository(this.storage, { ...this.opts, orgs: undefined }, this.tx);
  }

  /** Runs `fn` in the current transaction, or a new one. */
  async inTx<T>(fn: (repo: Repository, tx: StorageTx) => Promise<T>): Promise<T> {
    if (this.tx) return fn(this, this.tx);
    return this.storage.transaction((tx) => fn(this.withTx(tx), tx));
  }

  private async visible(type: string, id: string): Promise<boolean> {
    if (!this.opts.orgs || !TENANT_SCOPED.has(type)) return true;
    const orgs = this.tx ? await this.tx.accessOf(type as ResourceType, id) : await this.storage.accessOf(type as ResourceType, id);
    return orgs.some((o) => this.opts.orgs!.includes(o));
  }

  private async guarded(resource: Resource): Promise<boolean> {
    if (!this.opts.orgs) return true;
    for (const guard of this.opts.readGuards ?? []) if (!(await guard(resource, this))) return false;
    return true;
  }

  private scoped(query: SearchQuery): SearchQuery {
    if (!this.opts.orgs || !TENANT_SCOPED.has(query.type)) return query;
    return { ...query, criteria: [...query.criteria, { kind: 'org', orgs: this.opts.orgs }] };
  }

  async read<T extends Resource = Resource>(type: string, id: string): Promise<StoredResource<T>> {
    const found = this.tx ? await this.tx.readResource(type as ResourceType, id) : await this.storage.readResource(type as ResourceType, id);
    if (!found || !(await this.visible(type, id)) || !(await this.guarded(found.resource))) throw notFound(`${type}/${id} is not known`);
    return found as StoredResource<T>;
  }

  async vread(type: string, id: string, versionId: number): Promise<StoredResource> {
    const found = await this.storage.readVersion(type as ResourceType, id, versionId);
    if (!found || !(await this.visible(type, id)) || !(await this.guarded(found.resource))) throw notFound(`${type}/${id}/_history/${versionId} is not known`);
    return found;
  }

  async history(type: string, id: string): Promise<StoredResource[]> {
    await this.read(type, id);
    return this.storage.history(type as ResourceType, id);
  }

  async search(query: SearchQuery): Promise<SearchResult> {
    const q = this.scoped(query);
    const result = this.tx ? await this.tx.search(q) : await this.storage.search(q);
    if (!this.opts.orgs || !this.opts.readGuards?.length) return result;
    const kept: StoredResource[] = [];
    for (const r of result.resources) if (await this.guarded(r.resource)) kept.push(r);
    return { ...result, resources: kept };
  }

  /** Search with URL-style parameters (e.g. for If-None-Exist). */
  async searchParams(type: string, params: Record<string, string[]>, count = 2): Promise<SearchResult> {
    const parsed = parseSearch(type, params, { strict: true, baseUrl: this.opts.baseUrl });
    return this.search({ ...parsed.query, count });
  }

  private async grant(tx: StorageTx, stored: StoredResource): Promise<void> {
    const orgs = [...(this.opts.orgs ?? []), ...(this.opts.grants ? await this.opts.grants(stored.resource, tx) : [])];
    if (orgs.length) await tx.grantAccess(stored.resource.resourceType, stored.resource.id as string, orgs);
  }

  /**
   * Creates a resource with a server-assigned id. With `ifNoneExist` (a search query string),
   * an existing single match is returned instead (created: false); several matches are 412.
   */
  async create<T extends Resource>(resource: T, opts: { ifNoneExist?: string; assignedId?: string } = {}): Promise<{ stored: StoredResource<T>; created: boolean }> {
    const clean = withoutServerMeta(resource);
    delete clean.id; // ids are the server's
    if (opts.assignedId) clean.id = opts.assignedId;
    this.opts.validate(clean);
    return this.inTx(async (repo, tx) => {
      if (opts.ifNoneExist !== undefined) {
        // Parsed before the lock: a malformed condition is a 400, and the lock names the parsed
        // criteria (JSON-escaped), never raw text (PostgreSQL cannot take a NUL in a lock key).
        const { query } = parseSearch(resource.resourceType, queryParams(new URLSearchParams(opts.ifNoneExist)), { strict: true, baseUrl: this.opts.baseUrl });
        await tx.lock(`if-none-exist:${resource.resourceType}:${JSON.stringify(query.criteria)}`);
        const found = await repo.search({ ...query, count: 2 });
        if (found.resources.length > 1) throw preconditionFailed(`If-None-Exist matched ${found.resources.length} resources`);
        if (found.resources.length === 1) return { stored: found.resources[0] as StoredResource<T>, created: false };
      }
      for (const h of this.opts.hooks ?? []) await h.beforeWrite?.(clean, undefined, repo, tx);
      const stored = await tx.insertResource(clean, extractIndex(clean, this.opts.baseUrl));
      await repo.grant(tx, stored);
      for (const h of this.opts.hooks ?? []) await h.afterWrite?.(stored, undefined, repo, tx);
      return { stored: stored as StoredResource<T>, created: true };
    });
  }

  /**
   * Writes a new version. `ifMatch` is the expected version (from If-Match: W/"n"); a stale
   * one is 412. The check is in the database (UPDATE ... WHERE version = ?).
   */
  async update<T extends Resource>(resource: T, opts: { ifMatch?: number } = {}): Promise<StoredResource<T>> {
    const clean = withoutServerMeta(resource);
    this.opts.validate(clean);
    return this.inTx(async (repo, tx) => {
      // Writers of one resource queue here (across instances on PostgreSQL), so each reads the
      // latest version: without If-Match the last writer wins and no update is lost.
      await tx.lock(`resource:${resource.resourceType}/${resource.id}`);
      const current = await repo.read(resource.resourceType, resource.id as string);
      if (opts.ifMatch !== undefined && opts.ifMatch !== current.versionId) {
        throw preconditionFailed(`Version conflict: ${resource.resourceType}/${resource.id} is at version ${current.versionId}, If-Match was ${opts.ifMatch}`);
      }
      for (const h of this.opts.hooks ?? []) await h.beforeWrite?.(clean, current, repo, tx);
      const stored = await tx.updateResource(clean, current.versionId, extractIndex(clean, this.opts.baseUrl));
      if (!stored) {
        if (opts.ifMatch !== undefined) throw preconditionFailed(`Version conflict on ${resource.resourceType}/${resource.id}`);
        throw conflict(`${resource.resourceType}/${resource.id} was changed by another request; retry`);
      }
      await repo.grant(tx, stored);
      for (const h of this.opts.hooks ?? []) await h.afterWrite?.(stored, current, repo, tx);
      return stored as StoredResource<T>;
    });
  }
}
