/**
 * A JWKS behind a URL (a client's jwks_uri, the national gateway's JWKS): cached for the
 * Cache-Control max-age the server sends, refetched when a token names an unknown kid (no
 * more than once per cooldown), fetched with a timeout and a size limit, never following redirects.
 */
import { errors, type JWK } from 'jose';
import { selectJwk, importVerifyKey } from './jwk-select.ts';

export interface RemoteJwksOptions {
  timeoutMs?: number;
  /** Least time between two fetches caused by unknown kids (ms). */
  cooldownMs?: number;
  /** Cache time when the response says nothing (ms). */
  defaultMaxAgeMs?: number;
  maxBytes?: number;
  fetch?: typeof fetch;
}

const DAY_MS = 86_400_000;

/** max-age of a Cache-Control header in ms (no-store/no-cache = 0); undefined when absent. */
export function maxAgeMs(cacheControl: string | null): number | undefined {
  if (!cacheControl) return undefined;
  if (/(^|,)\s*(no-store|no-cache)\s*(,|$)/i.test(cacheControl)) return 0;
  const m = /(^|,)\s*max-age\s*=\s*"?(\d{1,10})"?/i.exec(cacheControl);
  return m ? Math.min(Number(m[2]) * 1000, DAY_MS) : undefined;
}

async function readLimited(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > maxBytes) throw new errors.JWKSInvalid('JWKS response too large');
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new errors.JWKSInvalid('JWKS response too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export class RemoteJwks {
  private keys: JWK[] = [];
  private attemptedAt = 0;
  private expiresAt = 0;
  private inflight: Promise<void> | undefined;
  private readonly imported = new Map<string, CryptoKey>();
  private readonly opts: Required<Omit<RemoteJwksOptions, 'fetch'>> & { fetch?: typeof fetch };

  constructor(readonly url: string, opts: RemoteJwksOptions = {}) {
    this.opts = { timeoutMs: 5000, cooldownMs: 10_000, defaultMaxAgeMs: 300_000, maxBytes: 65_536, ...opts };
  }

  /** Fetch and read, both inside one deadline (a server that stalls mid-body times out too). */
  private async download(): Promise<{ body: string; cacheControl: string | null }> {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(new errors.JWKSTimeout());
      }, this.opts.timeoutMs);
    });
    const work = (async () => {
      let res: Response;
      try {
        res = await (this.opts.fetch ?? globalThis.fetch)(this.url, { headers: { accept: 'application/json' }, redirect: 'error', signal: abort.signal });
      } catch {
        throw new errors.JOSEError('JWKS fetch failed');
      }
      if (res.status !== 200) throw new errors.JOSEError(`JWKS fetch answered HTTP ${res.status}`);
      return { body: await readLimited(res, this.opts.maxBytes), cacheControl: res.headers.get('cache-control') };
    })();
    work.catch(() => undefined); // settled by the race; a late failure is not unhandled
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async fetchNow(): Promise<void> {
    this.attemptedAt = Date.now();
    // Whatever happens, the next fetch waits for the cooldown (a down server is not hammered).
    this.expiresAt = Math.max(this.expiresAt, this.attemptedAt + this.opts.cooldownMs);
    const { body: text, cacheControl } = await this.download();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new errors.JWKSInvalid('JWKS is not JSON');
    }
    const keys = (body as { keys?: unknown })?.keys;
    if (!Array.isArray(keys)) throw new errors.JWKSInvalid('JWKS has no keys array');
    this.keys = keys.filter((k): k is JWK => !!k && typeof k === 'object' && typeof (k as JWK).kid === 'string');
    this.imported.clear();
    const age = maxAgeMs(cacheControl) ?? this.opts.defaultMaxAgeMs;
    // A zero max-age would mean a fetch per token: the cooldown is the floor.
    this.expiresAt = Date.now() + Math.max(age, this.opts.cooldownMs);
  }

  /** One fetch at a time; callers waiting share it. */
  private refresh(): Promise<void> {
    this.inflight ??= this.fetchNow().finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  /** The verification key the header names (kid + alg); refetches once on an unknown kid. */
  async getKey(header: { kid?: string; alg?: string }): Promise<CryptoKey> {
    if (Date.now() >= this.expiresAt) {
      try {
        await this.refresh();
      } catch (e) {
        if (!this.keys.length) throw e; // stale keys beat no keys while the server is down
      }
    }
    let jwk = selectJwk(this.keys, header);
    if (!jwk && Date.now() - this.attemptedAt >= this.opts.cooldownMs) {
      await this.refresh();
      jwk = selectJwk(this.keys, header);
    }
    if (!jwk) throw new errors.JWKSNoMatchingKey();
    const cacheKey = `${jwk.kid}\u0000${header.alg}`;
    let key = this.imported.get(cacheKey);
    if (!key) {
      key = await importVerifyKey(jwk, header.alg as string);
      this.imported.set(cacheKey, key);
    }
    return key;
  }
}
