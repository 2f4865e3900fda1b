/**
 * This instance as a SMART Backend Services client of a peer: the token endpoint from the peer's
 * /.well-known/smart-configuration, a private_key_jwt assertion signed with the peer entry's key,
 * the token cached until a minute before it runs out. Then POST [base]/$process-message.
 * https://hl7.org/fhir/smart-app-launch/backend-services.html
 */
import type { Bundle } from 'fhir/r4.js';
import { requestAccessToken } from '../auth/client-assertion.ts';
import { readPeerKey, type Peer } from './peers.ts';

/** Scopes asked of a peer: the message writes a case there (as its receiver checks). */
export const PEER_SCOPE = 'system/ServiceRequest.c system/Task.cu';

export interface Delivery {
  status: number;
  /** The answer's OperationOutcome diagnostics (for the outbox's last error: never the message). */
  detail?: string;
}

/** The peer refused us for good (its token endpoint answered 4xx): a permanent failure, not retried. */
export class PeerRefused extends Error {}

export class PeerClient {
  private readonly tokens = new Map<string, { token: string; until: number }>();

  constructor(private readonly opts: { timeoutMs?: number } = {}) {}

  private async tokenUrl(peer: Peer, signal: AbortSignal): Promise<string> {
    const res = await fetch(`${peer.base}/.well-known/smart-configuration`, { headers: { accept: 'application/json' }, signal, redirect: 'error' });
    if (res.status !== 200) throw new Error(`smart-configuration of ${peer.base}: HTTP ${res.status}`);
    const url = ((await res.json()) as { token_endpoint?: unknown }).token_endpoint;
    if (typeof url !== 'string') throw new Error(`smart-configuration of ${peer.base} names no token_endpoint`);
    return url;
  }

  private async token(peer: Peer, signal: AbortSignal): Promise<string> {
    const key = `${peer.base}|${peer.clientId}`;
    const cached = this.tokens.get(key);
    if (cached && Date.now() < cached.until) return cached.token;
    const asked = requestAccessToken(await this.tokenUrl(peer, signal), peer.clientId, await readPeerKey(peer), PEER_SCOPE);
    // The token request has no signal of its own: it gives up with the send (timeout, or the dispatcher stopping).
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(new Error('token request aborted'));
      signal.addEventListener('abort', () => reject(new Error('token request aborted')), { once: true });
    });
    aborted.catch(() => undefined); // an abort after the token came is nobody's error
    const t = await Promise.race([asked, aborted]).catch((e: unknown) => {
      const text = e instanceof Error ? e.message : 'token request failed';
      throw /HTTP 4\d\d/.test(text) ? new PeerRefused(text) : e;
    });
    this.tokens.set(key, { token: t.access_token, until: Date.now() + Math.max(0, (t.expires_in - 60) * 1000) });
    return t.access_token;
  }

  /** Sends one message; throws on a network error or timeout (retried), answers the HTTP status otherwise. */
  async send(peer: Peer, bundle: Bundle, headers: { requestId: string; correlationId: string }, signal: AbortSignal): Promise<Delivery> {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 30_000);
    const both = AbortSignal.any([signal, timeout]);
    const post = async (token: string) => fetch(`${peer.base}/$process-message`, {
      method: 'POST', redirect: 'error', signal: both, body: JSON.stringify(bundle),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json',
        'x-request-id': headers.requestId, 'x-correlation-id': headers.correlationId },
    });
    let res = await post(await this.token(peer, both));
    if (res.status === 401) {
      // The peer forgot our token (restart with new keys): one fresh token, then its answer counts.
      this.tokens.delete(`${peer.base}|${peer.clientId}`);
      await res.body?.cancel();
      res = await post(await this.token(peer, both));
    }
    const text = await res.text();
    let detail: string | undefined;
    try {
      const body = JSON.parse(text) as { resourceType?: string; issue?: { diagnostics?: string }[] };
      if (body.resourceType === 'OperationOutcome') detail = body.issue?.map((i) => i.diagnostics).filter(Boolean).join('; ');
    } catch {
      detail = undefined;
    }
    return { status: res.status, detail: detail?.slice(0, 300) };
  }
}
