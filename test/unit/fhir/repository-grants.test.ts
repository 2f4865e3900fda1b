/**
 * What a created resource is granted (src/fhir/repository.ts): the writer's organisations and the
 * case's (DomainRules.grants), stored with the resource itself. The rules are told whether the id
 * was made just now (nothing stored can refer to it yet) or given by the writer (a transaction's
 * entries, written in any order, may already refer to it). Real SQLite storage and Repository.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Patient, Resource } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantsFor } from '../../../src/domain/grants.ts';
import { loadConformance } from '../../../src/fhir/conformance.ts';
import { Repository } from '../../../src/fhir/repository.ts';
import { openStorage } from '../../../src/storage/open.ts';
import type { Storage } from '../../../src/storage/types.ts';

describe('the grants of a created resource', () => {
  let dir: string;
  let storage: Storage;
  const told: { id?: string; fresh?: boolean }[] = [];
  const repo = (orgs?: string[]) => new Repository(storage, {
    baseUrl: 'http://eso.test/fhir', searchParams: loadConformance().searchParams, validate: () => undefined, orgs,
    grants: async (resource: Resource, _repo: Repository, fresh?: boolean) => {
      told.push({ id: resource.id, fresh });
      return ['CASE1'];
    },
  });
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eso-repo-grants-'));
    storage = await openStorage({ dataDir: dir });
  });
  afterAll(async () => {
    await storage?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when the server makes the id, then the rules see that id, told it is fresh, and the writer and the case may read it at once', async () => {
    told.length = 0;
    const { stored } = await repo(['RA7']).create<Patient>({ resourceType: 'Patient', id: 'ignored' });
    expect(told).toEqual([{ id: stored.resource.id, fresh: true }]);
    expect(stored.resource.id).not.toBe('ignored');
    expect((await storage.accessOf('Patient', stored.resource.id!)).sort()).toEqual(['CASE1', 'RA7']);
  });

  it('when the writer gives the id, then the rules are told it is not fresh', async () => {
    told.length = 0;
    await repo(['RA7']).create<Patient>({ resourceType: 'Patient' }, { assignedId: 'given-1' });
    expect(told).toEqual([{ id: 'given-1', fresh: false }]);
  });

  it('when a Patient is fresh, then the case rules grant nothing beyond the writer; with a given id they look for the requests naming it', async () => {
    const plain = new Repository(storage, { baseUrl: 'http://eso.test/fhir', searchParams: loadConformance().searchParams, validate: () => undefined });
    const seen: string[] = [];
    const watching = new Proxy(plain, { get: (t, k, r) => (k === 'search' ? (q: { type: string }) => { seen.push(q.type); return t.search(q as never); } : Reflect.get(t, k, r)) });
    expect(await grantsFor({ resourceType: 'Patient', id: 'new-1' }, watching, true)).toEqual([]);
    expect(seen).toEqual([]);
    expect(await grantsFor({ resourceType: 'Patient', id: 'given-2' }, watching, false)).toEqual([]);
    expect(seen).toEqual(['ServiceRequest']);
  });
});
