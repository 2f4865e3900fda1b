/**
 * One persistent MLLP connection for the load and crash harnesses, with its own framing
 * (independent of src/hl7/mllp-framer.ts). It sends one message at a time and waits for the
 * *application* acknowledgement (MSA-1 AA, AE or AR) naming the message's MSH-10; an enhanced-mode
 * commit ACK (CA) before it is skipped, a CE/CR ends the wait (nothing more will come). A time
 * limit or a broken connection fails the send and drops the connection; the next send reconnects.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { NoAnswer } from './load-client.ts';

export interface MllpAnswer {
  /** MSA-1 of the answer that ended the wait: AA, AE, AR, CE or CR. */
  code: string;
  /** MSA-3 (text message), if any. */
  text: string;
  ack: string;
  ms: number;
}

interface Waiter {
  controlId: string;
  resolve: (a: { code: string; text: string; ack: string }) => void;
  reject: (e: NoAnswer) => void;
}

const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

export class MllpConnection {
  private socket: net.Socket | undefined;
  private buffer = Buffer.alloc(0);
  private waiter: Waiter | undefined;
  /** Connections opened (1 for a connection that never broke). */
  connects = 0;

  constructor(private readonly port: number, private readonly timeoutMs: number, private readonly host = '127.0.0.1') {}

  /** Sends `text` (whose MSH-10 is `controlId`); the time counts from the send, connecting included. */
  async send(text: string, controlId: string): Promise<MllpAnswer> {
    if (this.waiter) throw new Error('MllpConnection: one send at a time');
    const started = performance.now();
    const deadline = started + this.timeoutMs;
    const socket = this.socket && !this.socket.destroyed ? this.socket : await this.connect(deadline);
    const answer = await new Promise<{ code: string; text: string; ack: string }>((resolve, reject) => {
      const timer = setTimeout(() => this.drop(new NoAnswer('timeout', `MLLP ACK for ${controlId} after ${this.timeoutMs} ms`)), Math.max(1, deadline - performance.now()));
      this.waiter = {
        controlId,
        resolve: (a) => { clearTimeout(timer); resolve(a); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
      const body = text.endsWith('\r') ? text : `${text}\r`;
      socket.write(Buffer.concat([Buffer.from([VT]), Buffer.from(body, 'utf8'), Buffer.from([FS, CR])]));
    });
    return { ...answer, ms: performance.now() - started };
  }

  close(): Promise<void> {
    const s = this.socket;
    this.drop(new NoAnswer('network', 'closed by the load'));
    if (!s || s.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      s.once('close', () => resolve());
      s.end();
      setTimeout(() => { s.destroy(); resolve(); }, 1000).unref();
    });
  }

  private connect(deadline: number): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.host, port: this.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new NoAnswer('timeout', `MLLP connect to ${this.port}`));
      }, Math.max(1, deadline - performance.now()));
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        this.connects++;
        resolve(socket);
      });
      socket.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new NoAnswer('network', e.code ?? e.message));
      });
      this.socket = socket;
      this.buffer = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
      socket.on('error', (e: NodeJS.ErrnoException) => this.drop(new NoAnswer('network', e.code ?? e.message), socket));
      socket.on('close', () => this.drop(new NoAnswer('network', 'connection closed by the service'), socket));
    });
  }

  private onData(socket: net.Socket, chunk: Buffer): void {
    if (socket !== this.socket) return;
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const start = this.buffer.indexOf(VT);
      const end = start < 0 ? -1 : this.buffer.indexOf(FS, start);
      if (end < 0) break;
      const ack = this.buffer.subarray(start + 1, end).toString('utf8');
      this.buffer = this.buffer.subarray(this.buffer[end + 1] === CR ? end + 2 : end + 1);
      const w = this.waiter;
      if (!w) continue;
      const sep = ack.startsWith('MSH') ? ack[3] : '|';
      const msa = ack.split(/\r\n|\r|\n/).find((l) => l.startsWith(`MSA${sep}`))?.split(sep) ?? [];
      const code = (msa[1] ?? '').toUpperCase();
      if ((msa[2] ?? '') !== w.controlId) continue; // a late answer to an earlier message
      if (code === 'CA') continue; // committed; the application ACK follows
      this.waiter = undefined;
      w.resolve({ code, text: msa[3] ?? '', ack });
    }
  }

  private drop(e: NoAnswer, socket = this.socket): void {
    if (socket !== this.socket) return;
    const w = this.waiter;
    this.waiter = undefined;
    this.socket = undefined;
    socket?.destroy();
    w?.reject(e);
  }
}
