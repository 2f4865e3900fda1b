/**
 * What the domain reads while deciding: resources by reference and simple searches, inside a
 * write in the same transaction. Two views:
 * - `ofRepo`: as the repository's caller sees it. Write rules and grants decide with this one,
 *   so a reference to something the writer cannot see is exactly a reference to nothing (no
 *   oracle, and no grant follows it).
 * - `ofSystem`: the whole picture, for the read checks themselves (the consent gate) and for
 *   what the server shows a party about its own case (the timeline).
 */
import type { Reference, Resource } from 'fhir/r4.js';
import type { Repository } from '../fhir/repository.ts';
import { parseSearch } from '../fhir/search-parse.ts';
import type { SearchParameterRegistry } from '../fhir/search-params.ts';
import type { ResourceType, SearchQuery, SearchResult, StoredResource } from '../storage/types.ts';
import { isOutcomeError } from '../shared/outcomes.ts';
import { keyOf, splitKey } from './codes.ts';

/** The two storage operations a Reader needs (StorageTx and a Repository both offer them). */
export interface Source {
  readResource(type: ResourceType, id: string): Promise<StoredResource | null>;
  search(query: SearchQuery): Promise<SearchResult>;
}

/**
 * A repository as a Source: what the caller may not see reads as nothing. A class, not an object of
 * closures: a Reader is made for every rule and check of every write.
 */
class RepoSource implements Source {
  constructor(private readonly repo: Repository) {}

  async readResource(type: ResourceType, id: string): Promise<StoredResource | null> {
    try {
      return await this.repo.read(type, id);
    } catch (e) {
      if (isOutcomeError(e)) return null;
      throw e;
    }
  }

  search(q: SearchQuery): Promise<SearchResult> {
    return this.repo.search(q);
  }
}

/** Searches return at most this many: a case has a handful of each type. */
const MAX_RESULTS = 500;

export class Reader {
  private readonly cache = new Map<string, Promise<Resource | undefined>>();

  constructor(private readonly source: Source, readonly baseUrl: string, private readonly searchParams: SearchParameterRegistry) {}

  /** A Reader that sees what the repository's caller sees (same transaction if it has one). */
  static ofRepo(repo: Repository): Reader {
    return new Reader(new RepoSource(repo), repo.opts.baseUrl, repo.opts.searchParams);
  }

  /** A Reader over a repository without its read checks: the whole picture (same transaction if it has one). */
  static ofSystem(repo: Repository): Reader {
    return Reader.ofRepo(repo.asSystem());
  }

  /** The resource a "Type/id" key names; cached for the life of this Reader (one decision). */
  async byKey<T extends Resource>(key: string | undefined): Promise<T | undefined> {
    if (!key) return undefined;
    let hit = this.cache.get(key);
    if (!hit) {
      const [type, id] = splitKey(key);
      hit = this.source.readResource(type as ResourceType, id).then((s) => s?.resource);
      this.cache.set(key, hit);
    }
    return (await hit) as T | undefined;
  }

  /** The resource a Reference points at (relative, absolute on this server, or versioned). */
  ref<T extends Resource>(ref: Reference | undefined): Promise<T | undefined> {
    return this.byKey<T>(keyOf(ref, this.baseUrl));
  }

  /** "Type/id" of a reference, as this server writes it. */
  key(ref: Reference | undefined): string | undefined {
    return keyOf(ref, this.baseUrl);
  }

  /** Search with URL-style parameters (`{ patient: 'Patient/1', status: 'active' }`). */
  async search<T extends Resource>(type: string, params: Record<string, string>): Promise<T[]> {
    const query: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(params)) query[k] = [v];
    const parsed = parseSearch(type, query, { strict: true, baseUrl: `${this.baseUrl}`, searchParams: this.searchParams });
    const result = await this.source.search({ ...parsed.query, count: MAX_RESULTS, offset: 0, total: 'none' });
    return result.resources.map((r) => r.resource as T);
  }
}
