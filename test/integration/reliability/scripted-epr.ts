/**
 * An EPR whose every answer is scripted, for the slow and dead peers the shared stand-in
 * (test/helpers/epr-stand-in.ts, a fixed 100 ms "slow") cannot play: answer after any delay,
 * never answer, reset, hang up. Built, like the stand-in, on Medplum's Hl7Connection (an
 * independent MLLP peer) around a loopback net.Server. Each message is recorded with the time it
 * arrived; `script(step)` replaces the script, restarts its count and clears what was received, so
 * each test scripts and counts its own attempts. `listen(port)` may come later on a fixed port, to
 * play an EPR that was down.
 */
import { Hl7Connection } from '@medplum/hl7';
import net from 'node:net';

/** What the EPR does with the n-th message (0-based) since the last `script(...)`. */
export type EprStep =
  | { ack: 'AA' | 'AE' | 'AR' | 'CA'; afterMs?: number }
  | 'silent' | 'reset' | 'hangup';

export interface Received {
  /** Date.now() when the whole frame had arrived. */
  at: number;
  text: string;
  controlId: string;
}

const controlIdOf = (text: string) => text.split(/\r\n|\r|\n/)[0]?.split('|')[9] ?? '';

export function scriptedEpr(initial: (n: number) => EprStep = () => ({ ack: 'AA' })) {
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
      received.push({ at: Date.now(), text, controlId: controlIdOf(text) });
      const s = step(count++);
      if (s === 'silent') return;
      if (s === 'reset') return void socket.resetAndDestroy();
      if (s === 'hangup') return void socket.end();
      const answer = () => {
        // The sender may have given up (answer timeout) and closed: a late ACK goes nowhere.
        if (socket.destroyed || !socket.writable) return;
        conn.send(ev.message.buildAck({ ackCode: s.ack }));
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
