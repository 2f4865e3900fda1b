/**
 * How long the HTTP listener gives a peer: to send its headers, its whole request, and to show
 * any sign of life on the socket. Past these, or when Node's parser refuses a request, the peer
 * is answered (client-error.ts) and its socket closed, so slow or stalled peers cannot pile up.
 * https://nodejs.org/docs/latest-v20.x/api/http.html#serverrequesttimeout
 */
import type { Server } from 'node:http';
import { answerClientError } from './client-error.ts';

export interface SocketLimits {
  /** The whole request must arrive within this (408 otherwise). */
  requestTimeoutMs: number;
  /** The headers must arrive within this (408 otherwise). */
  headersTimeoutMs: number;
  /** A socket with no traffic either way for this long is destroyed (a peer that stopped reading a response). */
  idleTimeoutMs: number;
  /**
   * An idle keep-alive connection is closed by us only after this long. Longer than clients' own
   * keep-alive (undici 4 s, most proxies 60 s), so the client closes first: when we close first, a
   * request the client sends at that moment meets a reset (seen under load, when a busy event loop
   * fires our timer late).
   */
  keepAliveTimeoutMs: number;
}

export const SOCKET_LIMITS: SocketLimits = { requestTimeoutMs: 60_000, headersTimeoutMs: 20_000, idleTimeoutMs: 120_000, keepAliveTimeoutMs: 65_000 };

export function applySocketLimits(server: Server, limits: SocketLimits = SOCKET_LIMITS): void {
  server.on('clientError', answerClientError);
  server.requestTimeout = limits.requestTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  // Without a 'timeout' listener, Node destroys a socket idle this long.
  server.timeout = limits.idleTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
}
