/**
 * The server's own signing keys (ES384), in one JSON file: {"keys": [private JWK + createdAt
 * (+ retiredAt)]}. The newest key without retiredAt signs; retired keys still verify until the
 * tokens they signed have expired (retiredAt + token lifetime + 60 s), then they are dropped.
 * Created on first start; `npm run cli -- keys rotate` rotates it while the server runs.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { createJsonFileExclusive, readJsonFile, writeJsonFileAtomic } from './json-file.ts';
import { publicPart } from './jwk-select.ts';

export const SERVER_KEY_ALG = 'ES384';
/** Margin for clock skew between the instances that share the key file (seconds). */
export const RETIRED_KEY_GRACE_SECONDS = 60;

export interface StoredServerKey extends JWK {
  kid: string;
  alg: typeof SERVER_KEY_ALG;
  createdAt: string;
  retiredAt?: string;
}

export interface ServerKeyFile {
  keys: StoredServerKey[];
}

/** A new extractable ES384 key pair as a private JWK, kid = its RFC 7638 thumbprint. */
export async function newServerKey(now = new Date()): Promise<StoredServerKey> {
  const { privateKey, publicKey } = await generateKeyPair(SERVER_KEY_ALG, { extractable: true });
  const pub = await exportJWK(publicKey);
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(pub), alg: SERVER_KEY_ALG, use: 'sig', createdAt: now.toISOString() };
}

/** Reads the file: a {keys:[...]} set, or a single private JWK (ESO_SIGNING_KEY_FILE given by hand). */
export function parseServerKeyFile(json: unknown): ServerKeyFile {
  const raw = json as { keys?: unknown } | undefined;
  const list = (Array.isArray(raw?.keys) ? raw.keys : raw && typeof raw === 'object' ? [raw] : []) as Partial<StoredServerKey>[];
  const keys = list.map((k, i) => {
    if (k.kty !== 'EC' || k.crv !== 'P-384' || typeof k.d !== 'string') throw new Error(`Signing key ${i}: must be a private EC P-384 JWK (ES384)`);
    if (typeof k.kid !== 'string' || !k.kid) throw new Error(`Signing key ${i}: needs a kid`);
    return { ...k, alg: SERVER_KEY_ALG, createdAt: k.createdAt ?? new Date(0).toISOString() } as StoredServerKey;
  });
  if (!keys.some((k) => !k.retiredAt)) throw new Error('Signing key file: no current key (every key is retired)');
  return { keys };
}

/** Drops keys retired longer ago than a token can live (+ grace). */
export function pruneRetired(file: ServerKeyFile, tokenLifetimeSeconds: number, now = Date.now()): ServerKeyFile {
  const horizon = now - (tokenLifetimeSeconds + RETIRED_KEY_GRACE_SECONDS) * 1000;
  return { keys: file.keys.filter((k) => !k.retiredAt || Date.parse(k.retiredAt) > horizon) };
}

/** The signing key: the newest one not retired. */
export function currentKey(file: ServerKeyFile): StoredServerKey {
  const current = file.keys.filter((k) => !k.retiredAt).sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  if (!current) throw new Error('No current signing key');
  return current;
}

/** Loads the key file, creating it with one fresh key if it does not exist. */
export async function loadOrCreateKeyFile(path: string): Promise<ServerKeyFile> {
  const existing = await readJsonFile(path);
  if (existing !== undefined) return parseServerKeyFile(existing);
  const created: ServerKeyFile = { keys: [await newServerKey()] };
  // Two instances starting together: the first writer wins, the other reads its key.
  if (await createJsonFileExclusive(path, created)) return created;
  return parseServerKeyFile(await readJsonFile(path));
}

/** Adds a new current key, retires the previous ones now, drops those retired long enough. */
export async function rotateKeyFile(path: string, tokenLifetimeSeconds: number, now = new Date()): Promise<{ current: string; retired: string[]; dropped: string[] }> {
  const file = await loadOrCreateKeyFile(path);
  const fresh = await newServerKey(now);
  const retired: string[] = [];
  const keys = file.keys.map((k) => {
    if (k.retiredAt) return k;
    retired.push(k.kid);
    return { ...k, retiredAt: now.toISOString() };
  });
  const next = pruneRetired({ keys: [...keys, fresh] }, tokenLifetimeSeconds, now.getTime());
  const dropped = keys.map((k) => k.kid).filter((kid) => !next.keys.some((k) => k.kid === kid));
  await writeJsonFileAtomic(path, next);
  return { current: fresh.kid, retired, dropped };
}

/** The public JWKS published at /auth/jwks. */
export function publicJwks(file: ServerKeyFile): { keys: JWK[] } {
  return { keys: file.keys.map((k) => ({ ...publicPart(k), alg: SERVER_KEY_ALG, use: 'sig' })) };
}

/** Imports the private key for signing. */
export async function importSigningKey(k: StoredServerKey): Promise<CryptoKey> {
  const { createdAt: _c, retiredAt: _r, ...jwk } = k;
  return (await importJWK(jwk, SERVER_KEY_ALG)) as CryptoKey;
}
