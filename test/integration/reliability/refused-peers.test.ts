/**
 * Peers that never read: the HTTP listener's socket limits (src/http/socket-limits.ts, the same
 * function the service applies) on a real server on loopback, with limits short enough for a
 * test. A peer that sends half a request, or garbage, and then neither reads nor closes gets its
 * answer and loses its socket; so does a peer that stops reading a response. Nothing asserts how
 * fast: only that the server's connection count returns to zero within a generous bound.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySocketLimits, type SocketLimits } from '../../../src/http/socket-limits.ts';

const BOUND_MS = 15_000;

/** A real HTTP server on loopback with the service's socket limits, shortened. */
async function limitedServer(limits: SocketLimits): Promise<{ server: http.Server; port: number }> {
  // The checking interval decides when Node notices an expired request (30 s by default).
  const server = http.createServer({ connectionsCheckingInterval: 50 }, (req, res) => {
    if (req.url === '/large') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.alloc(64 * 1024 * 1024, 1)); // far more than the socket buffers hold
      return;
    }
    res.end('ok');
  });
  applySocketLimits(server, limits);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, port: (server.address() as net.AddressInfo).port };
}

async function stop(server: http.Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const connections = (server: http.Server) => new Promise<number>((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n))));

/** Polls the server's connection count until it is zero, or the bound passes; returns the last count. */
async function untilNoConnections(server: http.Server): Promise<number> {
  const end = Date.now() + BOUND_MS;
  let n = await connections(server);
  while (n > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    n = await connections(server);
  }
  return n;
}

/** A peer that never closes its side (allowHalfOpen) and reads nothing until `readAll` is called. */
async function silentPeer(port: number, bytes: string) {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  socket.pause();
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  socket.write(bytes);
  return {
    socket,
    /** Reads what the server sent, up to its end of the stream. */
    readAll: () => new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => { text += chunk.toString('utf8'); });
      socket.once('end', () => resolve(text));
      socket.resume();
    }),
  };
}

// The idle timeout is far beyond the bound here: what closes these sockets is the refusal's own grace.
describe('refused peers that never read', () => {
  let s: Awaited<ReturnType<typeof limitedServer>>;
  beforeAll(async () => { s = await limitedServer({ requestTimeoutMs: 400, headersTimeoutMs: 200, idleTimeoutMs: 10 * BOUND_MS, keepAliveTimeoutMs: 5_000 }); });
  afterAll(async () => { await stop(s?.server); });

  it('when a peer sends half a request and never reads nor closes, then after the 408 the server lets go of its socket', async () => {
    const peer = await silentPeer(s.port, 'GET /fhir/metadata HTTP/1.1\r\nHost: x\r\n'); // headers never finish
    expect(await untilNoConnections(s.server)).toBe(0);
    const answer = await peer.readAll();
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"resourceType":"OperationOutcome"');
    peer.socket.destroy();
  });

  it('when a peer sends a request Node cannot parse and never reads nor closes, then after the 400 the server lets go of its socket', async () => {
    const peer = await silentPeer(s.port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(await untilNoConnections(s.server)).toBe(0);
    expect(await peer.readAll()).toMatch(/^HTTP\/1\.1 400 /);
    peer.socket.destroy();
  });

  it('when a peer behaves, then it is still served (the control)', async () => {
    const res = await fetch(`http://127.0.0.1:${s.port}/`);
    expect([res.status, await res.text()]).toEqual([200, 'ok']);
  });
});

describe('a peer that stops reading a response', () => {
  let s: Awaited<ReturnType<typeof limitedServer>>;
  beforeAll(async () => { s = await limitedServer({ requestTimeoutMs: 10 * BOUND_MS, headersTimeoutMs: 10 * BOUND_MS, idleTimeoutMs: 500, keepAliveTimeoutMs: 5_000 }); });
  afterAll(async () => { await stop(s?.server); });

  it('when a peer asks for a large response and never reads it, then the server lets go of its socket once it is idle', async () => {
    const peer = await silentPeer(s.port, 'GET /large HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await untilNoConnections(s.server)).toBe(0);
    peer.socket.destroy();
  });
});
