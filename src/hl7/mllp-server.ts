/**
 * The MLLP listener (TCP, optionally TLS). Each connection has its own framer and a queue, so
 * messages on one connection are answered in the order they came, however the bytes were split.
 * Nothing a peer sends can crash the process: framing errors are counted and skipped, an
 * oversize message is refused and the connection stays usable, idle connections are closed.
 * @see HL7 v2.5.1 Appendix C (MLLP)
 */
import net from 'node:net';
import tls from 'node:tls';
import type { MllpPeer } from '../auth/mllp-binding.ts';
import { silentLogger, type Hl7Logger } from './hl7-logger.ts';
import { decodeFrame, frameMessage, MllpFramer } from './mllp-framer.ts';

export interface MllpTlsOptions {
  key: string | Buffer;
  cert: string | Buffer;
  /**
   * CA bundle for client certificates. With it, every sender is asked for one; a connection without
   * one, or with one that does not verify, is still accepted (a listed source address may speak for
   * it) but reaches the handler with no certificate, so a certificate never counts unless it verified.
   */
  ca?: string | Buffer;
}

export interface MllpServerOptions {
  host: string;
  port: number;
  tls?: MllpTlsOptions;
  maxMessageBytes: number;
  /** A connection with no traffic and nothing in progress for this long is closed. */
  idleTimeoutMs: number;
  /**
   * Message text → reply message(s), sent in order. An empty array sends nothing. A rejection closes the
   * connection unanswered. `peer` is who sent it: the source address and, over mutual TLS, the verified certificate.
   * `text` is the frame read leniently by MSH-18; `raw` its bytes, for a receiver that decodes strictly.
   */
  handler: (text: string, peer: MllpPeer, raw: Buffer) => Promise<string | string[]>;
  /** Reply to an oversize message (from its first bytes); without it the connection is closed. */
  rejectOversize?: (head: string, maxBytes: number) => string | undefined;
  /** Messages a connection may have waiting before reading from it pauses; default 64. */
  maxPendingPerConnection?: number;
  maxConnections?: number;
  /** How long close() waits for answers in progress before cutting connections; default 5000 ms. */
  closeGraceMs?: number;
  logger?: Hl7Logger;
}

export interface MllpServer {
  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(): Promise<{ port: number }>;
  /** Stops accepting, lets answers in progress finish (up to closeGraceMs), closes every connection. */
  close(): Promise<void>;
  /** Open connections (for health and tests). */
  readonly connections: number;
}

/** Creates an MLLP server; call listen() to start it. */
export function createMllpServer(o: MllpServerOptions): MllpServer {
  const log = o.logger ?? silentLogger;
  const maxPending = o.maxPendingPerConnection ?? 64;
  const sockets = new Map<net.Socket, { drain: () => void }>();
  let closing = false;

  const onConnection = (socket: net.Socket) => {
    if (closing) return void socket.destroy();
    const framer = new MllpFramer({ maxMessageBytes: o.maxMessageBytes });
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const from = peerOf(socket);
    let queue: Promise<void> = Promise.resolve();
    let pending = 0;
    let ended = false;
    let junk = 0;
    let idle: NodeJS.Timeout | undefined;

    const finish = () => {
      if (!socket.destroyed && !socket.writableEnded) socket.end();
      // A peer that never closes its side is cut after a grace period.
      setTimeout(() => socket.destroy(), 2000).unref();
    };
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        if (pending > 0) return armIdle(); // busy answering: not idle
        log.debug({ peer, partial: framer.inFrame }, 'mllp connection idle: closing');
        finish();
      }, o.idleTimeoutMs);
      idle.unref();
    };
    const write = (reply: string | string[] | undefined) => {
      if (socket.destroyed || socket.writableEnded || reply === undefined) return;
      for (const r of Array.isArray(reply) ? reply : [reply]) socket.write(frameMessage(r));
    };
    const enqueue = (task: () => Promise<void>) => {
      pending++;
      if (pending >= maxPending && !socket.isPaused()) socket.pause();
      queue = queue
        .then(task)
        .catch((e: unknown) => {
          // Unanswered rather than answered wrongly: the sender will resend.
          log.error({ peer, err: e instanceof Error ? e.name : typeof e }, 'mllp handler failed: closing connection');
          socket.destroy();
        })
        .finally(() => {
          pending--;
          if (pending < maxPending / 2 && socket.isPaused() && !socket.destroyed) socket.resume();
          armIdle();
          if ((ended || closing) && pending === 0) finish();
        });
    };
    sockets.set(socket, { drain: () => (pending === 0 ? finish() : undefined) });

    socket.setNoDelay(true);
    armIdle();
    socket.on('data', (chunk: Buffer) => {
      armIdle();
      for (const ev of framer.push(chunk)) {
        if (ev.type === 'frame') {
          const text = decodeFrame(ev.data);
          const raw = ev.data;
          enqueue(async () => write(await o.handler(text, from, raw)));
        } else if (ev.type === 'oversize') {
          const head = decodeFrame(ev.head);
          enqueue(async () => {
            const reply = o.rejectOversize?.(head, o.maxMessageBytes);
            if (reply === undefined) return finish();
            write(reply);
          });
        } else {
          if (junk === 0) log.warn({ peer, kind: ev.type }, 'mllp framing error: bytes skipped');
          junk += ev.bytes;
        }
      }
    });
    socket.on('end', () => {
      ended = true;
      if (pending === 0) finish();
    });
    socket.on('error', (e) => log.debug({ peer, code: (e as NodeJS.ErrnoException).code }, 'mllp socket error'));
    socket.on('close', () => {
      clearTimeout(idle);
      sockets.delete(socket);
      if (junk > 0) log.debug({ peer, junk }, 'mllp connection closed after skipped bytes');
    });
  };

  const server: net.Server = o.tls
    // rejectUnauthorized false: a sender without a client certificate may still be admitted by its
    // address; peerOf() passes a certificate on only when `socket.authorized` (it verified against `ca`).
    ? tls.createServer({ key: o.tls.key, cert: o.tls.cert, ca: o.tls.ca, requestCert: o.tls.ca !== undefined, rejectUnauthorized: false, allowHalfOpen: true }, onConnection)
    : net.createServer({ allowHalfOpen: true }, onConnection);
  if (o.maxConnections !== undefined) server.maxConnections = o.maxConnections;
  server.on('tlsClientError', (e: NodeJS.ErrnoException) => log.debug({ code: e.code }, 'mllp tls handshake failed'));

  return {
    get connections() {
      return sockets.size;
    },
    listen() {
      return new Promise((resolve, reject) => {
        const onError = (e: Error) => reject(e);
        server.once('error', onError);
        server.listen(o.port, o.host, () => {
          server.off('error', onError);
          server.on('error', (e) => log.error({ err: e.name }, 'mllp server error'));
          resolve({ port: (server.address() as net.AddressInfo).port });
        });
      });
    },
    async close() {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets.values()) s.drain();
      const grace = setTimeout(() => {
        for (const sock of sockets.keys()) sock.destroy();
      }, o.closeGraceMs ?? 5000);
      grace.unref();
      await closed;
      clearTimeout(grace);
    },
  };
}

/** The connection as the handler sees it; a client certificate only when it verified against the configured CA. */
function peerOf(socket: net.Socket): MllpPeer {
  const remoteAddress = socket.remoteAddress;
  if (!(socket instanceof tls.TLSSocket) || !socket.authorized) return { remoteAddress };
  const fingerprint = socket.getPeerCertificate().fingerprint256;
  return fingerprint ? { remoteAddress, certificateSha256: fingerprint } : { remoteAddress };
}
