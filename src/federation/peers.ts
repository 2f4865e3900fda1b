/**
 * The peers file (ESO_PEERS_FILE), in the shape other tools write:
 * {"peers": [{"organizations": ["RX1"], "base": "https://eso.rx1.example/fhir", "client_id": "...",
 * "key_file": "<private JWK file>"}]}: the ODS codes each peer eso-bridge serves (and every
 * organisation below them in the directory), its FHIR base, the client id this instance has
 * there and the key it signs its assertions with. Looked at no more than once a second and re-read
 * when it changed, as the clients file is; a file that does not parse keeps the previous peers (and is logged).
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { JWK } from 'jose';
import * as z from 'zod';
import { fileStamp, readJsonFile } from '../auth/json-file.ts';
import { isLoopbackHost } from '../auth/dev-mode.ts';
import type { Logger } from '../shared/logger.ts';

export interface Peer {
  organizations: string[];
  /** The peer's FHIR base, without a trailing slash. */
  base: string;
  clientId: string;
  keyFile: string;
}

const peerEntry = z.looseObject({
  organizations: z.array(z.string().regex(/^[A-Z0-9]{3,10}$/, 'an ODS code (A-Z, 0-9)')).min(1),
  base: z.url().refine((u) => { const x = new URL(u); return x.protocol === 'https:' || (x.protocol === 'http:' && isLoopbackHost(x.hostname)); },
    'base must be https (http only on a loopback host)'),
  client_id: z.string().min(1).max(128),
  key_file: z.string().min(1),
});
const peersFileSchema = z.looseObject({ peers: z.array(peerEntry) });

/** Parses the file's JSON; `key_file` relative to the file's own directory. Throws naming the problems. */
export function parsePeersFile(json: unknown, file: string): Peer[] {
  const parsed = peersFileSchema.safeParse(json);
  if (!parsed.success) throw new Error(`peers file ${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data.peers.map((p) => ({
    organizations: p.organizations, base: p.base.replace(/\/+$/, ''), clientId: p.client_id, keyFile: resolve(dirname(file), p.key_file),
  }));
}

export interface PeerRegistryOptions {
  /** The least time between two looks at the file (ms; default 1000). */
  recheckMs?: number;
  /** The clock (tests freeze it). */
  now?: () => number;
}

export class PeerRegistry {
  private peers: Peer[] = [];
  private stamp: string | undefined;
  private checkedAt: number | undefined;
  private checking: Promise<void> | undefined;

  constructor(private readonly file: string | undefined, private readonly log: Logger, private readonly opts: PeerRegistryOptions = {}) {}

  /**
   * The peers now. Every message and every watched write asks, so the file is looked at (a stat) no
   * more than once per `recheckMs`, and read again only when it changed; callers meanwhile share that look.
   */
  async list(): Promise<Peer[]> {
    if (!this.file) return [];
    const now = (this.opts.now ?? Date.now)();
    if (this.checkedAt === undefined || now - this.checkedAt >= (this.opts.recheckMs ?? 1000)) {
      this.checkedAt = now;
      this.checking ??= this.reload(this.file).finally(() => { this.checking = undefined; });
    }
    await this.checking;
    return this.peers;
  }

  private async reload(file: string): Promise<void> {
    try {
      const stamp = await fileStamp(file);
      if (stamp === this.stamp) return;
      const json = stamp === undefined ? { peers: [] } : await readJsonFile(file);
      this.peers = parsePeersFile(json ?? { peers: [] }, file);
      this.stamp = stamp;
      this.log.info({ file, peers: this.peers.length }, 'peers file loaded');
    } catch (e) {
      this.log.error({ file, err: (e as Error).message }, 'peers file not reloaded: keeping the previous peers');
    }
  }

  /** The peer serving one of `chain` (an organisation's ODS code and its parents', nearest first), and the code it matched. */
  async peerOf(chain: string[]): Promise<{ peer: Peer; ods: string } | undefined> {
    const peers = await this.list();
    for (const ods of chain) {
      const peer = peers.find((p) => p.organizations.includes(ods));
      if (peer) return { peer, ods: peer.organizations[0] };
    }
    return undefined;
  }

  /** The peer whose queue is `fed:<ods>` (its first organisation). */
  async byDestination(ods: string): Promise<Peer | undefined> {
    return (await this.list()).find((p) => p.organizations[0] === ods);
  }
}

/** The private JWK a peer entry names (read on each token request: tokens are cached, so that is rare). */
export async function readPeerKey(peer: Peer): Promise<JWK> {
  const jwk = JSON.parse(await readFile(peer.keyFile, 'utf8')) as JWK;
  if (typeof jwk.kid !== 'string' || typeof jwk.alg !== 'string' || !('d' in jwk)) throw new Error(`key_file of peer ${peer.organizations[0]} is not a private JWK with kid and alg`);
  return jwk;
}
