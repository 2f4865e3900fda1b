/** ESO_AUTH_DISABLED: development only, refused off loopback, loud, and a sent token is still checked. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackHost } from '../../../src/auth/dev-mode.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { startServer, type RunningServer } from '../../../src/server.ts';
import { createLogger } from '../../../src/shared/logger.ts';
import { fhirFetch, getToken, registerClient } from '../../helpers/auth.ts';

const base = (dir: string) => ({ PORT: '0', ESO_DATA_DIR: dir, MLLP_ENABLED: 'false', ESO_OUTBOX_ENABLED: 'false', LOG_LEVEL: 'silent', ESO_AUTH_DISABLED: 'true' });

describe('authentication disabled', () => {
  let dir: string;
  let server: RunningServer;
  const lines: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eso-dev-'));
    const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
    server = await startServer(loadConfig({ ...base(dir), HOST: '127.0.0.1' }), { log: createLogger('warn', sink) });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost'])('when HOST is %s, then it counts as loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each(['0.0.0.0', '::', '10.0.0.5', 'eso.example.nhs.uk', '128.0.0.1'])('when HOST is %s, then the server refuses to start', async (host) => {
    const other = mkdtempSync(join(tmpdir(), 'eso-dev-'));
    try {
      await expect(startServer(loadConfig({ ...base(other), HOST: host }))).rejects.toThrow(/ESO_AUTH_DISABLED=true is refused/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('when it starts on loopback, then it warns loudly', () => {
    expect(lines.join('')).toMatch(/ESO_AUTH_DISABLED=true.*Development only/);
  });

  it('when a request has no token, then it acts as the system', async () => {
    const res = await fhirFetch(undefined, `${server.url}/fhir/Patient`, { method: 'POST', json: { resourceType: 'Patient' } });
    expect(res.status).toBe(201);
  });

  it('when a request sends a token, then it is still checked and its organisation applies', async () => {
    expect((await fhirFetch('not.a.token', `${server.url}/fhir/Patient`)).status).toBe(401);
    const key = await registerClient(dir, { clientId: 'rq1-dev', organization: 'RQ1' });
    await new Promise((r) => setTimeout(r, 1100));
    const token = await getToken(server.url, 'rq1-dev', key);
    const systemPatient = (await (await fhirFetch(undefined, `${server.url}/fhir/Patient`, { method: 'POST', json: { resourceType: 'Patient' } })).json()) as { id: string };
    expect((await fhirFetch(token, `${server.url}/fhir/Patient/${systemPatient.id}`)).status).toBe(404);
  });
});
