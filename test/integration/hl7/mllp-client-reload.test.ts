/**
 * A sender registered with `npm run cli -- client add ... --mllp-address` while the server runs is
 * accepted over MLLP without a restart and without any token request: the MLLP path itself looks
 * at the clients file again (at most once a second, src/auth/client-registry.ts).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { field, freshSample, msa, rawMllp, setField, startHl7Server, uniqueId, type Hl7Server } from './harness.ts';

const run = promisify(execFile);
/** A loopback address no harness entry lists: only the new client entry can admit it. */
const NEW_ADDRESS = '127.0.0.7';
const NEW_ODS = 'RVJ';

describe.each(backends())('MLLP senders added to the clients file of a running server on %s', (backend) => {
  let h: Hl7Server;
  beforeAll(async () => { h = await startHl7Server(backend); });
  afterAll(async () => { await h?.stop(); });

  /** The v2.5.1 sample as a new referral from RVJ, sent from NEW_ADDRESS on a fresh connection; its ACK. */
  async function sendAsNewSender(): Promise<string> {
    const controlId = uniqueId(NEW_ODS);
    const text = setField(setField(freshSample('v251', { controlId }).text, 'MSH', 4, NEW_ODS), 'RF1', 6, `${uniqueId(`${NEW_ODS}-R`)}^^${NEW_ODS}`);
    const peer = await rawMllp(h.mllpPort, { localAddress: NEW_ADDRESS });
    try {
      await peer.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(`${text}\r`, 'utf8'), Buffer.from([0x1c, 0x0d])]));
      return (await peer.waitFor(1))[0];
    } finally {
      await peer.close();
    }
  }

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
});
