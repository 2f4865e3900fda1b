/**
 * A FHIR repository over Storage: validation, index extraction, versioning, conditional
 * create and tenancy. Made per request, already limited to what the caller may see
 * (after medplum's context.ts): an organisation sees tenant-scoped resources only when
 * granted, and anything else is 404, never 403.
 */
import type { Clinician } from '../shared/call-context.ts';
import type { Resource } from 'fhir/r4.js';
import { conflict, isOutcomeError, notFound, preconditionFailed } from '../shared/outcomes.ts';
import { newResourceId } from '../shared/resource-id.ts';
import type { ResourceType, SearchQuery, SearchResult, Storage, StorageTx, StoredResource } from '../storage/types.ts';
import { parseSearch, queryParams } from './search-parse.ts';
import { extractIndex, type SearchParameterRegistry } from './search-params.ts';

/** Types whose instances belong to cases (tenancy applies); the rest is a shared directory. */
/** A count made after the read checks pages through matches this many at a time, up to MAX_FILTERED_COUNT. */
const COUNT_PAGE = 500;
const MAX_FILTERED_COUNT = 20_000;

export const TENANT_SCOPED = new Set(['Patient', 'RelatedPerson', 'ServiceRequest', 'Task', 'Consent', 'DiagnosticReport', 'DocumentReference', 'Binary', 'Condition', 'Provenance', 'AuditEvent', 'Subscription']);

/**
 * Who may see and write what: the case-access chain (domain/access/chain.ts), asked by every
 * read, search and write of a repository acting for an organisation. The system (no orgs) is
 * not asked. The Repository enforces; the policy decides.
 */
export interface AccessPolicy {
  /** Narrows a search before it runs (the storage form of the read checks that have one). */
  scope(query: SearchQuery, repo: Repository): SearchQuery;
  /**
   * false = the resource is invisible to the caller (404 / absent, as if it did not exist).
   * `afterSearch`: the resource came from a scoped search (checks with a storage form were asked there).
   */
  canSee(resource: Resource, repo: Repository, afterSearch?: boolean): Promise<boolean>;
  /** True when canSee may hide resources a scoped search returns (their count is then made after it). */
  filtersAfterSearch(type: string): boolean;
  /** Throws an OperationOutcomeError when the caller may not make this write. */
  checkWrite(next: Resource, previous: StoredResource | undefined, repo: Repository, tx: StorageTx): Promise<void>;
}

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
  /** The server's search parameters: what writes are indexed by and searches parsed with (built once by loadConformance). */
  searchParams: SearchParameterRegistry;
  /** Throws an OperationOutcomeError if the resource is not valid (400 base R4, 422 profile). */
  validate: (resource: Resource) => void;
  /** The organisations the caller acts for; undefined = the system itself (no tenancy filter). */
  orgs?: string[];
  /** Organisations to grant access to when a resource is written (beyond the caller's own); `repo` is the writer's, in the write's transaction. */
  grants?: (resource: Resource, repo: Repository, fresh?: boolean) => Promise<string[]>;
  hooks?: WriteHook[];
  /** The case-access chain; without one, a tenant-limited repository refuses nothing and hides nothing beyond grants. */
  access?: AccessPolicy;
  /** Who acts (client id or 'mllp'), for Provenance written by hooks. */
  agent?: string;
  /** The person acting through the clinician app, for Provenance written by hooks. */
  clinician?: Clinician;
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

  /** True when the organisations the caller acts for were granted this resource (tenancy's storage form). */
  async isGranted(type: string, id: string): Promise<boolean> {
    if (!this.opts.orgs || !TENANT_SCOPED.has(type)) return true;
    const orgs = this.tx ? await this.tx.accessOf(type as ResourceType, id) : await this.storage.accessOf(type as ResourceType, id);
    return orgs.some((o) => this.opts.orgs!.includes(o));
  }

  /** The case-access chain's read checks, for a caller acting for an organisation. */
  private async canSee(resource: Resource): Promise<boolean> {
    if (!this.opts.orgs) return true;
    return this.opts.access ? this.opts.access.canSee(resource, this) : this.isGranted(resource.resourceType, resource.id as string);
  }

  private scoped(query: SearchQuery): SearchQuery {
    if (!this.opts.orgs) return query;
    if (this.opts.access) return this.opts.access.scope(query, this);
    if (!TENANT_SCOPED.has(query.type)) return query;
    return { ...query, criteria: [...query.criteria, { kind: 'org', orgs: this.opts.orgs }] };
  }

  async read<T extends Resource = Resource>(type: string, id: string): Promise<StoredResource<T>> {
    const found = this.tx ? await this.tx.readResource(type as ResourceType, id) : await this.storage.readResource(type as ResourceType, id);
    if (!found || !(await this.canSee(found.resource))) throw notFound(`${type}/${id} is not known`);
    return found as StoredResource<T>;
  }

  async vread(type: string, id: string, versionId: number): Promise<StoredResource> {
    const found = await this.storage.readVersion(type as ResourceType, id, versionId);
    // The caller must see the resource as it is now (tenancy, consent) and the version asked for.
    if (!found || !(await this.canSeeCurrent(type, id)) || !(await this.canSee(found.resource))) throw notFound(`${type}/${id}/_history/${versionId} is not known`);
    return found;
  }

  private async canSeeCurrent(type: string, id: string): Promise<boolean> {
    if (!this.opts.orgs) return true;
    const current = this.tx ? await this.tx.readResource(type as ResourceType, id) : await this.storage.readResource(type as ResourceType, id);
    return !!current && this.canSee(current.resource);
  }

  async history(type: string, id: string): Promise<StoredResource[]> {
    await this.read(type, id);
    return this.storage.history(type as ResourceType, id);
  }

  async search(query: SearchQuery): Promise<SearchResult> {
    const q = this.scoped(query);
    const run = (x: SearchQuery) => (this.tx ? this.tx.search(x) : this.storage.search(x));
    const result = await run(q);
    if (!this.opts.orgs || !this.opts.access?.filtersAfterSearch(q.type)) return result;
    const kept: StoredResource[] = [];
    for (const r of result.resources) if (await this.opts.access.canSee(r.resource, this, true)) kept.push(r);
    if (q.total !== 'accurate') return { ...result, resources: kept };
    // Counts after the filters: a total never counts what the caller would not be shown.
    let total = 0;
    for (let offset = 0; ; offset += COUNT_PAGE) {
      const page = await run({ ...q, count: COUNT_PAGE, offset, total: 'none' });
      for (const r of page.resources) if (await this.opts.access.canSee(r.resource, this, true)) total++;
      if (!page.hasMore || offset >= MAX_FILTERED_COUNT) break;
    }
    return { ...result, resources: kept, total };
  }

  /** Parses URL-style search parameters strictly (400 for anything unknown or malformed), without searching. */
  searchParamsQuery(type: string, params: Record<string, string[]>): SearchQuery {
    return parseSearch(type, params, { strict: true, baseUrl: this.opts.baseUrl, searchParams: this.opts.searchParams }).query;
  }

  /** Search with URL-style parameters (e.g. for If-None-Exist). */
  async searchParams(type: string, params: Record<string, string[]>, count = 2): Promise<SearchResult> {
    const parsed = parseSearch(type, params, { strict: true, baseUrl: this.opts.baseUrl, searchParams: this.opts.searchParams });
    return this.search({ ...parsed.query, count });
  }

  /**
   * The organisations a resource being written is granted: the writer's own and the case's
   * (DomainRules.grants). `fresh`: its id was made just now, so nothing stored can refer to it yet.
   */
  private async grantsOf(resource: Resource, fresh = false): Promise<string[]> {
    return [...(this.opts.orgs ?? []), ...(this.opts.grants ? await this.opts.grants(resource, this, fresh) : [])];
  }

  private async grant(tx: StorageTx, stored: StoredResource): Promise<void> {
    const orgs = await this.grantsOf(stored.resource);
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
        const { query } = parseSearch(resource.resourceType, queryParams(new URLSearchParams(opts.ifNoneExist)), { strict: true, baseUrl: this.opts.baseUrl, searchParams: this.opts.searchParams });
        await tx.lock(`if-none-exist:${resource.resourceType}:${JSON.stringify(query.criteria)}`);
        const found = await repo.search({ ...query, count: 2 });
        if (found.resources.length > 1) throw preconditionFailed(`If-None-Exist matched ${found.resources.length} resources`);
        if (found.resources.length === 1) return { stored: found.resources[0] as StoredResource<T>, created: false };
      }
      if (this.opts.orgs) await this.opts.access?.checkWrite(clean, undefined, repo, tx);
      for (const h of this.opts.hooks ?? []) await h.beforeWrite?.(clean, undefined, repo, tx);
      // The id is known before the insert, so the grants go in the insert's own statement.
      const fresh = clean.id === undefined;
      clean.id ??= newResourceId();
      const [stored] = await tx.insertBatch([{ resource: clean, index: extractIndex(clean, this.opts.searchParams, this.opts.baseUrl), orgs: await repo.grantsOf(clean, fresh) }]);
      for (const h of this.opts.hooks ?? []) await h.afterWrite?.(stored, undefined, repo, tx);
      return { stored: stored as StoredResource<T>, created: true };
    });
  }

  /**
   * Writes a new version. `ifMatch` is the expected version (from If-Match: W/"n"); a stale
   * one is 412. The check is in the database (UPDATE ... WHERE version = ?).
   */
  async update<T extends Resource>(resource: T, opts: { ifMatch?: number; ifAbsent?: () => Error } = {}): Promise<StoredResource<T>> {
    const clean = withoutServerMeta(resource);
    this.opts.validate(clean);
    return this.inTx(async (repo, tx) => {
      // Writers of one resource queue here (across instances on PostgreSQL), so each reads the
      // latest version: without If-Match the last writer wins and no update is lost.
      await tx.lock(`resource:${resource.resourceType}/${resource.id}`);
      // `ifAbsent`: what the caller answers when there is nothing (it may see) to update; the same for both, so no oracle.
      const current = await repo.read(resource.resourceType, resource.id as string).catch((e: unknown) => {
        throw opts.ifAbsent && isOutcomeError(e) && e.status === 404 ? opts.ifAbsent() : e;
      });
      if (opts.ifMatch !== undefined && opts.ifMatch !== current.versionId) {
        throw preconditionFailed(`Version conflict: ${resource.resourceType}/${resource.id} is at version ${current.versionId}, If-Match was ${opts.ifMatch}`);
      }
      if (this.opts.orgs) await this.opts.access?.checkWrite(clean, current, repo, tx);
      for (const h of this.opts.hooks ?? []) await h.beforeWrite?.(clean, current, repo, tx);
      const stored = await tx.updateResource(clean, current.versionId, extractIndex(clean, this.opts.searchParams, this.opts.baseUrl));
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
