/** Running it: config, health, logs that never leak, a generic 500 with a request id, SIGTERM drain. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, configHelp, loadConfig } from '../../../src/config/load.ts';
import { startServer } from '../../../src/server.ts';
import { createLogger } from '../../../src/shared/logger.ts';
import { fhirFetch, getToken, registerClient } from '../../helpers/auth.ts';

function captureLogger() {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  return { log: createLogger('info', stream), lines };
}

const CLIENT = { clientId: 'ops-epr', organization: 'TST01' };

/** Settings with authentication on and a client registered in the data dir (whose clients.json is read by default). */
async function secure(extra: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'eso-ops-'));
  const key = await registerClient(dataDir, CLIENT);
  const env = { PORT: '0', HOST: '127.0.0.1', MLLP_ENABLED: 'false', ESO_OUTBOX_ENABLED: 'false', ESO_AUTH_DISABLED: 'false', ESO_DATA_DIR: dataDir, ...extra };
  return { env, token: (url: string) => getToken(url, CLIENT.clientId, key) };
}

describe('configuration', () => {
  it('when a value is bad, then start fails naming the variable', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud' })).toThrow(/PORT=.*\n.*LOG_LEVEL=/s);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ ESO_OUTBOX_LEASE_MS: '1000', ESO_OUTBOX_CONNECT_TIMEOUT_MS: '500', ESO_OUTBOX_ANSWER_TIMEOUT_MS: '500' })).toThrow(/ESO_OUTBOX_LEASE_MS must exceed/);
    expect(loadConfig({ ESO_OUTBOX_LEASE_MS: '1001', ESO_OUTBOX_CONNECT_TIMEOUT_MS: '500', ESO_OUTBOX_ANSWER_TIMEOUT_MS: '500' }).outboxLeaseMs).toBe(1001);
  });

  it('when nothing is set, then the documented defaults apply', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8080, host: '127.0.0.1', dataDir: './data', logLevel: 'info', mllpPort: 2575 });
    expect(c.databaseUrl).toBeUndefined();
  });

  it('when --help is asked, then every key is listed with its env name', () => {
    for (const name of ['PORT', 'HOST', 'ESO_BASE_URL', 'ESO_DATA_DIR', 'DATABASE_URL', 'LOG_LEVEL']) expect(configHelp()).toContain(name);
  });
});

describe('running the service', () => {
  it('when requests carry NHS numbers, bodies and tokens, then the logs hold only ids, status and durations', async () => {
    const { log, lines } = captureLogger();
    const s = await secure();
    const server = await startServer(loadConfig(s.env), { log });
    let token = '';
    try {
      token = await s.token(server.url);
      const created = await fhirFetch(token, `${server.url}/fhir/Patient`, { method: 'POST',
        json: { resourceType: 'Patient', identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9434765919' }], name: [{ family: 'Zebedee' }] } });
      expect(created.status).toBe(201);
      const found = await fhirFetch(token, `${server.url}/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919`);
      expect(((await found.json()) as { entry?: unknown[] }).entry).toHaveLength(1);
      expect((await fhirFetch('secret-token-value', `${server.url}/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919`)).status).toBe(401);
    } finally {
      await server.close();
    }
    const all = lines.join('');
    expect(all).toContain('"requestId"');
    expect(all).not.toContain('9434765919');
    expect(all).not.toContain('Zebedee');
    expect(all).not.toContain('secret-token-value');
    expect(token).not.toBe('');
    expect(all).not.toContain(token);
    expect(all).not.toContain(token.split('.')[2]);
  });

  it('when the database is gone, then readyz is 503 and a request gets a generic 500 whose request id is in the log', async () => {
    const { log, lines } = captureLogger();
    const s = await secure();
    const server = await startServer(loadConfig(s.env), { log });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const token = await s.token(server.url);
    await server.storage.close();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    const res = await fhirFetch(token, `${server.url}/fhir/Patient/abc`);
    expect(res.status).toBe(500);
    const text = await res.text();
    const requestId = res.headers.get('x-request-id')!;
    expect(text).toContain(requestId);
    expect(text).not.toMatch(/at \w+ \(|\.ts:\d+|database connection/);
    expect(lines.some((l) => l.includes(requestId) && l.includes('unexpected error'))).toBe(true);
    await server.close().catch(() => undefined);
  });

  it('when SIGTERM arrives during a request, then the request completes and the process exits 0', async () => {
    const s = await secure();
    const e = s.env;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, ...e, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const url = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d) => {
        buf += String(d);
        const m = /"url":"(http:\/\/[^"]+)"/.exec(buf);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`exited early ${code}`)));
    });
    const token = await s.token(url);
    const pending = fhirFetch(token, `${url}/fhir/Patient`, { method: 'POST', json: { resourceType: 'Patient', name: [{ family: 'Drain' }] } });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGTERM');
    const res = await pending;
    expect(res.status).toBe(201);
    expect(await exited).toBe(0);
  });
});
