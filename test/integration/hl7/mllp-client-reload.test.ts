/**
 * A sender registered with `npm run cli -- client add ... --mllp-address` while the server runs is
 * accepted over MLLP without a restart and without any token request: the MLLP path itself looks
 * at the clients file again (at most once a second, src/auth/client-registry.ts).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { addClient } from '../../../src/auth/client-admin.ts';
import { field, freshSample, frame, msa, rawMllp, setField, startHl7Server, uniqueId, type Hl7Server } from './harness.ts';

const run = promisify(execFile);
/** A loopback address no harness entry lists: only the new client entry can admit it. */
const NEW_ADDRESS = '127.0.0.7';
const NEW_ODS = 'RVJ';

describe.each(backends())('MLLP senders added to the clients file of a running server on %s', (backend) => {
  let h: Hl7Server;
  beforeAll(async () => { h = await startHl7Server(backend); });
  afterAll(async () => { await h?.stop(); });

  /**
   * The v2.5.1 sample as a new referral from `ods`, sent from `address` on a fresh connection; the
   * first answer frame. `enhanced` keeps its MSH-15 AL / MSH-16 NE (HL7 v2.5.1 §2.9: a commit ACK only).
   */
  async function sendAs(ods = NEW_ODS, address = NEW_ADDRESS, enhanced = false): Promise<string> {
    const controlId = uniqueId(ods);
    const text = setField(setField(freshSample('v251', { controlId, enhanced }).text, 'MSH', 4, ods), 'RF1', 6, `${uniqueId(`${ods}-R`)}^^${ods}`);
    const peer = await rawMllp(h.mllpPort, { localAddress: address });
    try {
      await peer.write(frame(text));
      return (await peer.waitFor(1))[0];
    } finally {
      await peer.close();
    }
  }
  const sendAsNewSender = () => sendAs();

  it('when a new sender is registered with the CLI while the server runs, then its REF^I12 over MLLP is refused before and accepted shortly after, with no token request', async () => {
    const before = await sendAsNewSender();
    expect(msa(before).code).toBe('AR');
    expect(field(before, 'ERR', 8)).toBe(`This connection is not registered for sending facility '${NEW_ODS}'`);

    const cli = await run('npx', ['tsx', 'src/cli.ts', 'client', 'add', '--id', 'rvj-engine', '--org', NEW_ODS, '--org-name', 'Bristol Test Trust', '--mllp-address', NEW_ADDRESS],
      { cwd: process.cwd(), env: { ...process.env, ESO_CLIENTS_FILE: h.server.env.ESO_CLIENTS_FILE } });
    expect(cli.stdout).toContain(`may send HL7 v2 over MLLP for ${NEW_ODS} from`);

    // The registry looks at the file at most once a second: about two seconds of tries, each a new message on a new connection.
    let ack = '';
    for (let tries = 0; tries < 20 && msa(ack).code !== 'AA'; tries++) {
      if (tries) await new Promise((r) => setTimeout(r, 100));
      ack = await sendAsNewSender();
      expect(['AA', 'AR']).toContain(msa(ack).code);
    }
    expect(msa(ack).code).toBe('AA');
  });

  it('when a sender\'s client entry says "ack_mode": "legacy", then its MSH-15 AL / MSH-16 NE message gets one original-mode AA, while a sender without it gets the commit ACK CA (HL7 v2.5.1 §2.9)', async () => {
    const [ods, address] = ['RVK', '127.0.0.8'];
    await addClient(h.server.env.ESO_CLIENTS_FILE, { clientId: 'rvk-engine', organization: ods, organizationName: 'Legacy Engine Trust', mllp: { addresses: [address], ackMode: 'legacy' } });
    let ack = '';
    for (let tries = 0; tries < 20 && (tries === 0 || ['AR', 'CR'].includes(msa(ack).code)); tries++) {
      if (tries) await new Promise((r) => setTimeout(r, 100));
      ack = await sendAs(ods, address, true);
    }
    expect(msa(ack).code).toBe('AA');
    expect(field(ack, 'MSH', 9)).toBe('ACK^I12^ACK');
    const standard = await sendAs('RA7', '127.0.0.1', true);
    expect(msa(standard).code).toBe('CA');
  });
});
