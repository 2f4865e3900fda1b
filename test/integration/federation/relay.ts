/**
 * A relay between two instances (what a national proxy or a flaky network could do): forwards every
 * request to its target and records the messages that pass. It can hold messages: answer 200 itself
 * without forwarding (a relay that acknowledges and delivers later), or 503 (a peer that is down),
 * and deliver the held ones later, in the order the test asks.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bundle, MessageHeader } from 'fhir/r4.js';

export interface Relayed {
  headers: Record<string, string>;
  bundle: Bundle;
  event: string;
  sequence: number;
}

const read = (req: IncomingMessage) => new Promise<string>((resolve) => {
  let body = '';
  req.on('data', (d) => { body += String(d); });
  req.on('end', () => resolve(body));
});

export async function startRelay(initialTarget: string) {
  let target = initialTarget;
  const seen: Relayed[] = [];
  const held: Relayed[] = [];
  let rule: (m: Relayed) => 'pass' | 'hold' | 'down' = () => 'pass';
  /** Around a passing message: `during` runs while it is being forwarded; `after` sees the answer and may drop it (the sender never hears it). */
  let around: { during?: (m: Relayed) => Promise<void>; after?: (m: Relayed, status: number) => Promise<'answer' | 'drop'> } = {};
  const forward = async (path: string, method: string, headers: Record<string, string>, body?: string) => {
    const res = await fetch(`${target}${path}`, { method, headers, body });
    return { status: res.status, type: res.headers.get('content-type') ?? 'application/json', text: await res.text() };
  };
  const server: Server = createServer(async (req, res) => {
    const body = req.method === 'POST' ? await read(req) : undefined;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v;
    if (req.url?.endsWith('/$process-message') && body) {
      const bundle = JSON.parse(body) as Bundle;
      const header = bundle.entry?.[0]?.resource as MessageHeader;
      const m: Relayed = { headers, bundle, event: header.eventCoding?.code ?? '', sequence: header.extension?.find((e) => e.url.endsWith('eso-message-sequence'))?.valuePositiveInt ?? 0 };
      seen.push(m);
      const what = rule(m);
      if (what === 'hold') { held.push(m); res.writeHead(200, { 'content-type': 'application/fhir+json' }).end('{"resourceType":"Bundle","type":"message"}'); return; }
      if (what === 'down') { res.writeHead(503, { 'content-type': 'application/fhir+json' }).end('{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient","diagnostics":"down"}]}'); return; }
      const forwarding = forward(req.url ?? '/', 'POST', headers, body);
      forwarding.catch(() => undefined);
      await around.during?.(m);
      const out = await forwarding.catch(() => undefined);
      if (!out || (around.after && (await around.after(m, out.status)) === 'drop')) { res.socket?.destroy(); return; }
      res.writeHead(out.status, { 'content-type': out.type }).end(out.text);
      return;
    }
    const out = await forward(req.url ?? '/', req.method ?? 'GET', headers, body);
    res.writeHead(out.status, { 'content-type': out.type }).end(out.text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    fhir: `${url}/fhir`,
    seen,
    held,
    /** Decides, per message, whether it passes, is held (acknowledged here) or meets a peer that is down. */
    setRule(r: typeof rule) { rule = r; },
    setAround(a: typeof around) { around = a; },
    /** Where the relay forwards to from now on (the peer came back at a new address). */
    setTarget(url: string) { target = url; },
    /** Delivers a held message to the target now, as it was sent. */
    async deliver(m: Relayed) {
      return forward('/fhir/$process-message', 'POST', m.headers, JSON.stringify(m.bundle));
    },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
