/**
 * Registering clients in the clients file (used by `npm run cli -- client ...` and the test
 * helpers): a key pair is generated, the public JWK goes into the file, the private JWK is
 * returned (and written where asked, mode 0600). Entries the tool does not know are kept as they are.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { parseClientsFile, type RegisteredClient } from './client-file.ts';
import { readJsonFile, writeJsonFileAtomic } from './json-file.ts';

export type ClientAlg = 'ES384' | 'RS384';

export interface AddClientOptions {
  clientId: string;
  organization: string;
  organizationName?: string;
  scopes?: string[];
  alg?: ClientAlg;
  /** Register this JWKS URL instead of generating a key. */
  jwksUri?: string;
  /** Where to write the private JWK (mode 0600). */
  keyOut?: string;
  /** Replace an existing client with the same id. */
  replace?: boolean;
  /** Which MLLP connections may send HL7 v2 for the organisation: source addresses and/or a client certificate's SHA-256. */
  mllp?: { addresses?: string[]; certificateSha256?: string; ackMode?: 'hl7' | 'legacy' };
}

export const DEFAULT_SCOPES = ['system/*.cruds'];

/** A new key pair for a client: the private JWK (kid = thumbprint, alg set) and its public half. */
export async function generateClientKey(alg: ClientAlg = 'ES384'): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS384' ? { modulusLength: 3072 } : {}) });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub);
  return { privateJwk: { ...(await exportJWK(privateKey)), kid, alg }, publicJwk: { ...pub, kid, alg, use: 'sig' } };
}

async function readRaw(file: string): Promise<{ clients: Record<string, unknown>[] } & Record<string, unknown>> {
  const json = (await readJsonFile(file)) ?? { clients: [] };
  parseClientsFile(json); // refuse to edit a file that does not parse
  return json as { clients: Record<string, unknown>[] };
}

/** Adds (or replaces) a client; returns its private JWK (undefined with jwksUri). */
export async function addClient(file: string, opts: AddClientOptions): Promise<{ client: RegisteredClient; privateJwk?: JWK }> {
  const raw = await readRaw(file);
  const exists = raw.clients.some((c) => c.client_id === opts.clientId);
  if (exists && !opts.replace) throw new Error(`Client ${opts.clientId} is already registered in ${file}`);
  const key = opts.jwksUri ? undefined : await generateClientKey(opts.alg);
  const entry: Record<string, unknown> = {
    client_id: opts.clientId,
    organization: opts.organization,
    ...(opts.organizationName ? { organization_name: opts.organizationName } : {}),
    scopes: opts.scopes?.length ? opts.scopes : DEFAULT_SCOPES,
    ...(key ? { jwks: { keys: [key.publicJwk] } } : { jwks_uri: opts.jwksUri }),
    ...(opts.mllp ? { mllp: mllpEntry(opts.mllp) } : {}),
  };
  const next = { ...raw, clients: [...raw.clients.filter((c) => c.client_id !== opts.clientId), entry] };
  const client = parseClientsFile(next).find((c) => c.clientId === opts.clientId)!;
  if (key && opts.keyOut) await writeJsonFileAtomic(opts.keyOut, key.privateJwk, 0o600);
  await writeJsonFileAtomic(file, next, 0o644);
  return { client, privateJwk: key?.privateJwk };
}

function mllpEntry(m: NonNullable<AddClientOptions['mllp']>): Record<string, unknown> {
  return {
    ...(m.addresses?.length ? { addresses: m.addresses } : {}),
    ...(m.certificateSha256 ? { certificate_sha256: m.certificateSha256 } : {}),
    ...(m.ackMode ? { ack_mode: m.ackMode } : {}),
  };
}

/** Removes a client; false when it was not registered. Its tokens die within their lifetime (≤ 5 min). */
export async function removeClient(file: string, clientId: string): Promise<boolean> {
  const raw = await readRaw(file);
  const kept = raw.clients.filter((c) => c.client_id !== clientId);
  if (kept.length === raw.clients.length) return false;
  await writeJsonFileAtomic(file, { ...raw, clients: kept }, 0o644);
  return true;
}

export async function listClients(file: string): Promise<RegisteredClient[]> {
  return parseClientsFile(await readRaw(file));
}
