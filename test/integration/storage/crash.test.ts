/**
 * Nothing acknowledged is lost: the service is killed with SIGKILL while concurrent creates are
 * in flight (SQLite group commit, PostgreSQL), restarted on the same data, and every create that
 * was answered 201 is there exactly once; the database passes its integrity check.
 * (A few kills here; the long randomised harness belongs to the reliability work.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from 'fhir/r4.js';
import type { JWK } from 'jose';
import { openStorage } from '../../../src/storage/open.ts';
import { getToken, registerClient } from '../../helpers/auth.ts';
import { backendEnv, backends, type BackendEnv } from '../../helpers/backends.ts';

/** The writing client, registered in the data dir (whose clients.json the service reads by default). */
const CLIENT = { clientId: 'crash-epr', organization: 'TST01' };

const KILLS = 3;

function start(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, ...env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', MLLP_ENABLED: 'false', ESO_OUTBOX_ENABLED: 'false', ESO_AUTH_DISABLED: 'false' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += String(d);
      const m = /"url":"(http:\/\/[^"]+)"/.exec(buf);
      if (m) resolve({ child, url: m[1] });
    });
    child.once('exit', (code) => reject(new Error(`server exited early (${code})`)));
  });
}

describe.each(backends())('a killed process on %s', (backend) => {
  let b: BackendEnv;
  let key: JWK;
  beforeAll(async () => {
    b = await backendEnv(backend);
    key = await registerClient(b.dataDir, CLIENT);
  });
  afterAll(async () => { await b.cleanup(); });

  it(`when it is killed ${KILLS} times mid-write, then every acknowledged create is stored exactly once`, async () => {
    const acknowledged: string[] = [];
    for (let round = 0; round < KILLS; round++) {
      const { child, url } = await start(b.env);
      const exited = new Promise((r) => child.once('exit', r));
      // Each start listens on a new port, so a new audience: a token per round.
      const authorization = `Bearer ${await getToken(url, CLIENT.clientId, key)}`;
      let stop = false;
      const writer = async (w: number) => {
        for (let i = 0; !stop; i++) {
          const tag = `r${round}-w${w}-${i}`;
          try {
            const res = await fetch(`${url}/fhir/Patient`, { method: 'POST', headers: { authorization, 'content-type': 'application/fhir+json' },
              body: JSON.stringify({ resourceType: 'Patient', identifier: [{ system: 'https://crash.test/tag', value: tag }], name: [{ family: 'Crash' }] }) });
            if (res.status === 201) acknowledged.push(tag);
            else await res.text();
          } catch {
            return; // the connection died with the process: unacknowledged
          }
        }
      };
      const writers = Array.from({ length: 8 }, (_, w) => writer(w));
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 700));
      child.kill('SIGKILL');
      await exited;
      stop = true;
      await Promise.all(writers);
    }
    expect(acknowledged.length).toBeGreaterThan(KILLS * 5);

    const { child, url } = await start(b.env); // restart: recovery on open
    try {
      const authorization = `Bearer ${await getToken(url, CLIENT.clientId, key)}`;
      const seen = new Map<string, number>();
      for (let next: string | undefined = `${url}/fhir/Patient?identifier=https://crash.test/tag|&_count=1000`; next;) {
        const page = (await (await fetch(next, { headers: { authorization } })).json()) as Bundle;
        for (const e of page.entry ?? []) {
          expect((e.resource as { managingOrganization?: unknown }).managingOrganization).toBeDefined();
          const tag = (e.resource as { identifier?: { value?: string }[] }).identifier?.[0]?.value ?? '';
          seen.set(tag, (seen.get(tag) ?? 0) + 1);
        }
        next = page.link?.find((l) => l.relation === 'next')?.url;
      }
      const missing = acknowledged.filter((t) => !seen.has(t));
      const duplicated = [...seen].filter(([, n]) => n > 1);
      expect({ missing, duplicated }).toEqual({ missing: [], duplicated: [] });
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    const storage = await openStorage({ databaseUrl: b.env.DATABASE_URL, dataDir: b.dataDir });
    try {
      expect(await storage.integrityCheck()).toBe('ok');
    } finally {
      await storage.close();
    }
  }, 120_000);
});
