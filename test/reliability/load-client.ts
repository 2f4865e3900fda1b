/**
 * HTTP for the load (test/reliability/load.ts): every request has a client-side time limit (a hang
 * is a 'timeout', a refused or reset connection a 'network' error), and each organisation's
 * client gets its bearer tokens from POST /auth/token with its own registered key.
 */
import { performance } from 'node:perf_hooks';
import { signClientAssertion, tokenRequestBody, type ClientPrivateKey } from '../../src/auth/client-assertion.ts';

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
  /** Time from sending to the whole answer read (ms). */
  ms: number;
}

/** No answer: the time limit passed, or the connection failed. */
export class NoAnswer extends Error {
  constructor(readonly kind: 'timeout' | 'network', readonly detail: string) {
    super(`${kind}: ${detail}`);
    this.name = 'NoAnswer';
  }
  /** How it is counted: 'timeout', or 'network ECONNRESET' and the like. */
  get label(): string {
    return this.kind === 'timeout' ? 'timeout' : `network ${this.detail}`;
  }
}

export async function httpCall(url: string, init: { method: string; headers?: Record<string, string>; body?: string }, timeoutMs: number): Promise<Answer> {
  const started = performance.now();
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: unknown = text;
    try { body = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, body, headers: res.headers, ms: performance.now() - started };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    if (err.name === 'TimeoutError' || err.name === 'AbortError') throw new NoAnswer('timeout', `${url} after ${timeoutMs} ms`);
    throw new NoAnswer('network', err.cause?.code ?? err.cause?.message ?? err.message);
  }
}

/** One organisation's registered client (its own key): fresh tokens, and calls with a cached token. */
export class OrgClient {
  private cached: { token: string; until: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    readonly ods: string,
    readonly clientId: string,
    private readonly key: ClientPrivateKey,
    readonly baseUrl: string,
    readonly timeoutMs: number,
    /** Called with each token answer the cache itself asks for (so they are counted too). */
    private readonly onTokenAnswer: (a: Answer | NoAnswer) => void = () => undefined,
  ) {}

  /** A token request with a freshly signed assertion; signing is done before the clock starts. */
  async requestToken(scope = 'system/*.cruds'): Promise<Answer<{ access_token?: string; error?: string; expires_in?: number }>> {
    const url = `${this.baseUrl}/auth/token`;
    const assertion = await signClientAssertion(this.key, { clientId: this.clientId, tokenUrl: url });
    return httpCall(url, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      body: tokenRequestBody(assertion, scope).toString(),
    }, this.timeoutMs);
  }

  /** A token of the default scope, reused for two minutes (tokens live five). */
  token(): Promise<string> {
    if (this.cached && this.cached.until > Date.now()) return Promise.resolve(this.cached.token);
    this.pending ??= (async () => {
      try {
        let a: Answer;
        try {
          a = await this.requestToken();
        } catch (e) {
          if (!(e instanceof NoAnswer)) throw e;
          this.onTokenAnswer(e); // counted there; the call that needed it fails as 'no token'
          throw new Error(`${this.clientId}: no token (${e.label})`);
        }
        this.onTokenAnswer(a);
        if (a.status !== 200 || !a.body?.access_token) throw new Error(`${this.clientId}: token refused: ${a.status} ${JSON.stringify(a.body).slice(0, 200)}`);
        this.cached = { token: a.body.access_token, until: Date.now() + 120_000 };
        return this.cached.token;
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }

  /** A FHIR or ESO call with this client's token; the token is fetched (if needed) before the clock starts. */
  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const token = await this.token();
    const h: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${token}`, ...headers };
    if (body !== undefined) h['content-type'] ??= 'application/json';
    const url = path.startsWith('http') ? path : `${this.baseUrl}${path}`;
    return httpCall(url, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) }, this.timeoutMs);
  }

  get = (path: string, headers?: Record<string, string>) => this.call('GET', path, undefined, headers);
  post = (path: string, body: unknown, headers?: Record<string, string>) => this.call('POST', path, body, headers);
  put = (path: string, body: unknown, headers?: Record<string, string>) => this.call('PUT', path, body, headers);
}
