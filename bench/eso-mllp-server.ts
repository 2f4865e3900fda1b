/**
 * eso-bridge with MLLP as a child process for the bench (SQLite in ESO_DATA_DIR, or PostgreSQL at
 * DATABASE_URL when set). Before it
 * reports its ports it prepares what an MLLP sender needs: a registered client for the sending
 * organisation (RA7, MSH-4 of the bench messages) and the provider (SGH01, the referred-to
 * facility) in the directory under a Trust of its own, so each referral passes the independence
 * rule. HTTP authentication is off only to write the directory as the system; the MLLP path
 * does not use HTTP authentication either way.
 * Sends { port: <MLLP port>, httpPort } over IPC.
 */
import { join } from 'node:path';
import { addClient } from '../src/auth/client-admin.ts';
import { loadConfig } from '../src/config/load.ts';
import { startServer } from '../src/server.ts';

const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const dataDir = process.env.ESO_DATA_DIR;
if (!dataDir) throw new Error('ESO_DATA_DIR must be set');

// A sender must be admitted by its client entry: RA7 sends from loopback.
await addClient(join(dataDir, 'clients.json'), { clientId: 'ra7-epr', organization: 'RA7', replace: true, mllp: { addresses: ['127.0.0.1'] } });
await addClient(join(dataDir, 'clients.json'), { clientId: 'sgh01-eso', organization: 'SGH01', replace: true });

const running = await startServer(loadConfig({
  ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', ESO_AUTH_DISABLED: 'true',
  MLLP_ENABLED: 'true', MLLP_HOST: '127.0.0.1', MLLP_PORT: '0', ESO_OUTBOX_ENABLED: 'false',
}));

async function fhir(method: string, path: string, body?: unknown): Promise<{ id?: string; entry?: { resource: { id: string } }[] }> {
  const res = await fetch(`${running.url}/fhir/${path}`, { method, headers: { 'content-type': 'application/fhir+json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id?: string; entry?: { resource: { id: string } }[] };
}

const trust = await fhir('POST', 'Organization', { resourceType: 'Organization', active: true, name: 'Scottish Children\'s Health Board', identifier: [{ system: ODS, value: 'SGH' }], address: [{ country: 'GB' }] });
const site = (await fhir('GET', `Organization?identifier=${encodeURIComponent(`${ODS}|SGH01`)}`)).entry![0].resource;
await fhir('PUT', `Organization/${site.id}`, { ...site, name: 'Royal Hospital for Children', address: [{ city: 'Glasgow', country: 'GB' }], partOf: { reference: `Organization/${trust.id}` } });

process.send?.({ port: running.mllpPort, httpPort: Number(new URL(running.url).port) });
process.on('SIGTERM', () => { void running.close().then(() => process.exit(0)); });
