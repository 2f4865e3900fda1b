/**
 * MLLP sender authentication: MSH-4 is never believed on its own. A message is accepted only when
 * a client entry of the organisation MSH-4 names admits the connection: its source address is
 * listed, or it came over mutual TLS with the listed certificate (verified against MLLP_TLS_CA).
 * Loopback senders get source addresses of their own (Linux routes all of 127.0.0.0/8 to lo).
 * Certificates are real, made with the openssl CLI; sockets are real TCP and TLS.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuditEvent, Bundle, ServiceRequest } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateFingerprint } from '../../../src/auth/mllp-binding.ts';
import { backends } from '../../helpers/backends.ts';
import { makeTestPki, type TestPki } from '../../helpers/certs.ts';
import { entries, type Party } from '../eso/harness.ts';
import {
  field, frame, freshSample, msa, rawMllp, requestSystem, SAMPLES, setField, startHl7Server, storedCounts, type Hl7Server, type RawPeerOptions, type SampleName,
} from './harness.ts';

const NOT_REGISTERED = (ods: string) => `This connection is not registered for sending facility '${ods}'`;

/** The sample with fresh ids, in original acknowledgment mode (so a refusal is AR, not CR). */
function message(name: SampleName): { text: string; controlId: string; requestId: string } {
  const s = freshSample(name);
  return { ...s, text: setField(setField(s.text, 'MSH', 15, ''), 'MSH', 16, '') };
}

/** Sends each text on one connection (from `opts.localAddress`, over TLS with `opts.tls`) and returns the answers. */
async function sendOn(port: number, texts: string[], opts: RawPeerOptions = {}): Promise<string[]> {
  const peer = await rawMllp(port, opts);
  try {
    for (const t of texts) await peer.write(frame(t));
    return await peer.waitFor(texts.length);
  } finally {
    await peer.close();
  }
}

/** ServiceRequests of `requestId`, as the requester named in the sample sees them. */
async function casesOf(h: Hl7Server, name: SampleName, requestId: string): Promise<ServiceRequest[]> {
  const ods = SAMPLES[name].requester;
  const r = await h.as[ods].get<Bundle>(`/fhir/ServiceRequest?identifier=${encodeURIComponent(`${requestSystem(ods)}|${requestId}`)}`);
  return entries<ServiceRequest>(r.body, 'ServiceRequest');
}

/** The refusal AuditEvents of the message `controlId`, as the organisation it claimed to come from sees them. */
async function refusalAudits(who: Party, controlId: string): Promise<AuditEvent[]> {
  const all = entries<AuditEvent>((await who.get<Bundle>('/fhir/AuditEvent?outcome=4&_count=1000')).body, 'AuditEvent');
  return all.filter((a) => a.outcomeDesc?.includes('hl7v2-mllp-sender-refused') && a.outcomeDesc.endsWith(`MSH-10 ${controlId}`));
}

describe.each(backends())('MLLP sender authentication on %s', (backend) => {
  describe('by source address', () => {
    let h: Hl7Server;
    beforeAll(async () => {
      // 127.0.0.7 is one integration engine sending for RA7 and RGT (RGT's entry spells it IPv4-mapped), not for RTH.
      h = await startHl7Server(backend, {}, {
        RA7: { addresses: ['127.0.0.1', '127.0.0.7'] },
        RGT: { addresses: ['127.0.0.1', '::ffff:127.0.0.7'] },
        RTH: { addresses: ['127.0.0.1'] },
      });
    });
    afterAll(async () => { await h?.stop(); });

    it('when a sender connects from an address no entry of MSH-4 lists, then it gets AR at MSH-4, nothing is stored, and the refusal is audited without the message', async () => {
      const m = message('v251');
      const before = await storedCounts(h.server.storage);
      const [ack] = await sendOn(h.mllpPort, [m.text], { localAddress: '127.0.0.9' });
      expect(msa(ack)).toMatchObject({ code: 'AR', controlId: m.controlId });
      expect(field(ack, 'ERR', 2)).toMatch(/^MSH\^1\^4/);
      expect(field(ack, 'ERR', 3)).toMatch(/^207/);
      expect(field(ack, 'ERR', 8)).toBe(NOT_REGISTERED('RA7'));
      expect(await casesOf(h, 'v251', m.requestId)).toEqual([]);
      expect(await storedCounts(h.server.storage)).toEqual(before);

      const audits = await refusalAudits(h.as.RA7, m.controlId);
      expect(audits).toHaveLength(1);
      expect(audits[0].outcome).toBe('4');
      expect(audits[0].outcomeDesc).toContain('connection-not-registered');
      expect(audits[0].agent[0].network?.address).toBe('127.0.0.9');
      expect(audits[0].agent[1].who?.identifier?.value).toBe('RA7');
      expect(JSON.stringify(audits[0])).not.toContain(SAMPLES.v251.nhsNumber);
    });

    it('when the same Trust sends from a listed address, then it gets AA and the case is there', async () => {
      const m = message('v251');
      const [ack] = await sendOn(h.mllpPort, [m.text], { localAddress: '127.0.0.7' });
      expect(msa(ack)).toMatchObject({ code: 'AA', controlId: m.controlId });
      expect(await casesOf(h, 'v251', m.requestId)).toHaveLength(1);
    });

    it('when one address is listed by two organisations\' entries, then it may send for both on one connection, but not for a third', async () => {
      const ra7 = message('v251');
      const rgt = message('v24');
      const rth = message('v23');
      const acks = await sendOn(h.mllpPort, [ra7.text, rgt.text, rth.text], { localAddress: '127.0.0.7' });
      expect(acks.map((a) => msa(a).code)).toEqual(['AA', 'AA', 'AR']);
      expect(msa(acks[2]).text).toBe(NOT_REGISTERED('RTH'));
      expect(await casesOf(h, 'v251', ra7.requestId)).toHaveLength(1);
      expect(await casesOf(h, 'v24', rgt.requestId)).toHaveLength(1);
      expect(await casesOf(h, 'v23', rth.requestId)).toEqual([]);
      expect(await refusalAudits(h.as.RTH, rth.controlId)).toHaveLength(1);
    });
  });

  describe('by TLS client certificate (MLLP_TLS_CA)', () => {
    let h: Hl7Server;
    let pki: TestPki;
    let client: (name: 'ra7-engine' | 'other-engine' | 'self-signed') => RawPeerOptions['tls'];
    beforeAll(async () => {
      pki = makeTestPki(mkdtempSync(join(tmpdir(), 'eso-mllp-pki-')), ['ra7-engine', 'other-engine']);
      const files = { 'ra7-engine': pki.clients['ra7-engine'], 'other-engine': pki.clients['other-engine'], 'self-signed': pki.selfSigned };
      client = (name) => ({ ca: pki.read(pki.ca.cert), key: pki.read(files[name].key), cert: pki.read(files[name].cert) });
      h = await startHl7Server(backend, { MLLP_TLS_KEY: pki.server.key, MLLP_TLS_CERT: pki.server.cert, MLLP_TLS_CA: pki.ca.cert }, {
        RA7: { addresses: ['127.0.0.1'], certificateSha256: certificateFingerprint(pki.read(pki.clients['ra7-engine'].cert)) },
        // A fingerprint in the file does not make a certificate the CA never signed acceptable.
        RGT: { addresses: ['127.0.0.1'], certificateSha256: certificateFingerprint(pki.read(pki.selfSigned.cert)) },
        RTH: { addresses: ['127.0.0.1'] },
      });
    });
    afterAll(async () => {
      await h?.stop();
      if (pki) rmSync(pki.dir, { recursive: true, force: true });
    });

    it('when the registered certificate comes from an unlisted address, then it gets AA', async () => {
      const m = message('v251');
      const [ack] = await sendOn(h.mllpPort, [m.text], { localAddress: '127.0.0.9', tls: client('ra7-engine') });
      expect(msa(ack)).toMatchObject({ code: 'AA', controlId: m.controlId });
      expect(await casesOf(h, 'v251', m.requestId)).toHaveLength(1);
    });

    it('when a certificate the CA signed is not the one registered for MSH-4, then it gets AR and the refusal is audited', async () => {
      const m = message('v251');
      const [ack] = await sendOn(h.mllpPort, [m.text], { localAddress: '127.0.0.9', tls: client('other-engine') });
      expect(msa(ack)).toMatchObject({ code: 'AR', text: NOT_REGISTERED('RA7') });
      expect(await casesOf(h, 'v251', m.requestId)).toEqual([]);
      expect(await refusalAudits(h.as.RA7, m.controlId)).toHaveLength(1);
    });

    it('when a self-signed certificate is registered but not from the CA, then it gets no AA (AR: it never counts) and nothing is stored', async () => {
      const m = message('v24');
      const before = await storedCounts(h.server.storage);
      const [ack] = await sendOn(h.mllpPort, [m.text], { localAddress: '127.0.0.9', tls: client('self-signed') });
      expect(msa(ack)).toMatchObject({ code: 'AR', text: NOT_REGISTERED('RGT') });
      expect(await casesOf(h, 'v24', m.requestId)).toEqual([]);
      expect(await storedCounts(h.server.storage)).toEqual(before);
    });

    it('when a TLS sender has no client certificate, then an unlisted address gets AR and a listed one AA', async () => {
      const ca = { ca: pki.read(pki.ca.cert) };
      const refused = message('v251');
      const [ar] = await sendOn(h.mllpPort, [refused.text], { localAddress: '127.0.0.9', tls: ca });
      expect(msa(ar)).toMatchObject({ code: 'AR', text: NOT_REGISTERED('RA7') });
      const accepted = message('v251');
      const [aa] = await sendOn(h.mllpPort, [accepted.text], { localAddress: '127.0.0.1', tls: ca });
      expect(msa(aa).code).toBe('AA');
    });
  });
});

describe('npm run cli -- client add --mllp-address --mllp-cert', () => {
  let dir: string;
  let pki: TestPki;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'eso-cli-mllp-'));
    pki = makeTestPki(dir, ['rq1-engine']);
  });
  afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

  const cli = (args: string[]) => execFileSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: fileURLToPath(new URL('../../../', import.meta.url)), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });

  it('when an operator registers an address and a certificate file, then the entry holds both, the fingerprint being the SHA-256 of the certificate', async () => {
    const file = join(dir, 'clients.json');
    cli(['client', 'add', '--id', 'rq1-engine', '--org', 'RQ1', '--file', file, '--key-out', join(dir, 'rq1.jwk.json'),
      '--mllp-address', '127.0.0.5', '--mllp-address', '10.1.2.3', '--mllp-cert', pki.clients['rq1-engine'].cert]);
    // The fingerprint as openssl itself prints it (AB:CD:...), independent of our code.
    const printed = execFileSync('openssl', ['x509', '-in', pki.clients['rq1-engine'].cert, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' });
    const expected = printed.trim().split('=')[1].replace(/:/g, '').toLowerCase();
    const { clients } = JSON.parse(readFileSync(file, 'utf8')) as { clients: Record<string, unknown>[] };
    expect(clients).toHaveLength(1);
    expect(clients[0]).toMatchObject({ client_id: 'rq1-engine', organization: 'RQ1', mllp: { addresses: ['127.0.0.5', '10.1.2.3'], certificate_sha256: expected } });
    expect(cli(['client', 'list', '--file', file])).toContain(`mllp: 127.0.0.5, 10.1.2.3, certificate sha256 ${expected}`);
  });

  it('when the address is a host name, then nothing is written and the message says what is wrong', () => {
    const file = join(dir, 'refused.json');
    let stderr = '';
    try {
      cli(['client', 'add', '--id', 'rq1-engine', '--org', 'RQ1', '--file', file, '--key-out', join(dir, 'x.jwk.json'), '--mllp-address', 'epr.rq1.nhs.uk']);
    } catch (e) {
      stderr = String((e as { stderr?: string }).stderr);
    }
    expect(stderr).toContain('clients.0.mllp.addresses.0: must be an IP address literal');
    expect(existsSync(file)).toBe(false);
  });
});
