/**
 * A fresh PostgreSQL database per test file on the machine's server (127.0.0.1:5432, trust auth).
 * Unreachable PostgreSQL skips the PostgreSQL half of a suite, unless ESO_REQUIRE_POSTGRES=1 (CI).
 */
import pg from 'pg';

const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Where the suites look for PostgreSQL (TEST_POSTGRES_URL), without a password, for messages. */
export function postgresAdminUrl(): string {
  const u = new URL(ADMIN_URL);
  u.password = '';
  return u.toString();
}

export async function postgresAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (e) {
    if (process.env.ESO_REQUIRE_POSTGRES === '1') throw new Error(`PostgreSQL is required (ESO_REQUIRE_POSTGRES=1) but unreachable at ${ADMIN_URL}`, { cause: e });
    return false;
  }
}

/** Creates an empty database and returns its URL and a drop function. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `eso_test_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
