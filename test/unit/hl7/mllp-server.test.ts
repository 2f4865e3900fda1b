import { Hl7Message } from '@medplum/core';
import { Hl7Client, ReturnAckCategory } from '@medplum/hl7';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildAck } from '../../../src/hl7/ack.ts';
import { readHeader } from '../../../src/hl7/er7.ts';
import { MllpClient } from '../../../src/hl7/mllp-client.ts';
import { frameMessage, MllpFramer } from '../../../src/hl7/mllp-framer.ts';
import { createMllpServer, type MllpServer, type MllpServerOptions } from '../../../src/hl7/mllp-server.ts';
import { createV2Receiver } from '../../../src/hl7/v2-receiver.ts';
import { FakeStorage } from './fake-storage.ts';
import { field, fixture, sample, setField } from './samples.ts';

const ours = { application: 'ESO_BRIDGE', facility: 'ESO' };
/** A handler with no storage: AA for anything with an MSH. */
const ackOnly = async (text: string) => buildAck({ received: readHeader(text), code: 'AA', ours });
const v251 = sample('REF_I12-v251-inpatient-urgent');
const withId = (id: string) => setField(v251, 'MSH', 10, id);

let server: MllpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(o: Partial<MllpServerOptions> = {}): Promise<number> {
  server = createMllpServer({ host: '127.0.0.1', port: 0, maxMessageBytes: 64 * 1024, idleTimeoutMs: 5000, handler: ackOnly, ...o });
  return (await server.listen()).port;
}

/** A raw socket that collects answer frames (and counts every byte the server wrote back). */
async function rawClient(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise((r) => socket.once('connect', r));
  const framer = new MllpFramer({ maxMessageBytes: 1 << 20 });
  const answers: string[] = [];
  let closed = false;
  let bytes = 0;
  socket.on('data', (c) => (bytes += c.length));
  socket.on('data', (c) => answers.push(...framer.push(c).flatMap((e) => (e.type === 'frame' ? [e.data.toString('utf8')] : []))));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  const until = async (check: () => boolean, ms = 3000) => {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { socket, answers, isClosed: () => closed, bytesReceived: () => bytes, until };
}

describe('MLLP server over loopback', () => {
  it("when Medplum's Hl7Client sends the v2.5.1 sample, then it gets an AA for that message", async () => {
    const port = await start();
    const client = new Hl7Client({ host: '127.0.0.1', port });
    try {
      const ack = await client.sendAndWait(Hl7Message.parse(v251));
      expect(ack.getSegment('MSA')!.getField(1).toString()).toBe('AA');
      expect(ack.getSegment('MSA')!.getField(2).toString()).toBe('RA7-000918273');
      expect(ack.getSegment('MSH')!.getField(3).toString()).toBe('ESO_BRIDGE');
    } finally {
      await client.close();
    }
  });

  it('when an enhanced-mode message (v2.3 sample) is sent, then the commit ACK CA comes first and the application ACK AA follows', async () => {
    const receiver = createV2Receiver({ storage: new FakeStorage(), submit: async () => ({}) as never, admitsConnection: () => true, isSenderAllowed: () => true, facility: ours });
    const port = await start({ handler: (t) => receiver.handleFrames(t) });
    const message = fixture('REF_I12-v23-enhanced-ack.prd4-fixed.hl7');
    // Medplum's Hl7Connection reads one socket read as one message, so it sees the CA only.
    const client = new Hl7Client({ host: '127.0.0.1', port });
    try {
      const first = await client.sendAndWait(Hl7Message.parse(message), { returnAck: ReturnAckCategory.FIRST });
      expect(first.getSegment('MSA')!.getField(1).toString()).toBe('CA');
    } finally {
      await client.close();
    }
    const c = await rawClient(port);
    c.socket.write(frameMessage(setField(message, 'MSH', 10, 'RTH000778')));
    await c.until(() => c.answers.length === 2);
    expect(c.answers.map((a) => [field(a, 'MSA', 1), field(a, 'MSA', 2)])).toEqual([['CA', 'RTH000778'], ['AA', 'RTH000778']]);
    c.socket.destroy();
  });

  it('when several messages arrive in one write and byte by byte, then each is answered once, in order, even with uneven handler delays', async () => {
    const port = await start({
      handler: async (t) => {
        await new Promise((r) => setTimeout(r, Math.random() * 20));
        return ackOnly(t);
      },
    });
    const c = await rawClient(port);
    c.socket.write(Buffer.concat(['A1', 'A2', 'A3'].map((id) => frameMessage(withId(id)))));
    const slow = Buffer.concat(['B1', 'B2'].map((id) => frameMessage(withId(id))));
    for (const byte of slow) c.socket.write(Buffer.from([byte]));
    await c.until(() => c.answers.length === 5);
    expect(c.answers.map((a) => field(a, 'MSA', 2))).toEqual(['A1', 'A2', 'A3', 'B1', 'B2']);
    c.socket.destroy();
  });

  it('when a message is over the size limit, then it gets AR and the connection stays usable', async () => {
    const port = await start({ maxMessageBytes: 2000, rejectOversize: (head, max) => buildAck({ received: readHeader(head), code: 'AR', ours, errors: [{ code: 207, text: `over ${max}` }] }) });
    const c = await rawClient(port);
    c.socket.write(frameMessage(`${withId('BIG')}OBX|1|ED|X||${'A'.repeat(5000)}\r`));
    c.socket.write(frameMessage(withId('SMALL')));
    await c.until(() => c.answers.length === 2);
    expect(c.answers.map((a) => [field(a, 'MSA', 1), field(a, 'MSA', 2)])).toEqual([['AR', 'BIG'], ['AA', 'SMALL']]);
    c.socket.destroy();
  });

  it('when an oversize message comes and no reply is configured, then the connection is closed cleanly', async () => {
    const port = await start({ maxMessageBytes: 100 });
    const c = await rawClient(port);
    c.socket.write(frameMessage(v251));
    await c.until(c.isClosed);
    expect(c.answers).toEqual([]);
  });

  it('when garbage bytes come before, between and inside frames, then the process survives and good frames are answered', async () => {
    const port = await start();
    const c = await rawClient(port);
    c.socket.write(Buffer.from([0, 255, 0x1c, 0x0d, 1, 2, 3]));
    c.socket.write(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n\r\n'), frameMessage(withId('G1')), Buffer.from([0x0b, 0xff, 0xfe]), frameMessage(withId('G2'))]));
    await c.until(() => c.answers.length === 2);
    expect(c.answers.map((a) => field(a, 'MSA', 2))).toEqual(['G1', 'G2']);
    c.socket.destroy();
  });

  it('when a frame contains no HL7 at all, then the answer is whatever the handler says (the receiver answers AR), not a crash', async () => {
    const receiver = createV2Receiver({ storage: new FakeStorage(), submit: async () => ({}) as never, admitsConnection: () => true, isSenderAllowed: () => true, facility: ours });
    const port = await start({ handler: (t) => receiver.handleFrames(t) });
    const c = await rawClient(port);
    c.socket.write(frameMessage('\x00\x01 not hl7'));
    await c.until(() => c.answers.length === 1);
    expect(field(c.answers[0], 'MSA', 1)).toBe('AR');
    c.socket.destroy();
  });

  it('when a connection stays idle, then the server closes it', async () => {
    const port = await start({ idleTimeoutMs: 100 });
    const c = await rawClient(port);
    await c.until(c.isClosed, 2000);
    await c.until(() => server!.connections === 0, 2000);
  });

  it('when the handler fails, then that connection is closed unanswered and the server keeps serving', async () => {
    const port = await start({ handler: async (t) => (t.includes('|BOOM|') ? Promise.reject(new Error('x')) : ackOnly(t)) });
    const bad = await rawClient(port);
    bad.socket.write(frameMessage(withId('BOOM')));
    await bad.until(bad.isClosed);
    expect(bad.isClosed()).toBe(true);
    expect(bad.bytesReceived(), 'bytes written back on the failed connection').toBe(0);
    expect(bad.answers).toHaveLength(0);
    const good = await rawClient(port);
    good.socket.write(frameMessage(withId('OK')));
    await good.until(() => good.answers.length === 1);
    expect(field(good.answers[0], 'MSA', 2)).toBe('OK');
    good.socket.destroy();
  });

  it('when the client half-closes right after sending, then it still gets its answer', async () => {
    const port = await start({ handler: async (t) => (await new Promise((r) => setTimeout(r, 50)), ackOnly(t)) });
    const c = await rawClient(port);
    c.socket.end(frameMessage(withId('H1')));
    await c.until(c.isClosed);
    expect(c.answers.map((a) => field(a, 'MSA', 2))).toEqual(['H1']);
  });

  it('when the server closes while a message is being handled, then the answer is still sent first', async () => {
    const port = await start({ handler: async (t) => (await new Promise((r) => setTimeout(r, 100)), ackOnly(t)) });
    const c = await rawClient(port);
    c.socket.write(frameMessage(withId('C1')));
    await new Promise((r) => setTimeout(r, 20));
    await server!.close();
    server = undefined;
    expect(c.answers.map((a) => field(a, 'MSA', 2))).toEqual(['C1']);
  });

  it('when our own MllpClient sends several messages on one connection, then each send gets its own ACK', async () => {
    const port = await start();
    const client = new MllpClient({ host: '127.0.0.1', port });
    try {
      for (const id of ['M1', 'M2', 'M3']) expect(field(await client.send(withId(id)), 'MSA', 2)).toBe(id);
    } finally {
      await client.close();
    }
  });

  const haveOpenssl = (() => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!haveOpenssl)('when TLS is configured, then a TLS client gets its ACK', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mllp-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const cert = readFileSync(join(dir, 'cert.pem'));
    const port = await start({ tls: { key: readFileSync(join(dir, 'key.pem')), cert } });
    const client = new MllpClient({ host: '127.0.0.1', port, tls: { ca: cert } });
    try {
      expect(field(await client.send(withId('T1')), 'MSA', 1)).toBe('AA');
    } finally {
      await client.close();
    }
  });
});
