/**
 * Requests Node's HTTP parser refuses before Express sees them (headers over 16 KB, a malformed
 * request line, a header timeout) are answered like every other refusal: an OperationOutcome,
 * then the connection is closed. Without this, Node answers a bare status with an empty body.
 * A peer that never reads nor closes loses its socket after a short grace.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { outcome } from '../shared/outcomes.ts';

/** How long a refused peer has to close its side after our answer before its socket is destroyed. */
export const CLOSE_GRACE_MS = 2000;

export function statusOfParserError(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'HPE_REQUEST_TIMEOUT') return 408;
  return 400;
}

/** The server's 'clientError' listener. */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = statusOfParserError(err.code);
  const diagnostics = status === 431 ? 'The request headers (including the query string) are too large'
    : status === 408 ? 'The request took too long to arrive' : 'The request is not valid HTTP';
  const body = JSON.stringify(outcome(status === 408 ? 'timeout' : 'invalid', diagnostics));
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/fhir+json; charset=utf-8\r\n`
    + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  destroyAfterGrace(socket, CLOSE_GRACE_MS);
}

/**
 * end() only half-closes: the HTTP server allows half-open sockets, so a peer that neither reads
 * nor closes would keep this socket (FIN_WAIT2 on our side) for as long as it likes.
 */
function destroyAfterGrace(socket: Duplex, ms: number): void {
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
