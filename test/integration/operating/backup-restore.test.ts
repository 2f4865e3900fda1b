/**
 * Backup and restore as an operator runs them: `npm run cli -- backup <dir>` in its own process
 * while the service takes writes, then `restore <dir>` into a fresh data directory; the restored
 * service holds every write acknowledged before the backup began, passes its integrity check, and
 * accepts the restored clients. Refusals: a non-empty target, an existing database, a changed file.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.ts';
import { startServer, type RunningServer } from '../../../src/server.ts';
import { clientsFileIn, getToken, registerClient, tokenSource, type ClientPrivateKey } from '../../helpers/auth.ts';
import { runTool } from '../../helpers/run-tool.ts';
import { createTestDatabase, postgresAvailable } from '../../helpers/pg.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const pgUp = await postgresAvailable();

let work: string;
let server: TestServer;
let key: ClientPrivateKey;
let restored: RunningServer | undefined;
const freshEnv = () => {
  const fresh = join(work, 'fresh');
  return { ESO_DATA_DIR: fresh, ESO_CLIENTS_FILE: join(fresh, 'clients.json'), ESO_DIRECTORY_FILE: join(fresh, 'directory.json') };
};

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'eso-backup-'));
  const clientsDir = join(work, 'clients');
  key = await registerClient(clientsDir, { clientId: 'tst-epr', organization: 'TST01' });
  server = await startTestServer('sqlite', { ESO_CLIENTS_FILE: clientsFileIn(clientsDir), ESO_DIRECTORY_FILE: join(clientsDir, 'directory.json') });
  writeFileSync(join(clientsDir, 'directory.json'), JSON.stringify({ organizations: [] }));
});
afterAll(async () => {
  await restored?.close();
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('backup under write load, restore into a fresh data directory', () => {
  it('when the backup runs while writes continue, then the restored service has every write acknowledged before it began, and its integrity check is ok', async () => {
    const token = tokenSource(server.url, 'tst-epr', key);
    const acked: { id: string; at: number }[] = [];
    let writing = true;
    const writer = async (n: number) => {
      for (let i = 0; writing; i++) {
        const res = await fetch(`${server.fhir}/Patient`, {
          method: 'POST', headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/fhir+json' },
          body: JSON.stringify({ resourceType: 'Patient', name: [{ family: `Backup${n}`, given: [String(i)] }] }),
        });
        if (res.status === 201) acked.push({ id: ((await res.json()) as { id: string }).id, at: Date.now() });
      }
    };
    const writers = [1, 2, 3, 4].map(writer);
    while (acked.length < 50) await new Promise((r) => setTimeout(r, 20));

    const beforeBackup = acked.map((a) => a.id);
    const backupDir = join(work, 'backup');
    const b = await runTool('cli.ts', ['backup', backupDir], server.env);
    const duringBackup = acked.length - beforeBackup.length;
    writing = false;
    await Promise.all(writers);
    expect(b.stderr).toBe('');
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/^backed up the sqlite database and 3 file\(s\) \(signing-keys.json, clients.json, directory.json\)/);
    expect(duringBackup, 'writes kept landing while the backup ran').toBeGreaterThan(0);

    const r = await runTool('cli.ts', ['restore', backupDir], freshEnv());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);

    await server.close();
    restored = await startServer(loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', MLLP_ENABLED: 'false', ESO_OUTBOX_ENABLED: 'false', ...freshEnv() }));
    expect(await restored.storage.integrityCheck()).toBe('ok');
    // The restored clients file: the same client gets a token from the restored service and reads as before.
    const restoredToken = await getToken(restored.url, 'tst-epr', key);
    const missing: string[] = [];
    for (const id of beforeBackup) {
      const res = await fetch(`${restored.url}/fhir/Patient/${id}`, { headers: { authorization: `Bearer ${restoredToken}` } });
      if (res.status !== 200) missing.push(`${id}: ${res.status}`);
    }
    expect(missing).toEqual([]);
  });
});

describe('refusals', () => {
  it('when the backup directory is not empty, then it is refused with exit 2 and one line', async () => {
    const dir = mkdtempSync(join(work, 'full-'));
    writeFileSync(join(dir, 'something'), 'x');
    const r = await runTool('cli.ts', ['backup', dir], { ESO_DATA_DIR: join(work, 'any') });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`${dir} is not empty: back up into a new directory`);
  });

  it('when the target already has a database, then restore refuses without --force', async () => {
    const r = await runTool('cli.ts', ['restore', join(work, 'backup')], freshEnv());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/exists: stop the service and pass --force/);
  });

  it('when a file of the backup was changed, then nothing is restored', async () => {
    appendFileSync(join(work, 'backup', 'clients.json'), ' ');
    const target = join(work, 'other');
    const r = await runTool('cli.ts', ['restore', join(work, 'backup')], { ESO_DATA_DIR: target });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/clients\.json is missing or changed since the backup/);
    const again = await runTool('cli.ts', ['restore', join(work, 'nothing-here')], { ESO_DATA_DIR: target });
    expect(again.stderr).toMatch(/holds no backup\.json/);
  });
});

describe.runIf(pgUp)('backup and restore on PostgreSQL (pg_dump, pg_restore)', () => {
  it('when a PostgreSQL service is backed up and restored into an empty database, then its writes and clients come back and the integrity check is ok', async () => {
    const dir = mkdtempSync(join(work, 'pg-'));
    const clientsDir = join(dir, 'clients');
    const pgKey = await registerClient(clientsDir, { clientId: 'pg-epr', organization: 'TST01' });
    const source = await createTestDatabase();
    const target = await createTestDatabase();
    const env = { ESO_DATA_DIR: join(dir, 'data'), DATABASE_URL: source.url, ESO_CLIENTS_FILE: clientsFileIn(clientsDir), ESO_DIRECTORY_FILE: join(clientsDir, 'directory.json') };
    let pgServer: TestServer | undefined;
    let back: RunningServer | undefined;
    try {
      pgServer = await startTestServer('postgres', env);
      const token = await getToken(pgServer.url, 'pg-epr', pgKey);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${pgServer.fhir}/Patient`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Patient', name: [{ family: `Pg${i}` }] }) });
        expect(res.status).toBe(201);
        ids.push(((await res.json()) as { id: string }).id);
      }
      const b = await runTool('cli.ts', ['backup', join(dir, 'backup')], env);
      expect(b.stderr).toBe('');
      expect(b.stdout).toMatch(/^backed up the postgres database/);
      await pgServer.close();
      const restoredEnv = { ESO_DATA_DIR: join(dir, 'restored'), DATABASE_URL: target.url, ESO_CLIENTS_FILE: join(dir, 'restored', 'clients.json'), ESO_DIRECTORY_FILE: join(dir, 'restored', 'directory.json') };
      const r = await runTool('cli.ts', ['restore', join(dir, 'backup')], restoredEnv);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      back = await startServer(loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', MLLP_ENABLED: 'false', ESO_OUTBOX_ENABLED: 'false', ...restoredEnv }));
      expect(await back.storage.integrityCheck()).toBe('ok');
      const again = await getToken(back.url, 'pg-epr', pgKey);
      for (const id of ids) expect((await fetch(`${back.url}/fhir/Patient/${id}`, { headers: { authorization: `Bearer ${again}` } })).status).toBe(200);
    } finally {
      await back?.close();
      await pgServer?.stop();
      await source.drop();
      await target.drop();
    }
  });
});
