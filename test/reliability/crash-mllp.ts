/**
 * A minimal MLLP sender for the crash harness: one connection, one message at a time, every step
 * under a timeout, and a clean rejection when the service dies under it (SIGKILL closes the socket).
 * Its own framing (independent of src/hl7/mllp-framer.ts).
 */
import net from 'node:net';

const VT = 0x0b, FS = 0x1c, CR = 0x0d;

export const frame = (text: string): Buffer =>
  Buffer.concat([Buffer.from([VT]), Buffer.from(text.endsWith('\r') ? text : `${text}\r`, 'utf8'), Buffer.from([FS, CR])]);

/** MSA-1 and MSA-2 of an ACK. */
export function msaOf(ack: string): { code: string; controlId: string } {
  const f = ack.split(/\r\n|\r|\n/).find((l) => l.startsWith('MSA|'))?.split('|') ?? [];
  return { code: f[1] ?? '', controlId: f[2] ?? '' };
}

export class MllpPeer {
  private buffer = Buffer.alloc(0);
  private closed = false;
  private waiter: { controlId: string; resolve: (ack: string) => void; reject: (e: Error) => void } | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.reject(new Error('connection closed'));
      this.waiter = undefined;
    });
  }

  static connect(port: number, timeoutMs: number): Promise<MllpPeer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => { socket.destroy(); reject(new Error('connect timeout')); }, timeoutMs);
      socket.once('connect', () => { clearTimeout(timer); resolve(new MllpPeer(socket)); });
      socket.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
  }

  /**
   * Sends one message and resolves with its final answer (the first ACK for `controlId` whose
   * MSA-1 is not CA: an enhanced-mode accept acknowledgement is only "received", not committed).
   */
  send(text: string, controlId: string, timeoutMs: number): Promise<string> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    if (this.waiter) return Promise.reject(new Error('one message at a time'));
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error('answer timeout'));
      }, timeoutMs);
      this.waiter = {
        controlId,
        resolve: (ack) => { clearTimeout(timer); this.waiter = undefined; resolve(ack); },
        reject: (e) => { clearTimeout(timer); this.waiter = undefined; reject(e); },
      };
      this.socket.write(frame(text), (e) => { if (e) this.waiter?.reject(e); });
    });
  }

  close(): void {
    if (!this.closed) this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const start = this.buffer.indexOf(VT);
      const end = start < 0 ? -1 : this.buffer.indexOf(FS, start);
      if (end < 0) return;
      const ack = this.buffer.subarray(start + 1, end).toString('utf8');
      this.buffer = this.buffer.subarray(this.buffer[end + 1] === CR ? end + 2 : end + 1);
      const { code, controlId } = msaOf(ack);
      if (this.waiter && controlId === this.waiter.controlId && code !== 'CA') this.waiter.resolve(ack);
    }
  }
}
