/**
 * Token endpoint throughput: `concurrency` clients in a loop, each request a freshly signed
 * assertion (new jti), so every request pays for the whole pipeline: signature check, jti
 * write (group commit), access token signing and the AuditEvent. The assertions are signed before
 * the clock starts (each distinct, valid for minutes): signing them in the timed loop put the
 * client's ES384 signing on the same two cores as the server, and the server then sat ~30% idle
 * (CPU profile), so the figure measured the client.
 */
import { signClientAssertion, tokenRequestBody, toSigningKey, type ClientPrivateKey } from '../src/auth/client-assertion.ts';

export interface BenchTokenOptions {
  /** The server's base URL (http://127.0.0.1:port) or its token endpoint URL. */
  url: string;
  clientId: string;
  privateKey: ClientPrivateKey;
  seconds: number;
  concurrency?: number;
  scope?: string;
  /** Assertions signed before timing starts (used first; more are signed in the loop if they run out). */
  presign?: number;
}

export interface BenchTokenResult {
  tokensPerSecond: number;
  tokens: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
}

export async function benchToken(opts: BenchTokenOptions): Promise<BenchTokenResult> {
  const tokenUrl = opts.url.endsWith('/auth/token') ? opts.url : `${opts.url.replace(/\/+$/, '')}/auth/token`;
  const key = await toSigningKey(opts.privateKey); // imported once; signing stays per request
  const scope = opts.scope ?? 'system/*.rs';
  const latencies: number[] = [];
  let tokens = 0;
  let errors = 0;
  const presigned = await Promise.all(Array.from({ length: opts.presign ?? 0 }, () => signClientAssertion(key, { clientId: opts.clientId, tokenUrl })));
  const start = performance.now();
  const end = start + opts.seconds * 1000;

  async function worker(): Promise<void> {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const assertion = presigned.pop() ?? (await signClientAssertion(key, { clientId: opts.clientId, tokenUrl }));
        const res = await fetch(tokenUrl, { method: 'POST', body: tokenRequestBody(assertion, scope).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        const body = (await res.json()) as { access_token?: string };
        if (res.status === 200 && body.access_token) tokens++;
        else errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t0);
    }
  }

  await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, worker));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] * 10) / 10 : 0;
  return { tokensPerSecond: Math.round(tokens / elapsed), tokens, errors, p50Ms: at(0.5), p99Ms: at(0.99) };
}
