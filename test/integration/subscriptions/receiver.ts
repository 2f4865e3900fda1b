/**
 * A subscriber's rest-hook endpoint: a real HTTP server on loopback that keeps what it is sent and
 * answers as the test says (2xx, 500, too slow, or dropping the connection).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bundle, Parameters } from 'fhir/r4.js';

export type Behaviour = 'ok' | 'error-500' | 'slow' | 'drop';

export interface Received { headers: IncomingHttpHeaders; bundle: Bundle; status: Parameters }

export interface Receiver {
  url: string;
  received: Received[];
  /** How the next requests are answered (default ok). */
  behaviour: Behaviour;
  /** Answers given other than ok, counted. */
  refused: number;
  close(): Promise<void>;
}

export async function startReceiver(slowMs = 3000): Promise<Receiver> {
  const r: Receiver = { url: '', received: [], behaviour: 'ok', refused: 0, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const behaviour = r.behaviour;
      if (behaviour !== 'ok') r.refused++;
      if (behaviour === 'drop') return req.socket.destroy();
      if (behaviour === 'error-500') return res.writeHead(500).end();
      const answer = () => {
        if (behaviour === 'ok') {
          const bundle = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Bundle;
          r.received.push({ headers: req.headers, bundle, status: bundle.entry![0].resource as Parameters });
        }
        res.writeHead(200).end();
      };
      if (behaviour === 'slow') setTimeout(answer, slowMs).unref();
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  r.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return r;
}

/** A parameter of a SubscriptionStatus. */
export const param = (p: Parameters, name: string) => p.parameter?.find((x) => x.name === name);

/** The notification-event parts of a SubscriptionStatus: number and focus. */
export const eventsOf = (p: Parameters) => (p.parameter ?? []).filter((x) => x.name === 'notification-event').map((e) => ({
  number: Number(e.part!.find((x) => x.name === 'event-number')!.valueString),
  focus: e.part!.find((x) => x.name === 'focus')?.valueReference?.reference,
}));

/** Polls `check` until it returns a value (bounded; no timed assertion). */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, what: string, tries = 200, everyMs = 50): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`never happened: ${what}`);
}
