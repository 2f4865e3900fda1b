/**
 * Family links: a read-only view of one case for the family, made by the treating team. The link carries an
 * unguessable capability (32 random bytes); only its SHA-256 is stored (the key table, with its expiry), so a
 * copy of the database opens nothing. A link expires (30 days by default), can be revoked, and shows nothing
 * before the child's date of birth is given; after MAX_MISSES wrong dates it locks for LOCK_MINUTES.
 */
import { createHash, randomBytes } from 'node:crypto';
import { conflict } from '../shared/outcomes.ts';
import type { Storage, StorageTx } from '../storage/types.ts';

/** Work committed with the link's own keys (its AuditEvent): both or neither. */
export type Within = (tx: StorageTx) => Promise<void>;

const SCOPE = 'family-link';
const REVOKED = 'family-link-revoked';
const OF_CASE = 'family-link-of-case';
const MISS = 'family-link-miss';
export const MAX_MISSES = 5;
export const LOCK_MINUTES = 15;
const MAX_LINKS_PER_CASE = 50;

export interface FamilyLink {
  /** Hash of the capability: names the link without opening it. */
  hash: string;
  taskId: string;
  /** The requesting organisation (ODS) that made it: the family sees the case as it does. */
  organization: string;
  createdAt: string;
  expiresAt: string;
}

const hashOf = (capability: string) => createHash('sha256').update(capability).digest('base64url');
const CAPABILITY_RE = /^[A-Za-z0-9_-]{43}$/;

export class FamilyLinks {
  constructor(private readonly storage: Storage, private readonly days: number) {}

  /** One key written in its own (short) transaction. */
  private put(scope: string, key: string, value: string, expiresAt: string): Promise<boolean> {
    return this.storage.transaction((tx) => tx.putKey(scope, key, value, expiresAt));
  }

  /** A new link for the case; returns the capability (shown once, never stored). */
  async create(taskId: string, organization: string, within?: Within, now = new Date()): Promise<string> {
    const capability = randomBytes(32).toString('base64url');
    const link: FamilyLink = { hash: hashOf(capability), taskId, organization, createdAt: now.toISOString(), expiresAt: new Date(now.getTime() + this.days * 86_400_000).toISOString() };
    // The case's index slot (a free or expired one) and the link in one transaction: a link that works is always listed, so it can be revoked.
    await this.storage.transaction(async (tx) => {
      let listed = false;
      for (let n = 1; n <= MAX_LINKS_PER_CASE && !listed; n++) listed = await tx.putKey(OF_CASE, `${taskId}:${n}`, link.hash, link.expiresAt);
      if (!listed) throw conflict(`This case already has ${MAX_LINKS_PER_CASE} family links: revoke one or wait for one to expire`);
      await tx.putKey(SCOPE, link.hash, JSON.stringify(link), link.expiresAt);
      await within?.(tx);
    });
    return capability;
  }

  /** The case's links that are still live (not expired, not revoked), newest last. */
  async ofCase(taskId: string): Promise<FamilyLink[]> {
    const out: FamilyLink[] = [];
    for (let n = 1; n <= MAX_LINKS_PER_CASE; n++) {
      const hash = await this.storage.getKey(OF_CASE, `${taskId}:${n}`);
      if (hash === null) continue; // an expired slot: later ones may still be live
      const link = await this.byHash(hash);
      if (link) out.push(link);
    }
    return out;
  }

  /** Revokes a link of this case (by its hash); false when the case has no such live link. */
  async revoke(taskId: string, hash: string, within?: Within): Promise<boolean> {
    const link = await this.byHash(hash);
    if (!link || link.taskId !== taskId) return false;
    await this.storage.transaction(async (tx) => {
      await tx.putKey(REVOKED, hash, new Date().toISOString(), link.expiresAt);
      await within?.(tx);
    });
    return true;
  }

  private async byHash(hash: string): Promise<FamilyLink | undefined> {
    const raw = await this.storage.getKey(SCOPE, hash);
    if (raw === null || (await this.storage.getKey(REVOKED, hash)) !== null) return undefined;
    return JSON.parse(raw) as FamilyLink;
  }

  /** The live link a capability opens (undefined: unknown, expired or revoked: the same answer for all three). */
  open(capability: string): Promise<FamilyLink | undefined> {
    return CAPABILITY_RE.test(capability) ? this.byHash(hashOf(capability)) : Promise.resolve(undefined);
  }

  /** Misses in the current lockout window. */
  async misses(link: FamilyLink): Promise<number> {
    let n = 0;
    // Every live slot counts: an earlier miss that expired leaves a gap that later ones do not fill.
    for (let i = 1; i <= MAX_MISSES; i++) if ((await this.storage.getKey(MISS, `${link.hash}:${i}`)) !== null) n++;
    return n;
  }

  /** Records a wrong date of birth; returns the misses now counted. */
  async miss(link: FamilyLink, now = new Date()): Promise<number> {
    const until = new Date(now.getTime() + LOCK_MINUTES * 60_000).toISOString();
    for (let n = 1; n <= MAX_MISSES; n++) if (await this.put(MISS, `${link.hash}:${n}`, now.toISOString(), until)) return n;
    return MAX_MISSES;
  }
}
