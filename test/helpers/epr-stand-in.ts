/**
 * An EPR stand-in for outbound HL7 v2: Medplum's Hl7Connection (an independent MLLP peer) around
 * our own loopback net.Server (Hl7Server.start would bind every interface). Records each message
 * and answers as scripted. `listen(port)` may come later on a fixed port, to play an EPR that was down.
 *
 * - `scriptedEpr(step)`: every answer scripted per message (ACK code after any delay, never answer,
 *   reset, hang up, garbage); each message recorded with the time it arrived; `script(...)` starts over.
 * - `eprStandIn(behaviour)`: the common cases by name ('AA', 'AE', 'slow', 'silent', ...), fixed or
 *   asked per message; `received` holds the messages' text.
 */
import { Hl7Connection } from '@medplum/hl7';
import net from 'node:net';

/** What the EPR does with the n-th message (0-based) since the last `script(...)`. */
export type EprStep =
  | { ack: 'AA' | 'AE' | 'AR' | 'CA'; afterMs?: number; /** MSA-3 */ text?: string }
  | 'silent' | 'reset' | 'hangup' | 'garbage';

export interface Received {
  /** Date.now() when the whole frame had arrived. */
  at: number;
  text: string;
  controlId: string;
}

const controlIdOf = (text: string) => text.split(/\r\n|\r|\n/)[0]?.split('|')[9] ?? '';

export function scriptedEpr(initial: (n: number) => EprStep = () => ({ ack: 'AA' }), onReceived?: (r: Received) => void) {
  let step = initial;
  let count = 0;
  const received: Received[] = [];
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const conn = new Hl7Connection(socket);
    conn.addEventListener('error', () => undefined);
    conn.addEventListener('message', (ev) => {
      const text = ev.message.toString();
      const r: Received = { at: Date.now(), text, controlId: controlIdOf(text) };
      received.push(r);
      onReceived?.(r);
      const s = step(count++);
      if (s === 'silent') return;
      if (s === 'reset') return void socket.resetAndDestroy();
      if (s === 'hangup') return void socket.end();
      if (s === 'garbage') return void socket.write('\x0bnot an ack\x1c\r');
      const answer = () => {
        // The sender may have given up (answer timeout) and closed: a late ACK goes nowhere.
        if (socket.destroyed || !socket.writable) return;
        const ack = ev.message.buildAck({ ackCode: s.ack });
        if (s.text) ack.getSegment('MSA')!.setField(3, s.text);
        conn.send(ack);
      };
      if (!s.afterMs) return answer();
      const t = setTimeout(() => { timers.delete(t); answer(); }, s.afterMs);
      timers.add(t);
    });
  });
  return {
    received,
    /** Replaces the script and forgets what was received: its count starts again at 0. */
    script(next: (n: number) => EprStep): void {
      step = next;
      count = 0;
      received.length = 0;
    },
    async listen(port = 0): Promise<number> {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      });
      return (server.address() as net.AddressInfo).port;
    },
    async close(): Promise<void> {
      for (const t of timers) clearTimeout(t);
      if (!server.listening) return;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type EprBehaviour = 'AA' | 'AE' | 'AR' | 'CA' | 'silent' | 'slow' | 'reset' | 'hangup' | 'garbage';

export function eprStandIn(behaviour: EprBehaviour | (() => EprBehaviour) = 'AA', errorText = 'Patient not known to this EPR') {
  const stepOf = (b: EprBehaviour): EprStep => {
    if (b === 'slow') return { ack: 'AA', afterMs: 100 };
    if (b === 'AE' || b === 'AR') return { ack: b, text: errorText };
    if (b === 'AA' || b === 'CA') return { ack: b };
    return b;
  };
  const received: string[] = [];
  const epr = scriptedEpr(() => stepOf(typeof behaviour === 'function' ? behaviour() : behaviour), (r) => received.push(r.text));
  return {
    /** The text of every message received, in order (a live array). */
    received,
    listen: epr.listen,
    close: epr.close,
  };
}
