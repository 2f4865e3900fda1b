/**
 * The clinician app's world for tests: eso-bridge (auth on) and three EHR stand-ins, one per Trust:
 * the treating Trust (RTT, private_key_jwt), the provider's Trust team (RPVNP, part of RPV; client_secret_basic)
 * and a third Trust (R3T; a public client, PKCE only),
 * registered in ESO_APP_EHRS_FILE. Also the browser (Debian's chromium, driven by playwright-core).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { writeJsonFileAtomic } from '../../src/auth/json-file.ts';
import { startEhr, type EhrChild, type EhrStandIn } from './ehr-stand-in.ts';
import { startTestServer, type TestServer } from './server.ts';

export const CHILD: EhrChild = { id: 'child-1', nhsNumber: '9434765919', given: 'Amira', family: 'Example', birthDate: '2016-03-27', gender: 'female' };
export const OTHER_CHILD: EhrChild = { id: 'child-2', nhsNumber: '9434765870', given: 'Ben', family: 'Other', birthDate: '2015-01-02' };
export const NO_NHS_CHILD: EhrChild = { id: 'child-3', given: 'Cara', family: 'Unmatched', birthDate: '2017-05-06' };

export interface ClinicianWorld {
  eso: TestServer;
  treating: EhrStandIn;
  provider: EhrStandIn;
  third: EhrStandIn;
  /** A launch URL of eso-bridge for an EHR (EHR launch with `launch`, standalone without). */
  launchUrl(ehr: EhrStandIn, launch?: string): string;
  stop(): Promise<void>;
}

export async function startClinicianWorld(env: Record<string, string> = {}): Promise<ClinicianWorld> {
  // The EHRs file exists before the EHRs do (they need eso-bridge's address): written below, re-read on change.
  const ehrsFile = join(await mkdtemp(join(tmpdir(), 'eso-app-ehrs-')), 'ehrs.json');
  const eso = await startTestServer('sqlite', { ESO_APP_EHRS_FILE: ehrsFile, ...env }, {
    directory: [
      { ods: 'RTT', name: 'Southern Children\'s Hospital' }, { ods: 'RTTNE', name: 'Southern Neurology', partOf: 'RTT' },
      { ods: 'RPV', name: 'Northern Children\'s Trust' }, { ods: 'RPVNP', name: 'Paediatric Neurology', partOf: 'RPV' },
      { ods: 'R3T', name: 'Third Trust' },
    ],
    clients: [{ clientId: 'rtt-epr', organization: 'RTT' }],
  });
  const common = { redirectUri: `${eso.url}/app/callback`, jwksUri: `${eso.url}/app/jwks`, children: [CHILD, OTHER_CHILD, NO_NHS_CHILD],
    documents: { 'child-1': [{ title: 'MRI brain report', contentType: 'application/pdf' }, { title: 'EEG summary', contentType: 'text/plain' }] } };
  const treating = await startEhr({ ...common, clientId: 'eso-rtt', practitioners: [{ id: 'dr-hughes', given: 'Sam', family: 'Hughes', gmc: '1234567' }] });
  const provider = await startEhr({ ...common, clientId: 'eso-rpv', clientSecret: 'a-long-shared-secret-for-tests',
    practitioners: [{ id: 'dr-okafor', given: 'Ngozi', family: 'Okafor', gmc: '7654321' }] });
  const third = await startEhr({ ...common, clientId: 'eso-r3t', publicClient: true, practitioners: [{ id: 'dr-third', given: 'Tom', family: 'Third' }] });
  await writeJsonFileAtomic(ehrsFile, { ehrs: [
    { iss: treating.iss, client_id: 'eso-rtt', auth: 'private_key_jwt', organization: 'RTT' },
    { iss: provider.iss, client_id: 'eso-rpv', auth: 'client_secret_basic', client_secret: 'a-long-shared-secret-for-tests', organization: 'RPVNP' },
    { iss: third.iss, client_id: 'eso-r3t', auth: 'none', organization: 'R3T' },
  ] }, 0o644);
  return {
    eso, treating, provider, third,
    launchUrl: (ehr, launch) => `${eso.url}/app/launch?iss=${encodeURIComponent(ehr.iss)}${launch !== undefined ? `&launch=${encodeURIComponent(launch)}` : ''}`,
    async stop() {
      await Promise.all([treating.close(), provider.close(), third.close()]);
      await eso.stop();
      await rm(dirname(ehrsFile), { recursive: true, force: true });
    },
  };
}

/** Debian's chromium, with the flags a closed network needs. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
