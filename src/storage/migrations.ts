/**
 * Versioned migrations, run at start inside one transaction each. Never edit a released
 * migration: add the next one. `{{serial}}` is the only dialect difference.
 */
import type { Driver } from './dialect.ts';

const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'resources, history, search index, access, keys, outbox',
    sql: `
CREATE TABLE resources (
  res_type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
  last_updated TEXT NOT NULL, content TEXT NOT NULL,
  PRIMARY KEY (res_type, id));
CREATE INDEX resources_type_updated ON resources (res_type, last_updated);
CREATE TABLE resource_versions (
  res_type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
  last_updated TEXT NOT NULL, content TEXT NOT NULL,
  PRIMARY KEY (res_type, id, version));
CREATE TABLE search_index (
  res_type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
  sys TEXT, val TEXT, low TEXT, high TEXT, last_updated TEXT NOT NULL);
CREATE INDEX search_index_val ON search_index (res_type, param, val, last_updated);
CREATE INDEX search_index_res ON search_index (res_type, id, param);
CREATE INDEX search_index_date ON search_index (res_type, param, low);
CREATE TABLE resource_access (
  res_type TEXT NOT NULL, id TEXT NOT NULL, org TEXT NOT NULL,
  PRIMARY KEY (res_type, id, org));
CREATE INDEX resource_access_org ON resource_access (org, res_type);
CREATE TABLE keys (
  scope TEXT NOT NULL, k TEXT NOT NULL, value TEXT NOT NULL, expires_at TEXT,
  PRIMARY KEY (scope, k));
CREATE TABLE outbox (
  id {{serial}}, destination TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL,
  last_error TEXT, created_at TEXT NOT NULL, sent_at TEXT, lease_until TEXT);
CREATE INDEX outbox_pending ON outbox (status, destination, id);
`,
  },
  {
    version: 2,
    name: 'covering search indexes: the driving scan and the EXISTS probes never fetch a table row',
    sql: `
DROP INDEX IF EXISTS search_index_val;
CREATE INDEX IF NOT EXISTS search_index_val2 ON search_index (res_type, param, val, last_updated, id);
DROP INDEX IF EXISTS search_index_res;
CREATE INDEX IF NOT EXISTS search_index_res2 ON search_index (res_type, id, param, val, sys);
`,
  },
  {
    version: 3,
    name: 'named counters (subscription event numbers), advanced inside the writing transaction',
    sql: `
CREATE TABLE IF NOT EXISTS sequences (name TEXT NOT NULL PRIMARY KEY, value INTEGER NOT NULL);
`,
  },
  {
    version: 4,
    name: 'the audit journal: one append-only row per AuditEvent in the audited transaction, stored and indexed behind',
    sql: `
CREATE TABLE IF NOT EXISTS journal (seq {{serial}}, content TEXT NOT NULL, orgs TEXT NOT NULL);
`,
  },
  {
    version: 5,
    name: 'no index by (type, param, low): a date is never the driving criterion, and SQLite chose it for EXISTS probes, scanning every date row of the type per probe; every write paid for it',
    sql: `
DROP INDEX IF EXISTS search_index_date;
`,
  },
];

export async function migrate(driver: Driver): Promise<number[]> {
  const serial = driver.dialect === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : 'BIGSERIAL PRIMARY KEY';
  await driver.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    const done = await driver.transaction(async (conn, lock) => {
      await lock('schema-migrations'); // two instances starting together migrate once
      const rows = await conn.all('SELECT version FROM schema_migrations WHERE version = ?', [m.version]);
      if (rows.length) return false;
      for (const stmt of m.sql.replaceAll('{{serial}}', serial).split(';').map((s) => s.trim()).filter(Boolean)) {
        await conn.run(stmt);
      }
      await conn.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, new Date().toISOString()]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  return applied;
}
