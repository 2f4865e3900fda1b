/**
 * The first hour: the mistakes people make get one clear line (never a stack trace) and an exit
 * code that says whether to fix a setting (2) or wait for something (3); `npm run demo` works right
 * after `npm start` with nothing else. Real processes, as an operator runs them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listClients } from '../../../src/auth/client-admin.ts';
import { postgresAvailable } from '../../helpers/pg.ts';
import { runTool } from '../../helpers/run-tool.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const pgUp = await postgresAvailable();
const STACK = /\n\s+at /;

let dir: string;
let held: Server;
let heldPort: number;
/** A port nothing listens on (bound, then freed): connections to it are refused at once. */
let closedPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eso-first-hour-'));
  held = createServer();
  await new Promise<void>((r) => held.listen(0, '127.0.0.1', () => r()));
  heldPort = (held.address() as { port: number }).port;
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
});

afterAll(async () => {
  await new Promise<void>((r) => held.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

const start = (env: Record<string, string>) => runTool('main.ts', [], { LOG_LEVEL: 'silent', ESO_DATA_DIR: join(dir, 'data'), PORT: '0', MLLP_PORT: '0', ...env });

/** The one line on stderr, checked to be one line without a stack trace. */
function oneLine(stderr: string): string {
  expect(stderr).not.toMatch(STACK);
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  return lines[0];
}

describe('npm start refuses a bad start in one line', () => {
  it('when PORT is taken, then it names PORT and exits 2', async () => {
    const r = await start({ PORT: String(heldPort) });
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(new RegExp(`^eso-bridge did not start: PORT: 127.0.0.1:${heldPort} is already in use`));
  });

  it('when MLLP_PORT is taken, then it names MLLP_PORT and exits 2', async () => {
    const r = await start({ MLLP_PORT: String(heldPort) });
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toContain(`MLLP_PORT: 127.0.0.1:${heldPort} is already in use`);
  });

  it('when a setting is invalid, then it names the variable and exits 2', async () => {
    const r = await start({ PORT: 'eighty' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('PORT="eighty"');
    expect(r.stderr).not.toMatch(STACK);
  });

  it('when nothing answers at DATABASE_URL, then it says PostgreSQL is not answering and exits 3', async () => {
    const r = await start({ DATABASE_URL: `postgres://postgres@127.0.0.1:${closedPort}/eso` });
    expect(r.code).toBe(3);
    expect(oneLine(r.stderr)).toContain(`DATABASE_URL: PostgreSQL at 127.0.0.1:${closedPort} is not answering`);
  });

  it.skipIf(!pgUp)('when the database is missing, then it names it, says how to create it, and exits 2', async () => {
    const r = await start({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/eso_no_such_db' });
    expect(r.code).toBe(2);
    const line = oneLine(r.stderr);
    expect(line).toContain('has no database "eso_no_such_db"');
    expect(line).toContain('createdb');
  });
});

describe('npm run cli -- token', () => {
  it('when the client id is a typo, then it says there is no such client and how to list them, and exits 2', async () => {
    const r = await runTool('cli.ts', ['token', '--id', 'typo'], { ESO_DATA_DIR: join(dir, 'cli') });
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/^no client 'typo' in .*; `npm run cli -- client list`$/);
  });

  it('when the server is not up, then it says it cannot reach it and asks whether npm start runs, and exits 3', async () => {
    const data = join(dir, 'cli');
    expect((await runTool('cli.ts', ['client', 'add', '--id', 'rz1-epr', '--org', 'RZ1'], { ESO_DATA_DIR: data })).code).toBe(0);
    const r = await runTool('cli.ts', ['token', '--id', 'rz1-epr'], { ESO_DATA_DIR: data, PORT: String(closedPort) });
    expect(r.code).toBe(3);
    expect(oneLine(r.stderr)).toBe(`cannot reach http://127.0.0.1:${closedPort}: is \`npm start\` running?`);
  });
});

describe('npm run demo', () => {
  let server: TestServer;
  beforeAll(async () => { server = await startTestServer('sqlite'); });
  afterAll(async () => { await server?.stop(); });

  it('when the server is not up, then it says it cannot reach it (following PORT) and exits 3', async () => {
    const r = await runTool('demo.ts', [], { PORT: String(closedPort), ESO_DATA_DIR: join(dir, 'demo') });
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toBe(`demo stopped: cannot reach http://127.0.0.1:${closedPort}: is \`npm start\` running?`);
  });

  it('when it runs right after start with no client registered, then it registers rz1-epr and rz2np-epr, says so, and walks the case to the timeline', async () => {
    const env = { ESO_BASE_URL: server.url, ESO_DATA_DIR: server.dataDir, ESO_CLIENTS_FILE: server.env.ESO_CLIENTS_FILE, ESO_DIRECTORY_FILE: server.env.ESO_DIRECTORY_FILE };
    const first = await runTool('demo.ts', [], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('registered client rz1-epr for RZ1');
    expect(first.stdout).toContain('registered client rz2np-epr for RZ2NP');
    expect(first.stdout).toContain("5. The family's timeline");
    expect((await listClients(server.env.ESO_CLIENTS_FILE)).map((c) => c.clientId).sort()).toEqual(['rz1-epr', 'rz2np-epr', 'test-epr']);

    const again = await runTool('demo.ts', [], env);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toContain('registered client');
  });
});
