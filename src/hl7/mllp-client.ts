/**
 * A small MLLP client: sends one message at a time and waits for the acknowledgement whose MSA-2
 * names the message sent (stray frames, such as an enhanced-mode second ACK, are skipped). Every
 * wait has a limit; any failure destroys the connection, and the next send reconnects.
 * @see HL7 v2.5.1 Appendix C (MLLP)
 */
import net from 'node:net';
import tls from 'node:tls';
import { readHeader } from './er7.ts';
import { decodeFrame, frameMessage, MllpFramer } from './mllp-framer.ts';

export type MllpClientErrorCode = 'connect-timeout' | 'answer-timeout' | 'connection-error' | 'closed';

/** A delivery failure: all are transient from the sender's point of view (retry later). */
export class MllpClientError extends Error {
  constructor(readonly code: MllpClientErrorCode, detail?: string) {
    super(detail ? `${code}: ${detail}` : code);
    this.name = 'MllpClientError';
  }
}

export interface MllpClientOptions {
  host: string;
  port: number;
  /** TLS: true for defaults, or node:tls options (ca, servername, cert/key for mutual TLS). */
  tls?: boolean | tls.ConnectionOptions;
  connectTimeoutMs?: number;
  answerTimeoutMs?: number;
  maxAnswerBytes?: number;
}

interface Waiter {
  controlId: string | undefined;
  resolve: (answer: string) => void;
  reject: (e: MllpClientError) => void;
}

/** One connection to one peer; `send` calls are serialised. */
export class MllpClient {
  private socket: net.Socket | undefined;
  private framer: MllpFramer | undefined;
  private waiter: Waiter | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: MllpClientOptions) {}

  /** Sends `message` and resolves with the ACK for it (the frame whose MSA-2 is its MSH-10). */
  send(message: string): Promise<string> {
    const run = this.chain.then(() => this.sendNow(message));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Closes the connection (pending sends fail with 'closed'). */
  async close(): Promise<void> {
    const s = this.socket;
    this.drop(new MllpClientError('closed'));
    if (s && !s.destroyed) await new Promise<void>((resolve) => s.end(() => resolve()));
  }

  private async sendNow(message: string): Promise<string> {
    const socket = this.socket && !this.socket.destroyed ? this.socket : await this.connect();
    if (socket.destroyed) throw new MllpClientError('closed'); // closed while connecting
    const controlId = readHeader(message)?.get(10);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => this.drop(new MllpClientError('answer-timeout')), this.o.answerTimeoutMs ?? 30_000);
      this.waiter = {
        controlId,
        resolve: (a) => (clearTimeout(timer), resolve(a)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
      socket.write(frameMessage(message));
    });
  }

  private connect(): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const { host, port } = this.o;
      const opts = typeof this.o.tls === 'object' ? this.o.tls : {};
      const socket = this.o.tls ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ...opts }) : net.connect({ host, port });
      const ready = this.o.tls ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new MllpClientError('connect-timeout'));
      }, this.o.connectTimeoutMs ?? 5000);
      socket.once(ready, () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(socket);
      });
      socket.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new MllpClientError('connection-error', e.code ?? e.name));
      });
      // close() while connecting: fail now rather than at the connect timeout.
      socket.once('close', () => {
        clearTimeout(timer);
        reject(new MllpClientError('closed'));
      });
      this.socket = socket;
      this.framer = new MllpFramer({ maxMessageBytes: this.o.maxAnswerBytes ?? 1024 * 1024 });
      socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
      socket.on('error', (e: NodeJS.ErrnoException) => this.drop(new MllpClientError('connection-error', e.code ?? e.name), socket));
      socket.on('close', () => this.drop(new MllpClientError('closed'), socket));
    });
  }

  private onData(socket: net.Socket, chunk: Buffer): void {
    if (socket !== this.socket || !this.framer) return;
    for (const ev of this.framer.push(chunk)) {
      if (ev.type !== 'frame' || !this.waiter) continue;
      const text = decodeFrame(ev.data);
      const w = this.waiter;
      const msa = text.split(/\r\n|\r|\n/).find((l) => l.startsWith('MSA'));
      const acked = msa?.split(msa[3] ?? '|')[2]?.split(readHeader(text)?.separators.component ?? '^')[0];
      // An answer for another message (late, or a second enhanced-mode ACK) is not ours.
      if (w.controlId !== undefined && acked !== undefined && acked !== w.controlId) continue;
      this.waiter = undefined;
      w.resolve(text);
    }
  }

  /** Fails the waiting send (if any) and discards the connection. */
  private drop(e: MllpClientError, socket = this.socket): void {
    if (socket !== this.socket) return;
    const w = this.waiter;
    this.waiter = undefined;
    this.socket = undefined;
    this.framer = undefined;
    socket?.destroy();
    w?.reject(e);
  }
}

/** Connects, sends one message, returns its ACK, closes. `signal` gives up at once (fails with 'closed'). */
export async function sendMllpMessage(options: MllpClientOptions & { message: string; signal?: AbortSignal }): Promise<string> {
  if (options.signal?.aborted) throw new MllpClientError('closed', 'aborted');
  const client = new MllpClient(options);
  const abort = () => void client.close().catch(() => undefined);
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    return await client.send(options.message);
  } finally {
    options.signal?.removeEventListener('abort', abort);
    await client.close().catch(() => undefined);
  }
}
