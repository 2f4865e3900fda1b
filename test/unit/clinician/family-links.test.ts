/** Family links over the real key table: a link opens until it expires or is revoked, and only its hash is stored. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FamilyLinks, MAX_MISSES } from '../../../src/clinician/family-links.ts';
import { openStorage } from '../../../src/storage/open.ts';
import type { Storage } from '../../../src/storage/types.ts';

let dir: string;
let storage: Storage;
let links: FamilyLinks;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'family-links-'));
  storage = await openStorage({ dataDir: dir });
  links = new FamilyLinks(storage, 30);
});

afterAll(async () => {
  await storage.close();
  await rm(dir, { recursive: true, force: true });
});

describe('family links', () => {
  it('when a link is made, then it opens its case for 30 days and the capability itself is not stored', async () => {
    const cap = await links.create('task-1', 'RTT');
    const link = await links.open(cap);
    expect(link).toMatchObject({ taskId: 'task-1', organization: 'RTT' });
    expect(Date.parse(link!.expiresAt) - Date.parse(link!.createdAt)).toBe(30 * 86_400_000);
    expect(await storage.getKey('family-link', cap)).toBeNull();
  });

  it('when a link\'s days have passed, then it opens nothing', async () => {
    const cap = await links.create('task-2', 'RTT', undefined, new Date(Date.now() - 31 * 86_400_000));
    expect(await links.open(cap)).toBeUndefined();
  });

  it('when the case\'s first link has expired, then the later live links are still listed (so they can be revoked), and an expired slot is used again', async () => {
    await links.create('task-gap', 'RTT', undefined, new Date(Date.now() - 31 * 86_400_000));
    const live = await links.open(await links.create('task-gap', 'RTT'));
    expect((await links.ofCase('task-gap')).map((l) => l.hash)).toEqual([live!.hash]);
    const again = await links.open(await links.create('task-gap', 'RTT'));
    expect((await links.ofCase('task-gap')).map((l) => l.hash).sort()).toEqual([live!.hash, again!.hash].sort());
  });

  it('when a case has as many links as it may, then another is refused (409) and nothing is stored', async () => {
    const few = new FamilyLinks(storage, 30);
    for (let i = 0; i < 50; i++) await few.create('task-full', 'RTT');
    await expect(few.create('task-full', 'RTT')).rejects.toMatchObject({ status: 409 });
    expect(await few.ofCase('task-full')).toHaveLength(50);
  });

  it('when what commits with a link (its AuditEvent) fails, then no link was made and none was revoked: both or neither', async () => {
    const fail = async () => { throw new Error('audit write failed'); };
    await expect(links.create('task-atomic', 'RTT', fail)).rejects.toThrow('audit write failed');
    expect(await links.ofCase('task-atomic')).toEqual([]);
    let seen = 0;
    const cap = await links.create('task-atomic', 'RTT', async (tx) => { seen += (await tx.getKey('family-link-of-case', 'task-atomic:1')) ? 1 : 0; });
    expect(seen).toBe(1); // the audit ran inside the link's own transaction
    const { hash } = (await links.open(cap))!;
    await expect(links.revoke('task-atomic', hash, fail)).rejects.toThrow('audit write failed');
    expect(await links.open(cap)).toBeDefined();
  });

  it('when a link is revoked, then it opens nothing, and another case cannot revoke it', async () => {
    const cap = await links.create('task-3', 'RTT');
    const { hash } = (await links.open(cap))!;
    expect(await links.revoke('task-other', hash)).toBe(false);
    expect(await links.open(cap)).toBeDefined();
    expect(await links.revoke('task-3', hash)).toBe(true);
    expect(await links.open(cap)).toBeUndefined();
    expect(await links.ofCase('task-3')).toEqual([]);
  });

  it('when a guessed or malformed capability is tried, then it opens nothing', async () => {
    expect(await links.open('a'.repeat(43))).toBeUndefined();
    expect(await links.open('../etc/passwd')).toBeUndefined();
  });

  it('when wrong dates of birth are given, then misses are counted up to the lockout', async () => {
    const link = (await links.open(await links.create('task-4', 'RTT')))!;
    for (let i = 1; i <= MAX_MISSES; i++) expect(await links.miss(link)).toBe(i);
    expect(await links.misses(link)).toBe(MAX_MISSES);
  });
});
