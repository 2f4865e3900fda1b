/**
 * `npm run cli -- backup <dir>` and `restore <dir>`: the database (SQLite's online copy, or
 * pg_dump for PostgreSQL) and the files that are as much the service's state: the server signing
 * keys, the clients file (with keys/ beside it, where `client add` writes private keys), the
 * directory file. A manifest lists each file with its SHA-256, checked before a restore.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Config } from './config/schema.ts';
import { securityFiles } from './security.ts';
import { sqliteFileIn } from './storage/open.ts';
import { copySqliteOnline, integrityOf } from './storage/sqlite/backup.ts';

export class BackupError extends Error {}

interface ManifestFile { role: string; name: string; sha256: string; bytes: number }
export interface Manifest { createdAt: string; database: 'sqlite' | 'postgres'; files: ManifestFile[] }

const MANIFEST = 'backup.json';
const SQLITE_COPY = 'eso-bridge.sqlite';
const PG_DUMP = 'eso-bridge.pgdump';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Where each backed-up file lives for this configuration (role → path). */
function stateFiles(config: Config): Record<string, string> {
  const f = securityFiles(config);
  return { 'signing-keys': f.signingKeyFile, clients: f.clientsFile, directory: f.directoryFile };
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? listFiles(join(dir, n), `${prefix}${n}/`) : [`${prefix}${n}`]));
}

/** Takes a consistent copy while the service runs. `dir` must be new or empty. */
export function backup(config: Config, dir: string): Manifest {
  if (existsSync(dir) && readdirSync(dir).length) throw new BackupError(`${dir} is not empty: back up into a new directory`);
  mkdirSync(dir, { recursive: true });
  const files: ManifestFile[] = [];
  const add = (role: string, name: string) => { const p = join(dir, name); files.push({ role, name, sha256: sha256(p), bytes: statSync(p).size }); };
  let database: Manifest['database'];
  // The database first: the files are re-read by a running server, so a later copy of them is never older than the data.
  if (config.databaseUrl) {
    database = 'postgres';
    const r = spawnSync('pg_dump', ['--format=custom', '--no-owner', `--file=${join(dir, PG_DUMP)}`, `--dbname=${config.databaseUrl}`], { encoding: 'utf8' });
    if (r.error) throw new BackupError(`pg_dump is not available (${(r.error as NodeJS.ErrnoException).code}): install the PostgreSQL client tools, or run pg_dump yourself (docs/DEPLOYMENT.md)`);
    if (r.status !== 0) throw new BackupError(`pg_dump failed: ${r.stderr.trim().split('\n')[0]}`);
    add('database', PG_DUMP);
  } else {
    database = 'sqlite';
    const source = sqliteFileIn(config.dataDir);
    if (!existsSync(source)) throw new BackupError(`no database at ${source}: is ESO_DATA_DIR the service's?`);
    const check = copySqliteOnline(source, join(dir, SQLITE_COPY));
    if (check !== 'ok') throw new BackupError(`the copy failed its integrity check: ${check}`);
    add('database', SQLITE_COPY);
  }
  for (const [role, path] of Object.entries(stateFiles(config))) {
    if (!existsSync(path)) continue;
    copyFileSync(path, join(dir, `${role}.json`));
    add(role, `${role}.json`);
  }
  const keys = join(dirname(stateFiles(config).clients), 'keys');
  if (existsSync(keys)) {
    cpSync(keys, join(dir, 'keys'), { recursive: true });
    for (const name of listFiles(join(dir, 'keys'))) add('client-key', `keys/${name}`);
  }
  const manifest: Manifest = { createdAt: new Date().toISOString(), database, files };
  writeFileSync(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  return manifest;
}

/** Puts a backup back into this configuration's places. Refuses to overwrite a database unless `force` (stop the service first). */
export function restore(config: Config, dir: string, opts: { force?: boolean } = {}): Manifest {
  const manifestFile = join(dir, MANIFEST);
  if (!existsSync(manifestFile)) throw new BackupError(`${dir} holds no ${MANIFEST}: not a backup made by \`npm run cli -- backup\``);
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
  for (const f of manifest.files) {
    const p = join(dir, f.name);
    if (!existsSync(p) || sha256(p) !== f.sha256) throw new BackupError(`${f.name} is missing or changed since the backup (SHA-256 differs): nothing restored`);
  }
  if (manifest.database === 'sqlite') {
    if (config.databaseUrl) throw new BackupError('this backup is of SQLite, and DATABASE_URL is set: unset it to restore into ESO_DATA_DIR');
    const target = sqliteFileIn(config.dataDir);
    if (existsSync(target) && !opts.force) throw new BackupError(`${target} exists: stop the service and pass --force to replace it, or restore into an empty ESO_DATA_DIR`);
    if (integrityOf(join(dir, SQLITE_COPY)) !== 'ok') throw new BackupError('the backup copy fails its integrity check: nothing restored');
    mkdirSync(config.dataDir, { recursive: true });
    for (const stale of ['-wal', '-shm']) rmSync(`${target}${stale}`, { force: true });
    copyFileSync(join(dir, SQLITE_COPY), target);
  } else {
    if (!config.databaseUrl) throw new BackupError('this backup is of PostgreSQL: set DATABASE_URL to the (empty) database to restore into');
    const r = spawnSync('pg_restore', ['--no-owner', ...(opts.force ? ['--clean', '--if-exists'] : []), `--dbname=${config.databaseUrl}`, join(dir, PG_DUMP)], { encoding: 'utf8' });
    if (r.error) throw new BackupError('pg_restore is not available: install the PostgreSQL client tools, or run pg_restore yourself (docs/DEPLOYMENT.md)');
    if (r.status !== 0) throw new BackupError(`pg_restore failed (an existing database needs --force, or restore into an empty one): ${r.stderr.trim().split('\n')[0]}`);
  }
  const places = stateFiles(config);
  for (const f of manifest.files.filter((x) => x.role in places)) {
    mkdirSync(dirname(places[f.role]), { recursive: true });
    copyFileSync(join(dir, f.name), places[f.role]);
  }
  const keys = manifest.files.filter((f) => f.role === 'client-key');
  if (keys.length) cpSync(join(dir, 'keys'), join(dirname(places.clients), 'keys'), { recursive: true });
  return manifest;
}

export const describeManifest = (m: Manifest, dir: string): string =>
  `${m.database} database and ${m.files.length - 1} file(s) (${m.files.filter((f) => f.role !== 'database').map((f) => basename(f.name)).join(', ') || 'none'}) in ${dir}`;
