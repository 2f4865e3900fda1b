/**
 * `npm run demo -- --app`: the clinician app against an EHR stand-in (test/helpers/ehr-stand-in.ts: a real
 * oidc-provider and a small FHIR API; dev dependencies) for RZ1, the demo's requesting Trust. Registers it in
 * the EHRs file the running server reads (ESO_APP_EHRS_FILE or ESO_DATA_DIR/app-ehrs.json), prints an EHR
 * launch link for Alice Evans (the demo's child) and a provider's launch link for RZ2NP, and keeps the
 * stand-ins up until Ctrl-C.
 */
import { join } from 'node:path';
import { readJsonFile, writeJsonFileAtomic } from './auth/json-file.ts';

interface StandInEhr { iss: string; launches: Map<string, string>; close(): Promise<void> }
interface StandIn { startEhr(opts: Record<string, unknown>): Promise<StandInEhr> }

export async function runAppDemo(base: string, dataDir: string, say: (line: string) => void): Promise<void> {
  // A test helper, not part of the service: loaded by a path the build does not follow (dist/ never holds it).
  const helper = '../test/helpers/ehr-stand-in.ts';
  let standIn: StandIn;
  try {
    standIn = (await import(helper)) as StandIn;
  } catch {
    say('The EHR stand-in needs the dev dependencies (npm ci without --omit=dev).');
    return;
  }
  const file = process.env.ESO_APP_EHRS_FILE ?? join(dataDir, 'app-ehrs.json');
  const common = { redirectUri: `${base}/app/callback`, jwksUri: `${base}/app/jwks`,
    children: [{ id: 'alice', nhsNumber: '9434765919', given: 'Alice', family: 'Evans', birthDate: '2015-06-24', gender: 'female' }],
    documents: { alice: [{ title: 'MRI brain report', contentType: 'application/pdf' }] } };
  const treating = await standIn.startEhr({ ...common, clientId: 'eso-demo-rz1', practitioners: [{ id: 'dr-patel', given: 'Anjali', family: 'Patel', gmc: '2345678' }] });
  const provider = await standIn.startEhr({ ...common, clientId: 'eso-demo-rz2np', practitioners: [{ id: 'dr-brown', given: 'Alex', family: 'Brown', gmc: '3456789' }] });
  treating.launches.set('demo', 'alice');
  const current = ((await readJsonFile(file)) as { ehrs?: { iss: string }[] } | undefined)?.ehrs ?? [];
  const ours = [{ iss: treating.iss, client_id: 'eso-demo-rz1', auth: 'private_key_jwt', organization: 'RZ1' },
    { iss: provider.iss, client_id: 'eso-demo-rz2np', auth: 'private_key_jwt', organization: 'RZ2NP' }];
  await writeJsonFileAtomic(file, { ehrs: [...current.filter((e) => !e.iss.startsWith('http://127.0.0.1:')), ...ours] }, 0o644);
  say(`\nThe clinician app, launched from an EHR stand-in (registered in ${file}):`);
  say(`  treating consultant (RZ1), on Alice Evans: ${base}/app/launch?iss=${encodeURIComponent(treating.iss)}&launch=demo`);
  say(`  provider's specialist (RZ2NP), worklist:   ${base}/app/launch?iss=${encodeURIComponent(provider.iss)}&launch=worklist`);
  say('Open a link in a browser on this machine. Ctrl-C stops the stand-ins.');
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await Promise.all([treating.close(), provider.close()]);
}
