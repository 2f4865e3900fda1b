/**
 * The one Storage implementation over a Driver (SQLite or PostgreSQL). A resource, its index
 * rows and its history row are written in the same transaction; nothing is visible before commit.
 */
import { newResourceId } from '../shared/resource-id.ts';
import type { Resource } from 'fhir/r4.js';
import { type Driver, limitSql, type SqlConn } from './dialect.ts';
import { buildSearch, capCountSql, driverCandidates, rangedCandidates } from './search-sql.ts';
import { type KeptRow, type KeptSearch, searchResultOf, storedOf, TxCache } from './tx-cache.ts';
import type { IndexRow, OutboxMessage, ResourceType, SearchQuery, Storage, StorageTx, StoredResource } from './types.ts';

interface Row { res_type: string; id: string; version: number | string; last_updated: string; content: string }

/** A row as the transaction cache keeps it (its text; the version a number on both backends). */
const keptOf = (row: Row): KeptRow => ({ version: Number(row.version), lastUpdated: row.last_updated, content: row.content });

const toStored = (row: Row): StoredResource => storedOf(keptOf(row));

/** A strictly increasing clock (one per storage), so versions it writes never share a lastUpdated. */
function monotonicClock(): () => string {
  let last = 0;
  return () => {
    const t = Math.max(Date.now(), last + 1);
    last = t;
    return new Date(t).toISOString();
  };
}

function withMeta(resource: Resource, id: string, version: number, at: string): Resource {
  return { ...resource, id, meta: { ...resource.meta, versionId: String(version), lastUpdated: at } };
}

const RESOURCE_COLUMNS = { columns: ['res_type', 'id', 'version', 'last_updated', 'content'], types: ['text', 'text', 'integer', 'text', 'text'] } as const;
const INDEX_COLUMNS = {
  columns: ['res_type', 'id', 'param', 'sys', 'val', 'low', 'high', 'last_updated'],
  types: ['text', 'text', 'text', 'text', 'text', 'text', 'text', 'text'],
} as const;
const ACCESS_COLUMNS = { columns: ['res_type', 'id', 'org'], types: ['text', 'text', 'text'], skipExisting: true } as const;

const indexRows = (type: string, id: string, at: string, index: IndexRow[]): unknown[][] =>
  index.map((row) => [type, id, row.param, row.system, row.value, row.low, row.high, at]);

/** Replaces a resource's index rows with those of its new version. */
async function replaceIndex(c: SqlConn, type: string, id: string, at: string, index: IndexRow[]): Promise<void> {
  await c.run('DELETE FROM search_index WHERE res_type = ? AND id = ?', [type, id]);
  await c.insert([{ table: 'search_index', ...INDEX_COLUMNS, rows: indexRows(type, id, at, index) }]);
}

/**
 * How far candidate drivers are counted. Below it the smaller candidate drives; past it the first
 * (a reference) does. Each count reads up to this many index entries on every search, so it stays small.
 */
const DRIVER_CAP = 500;

/** A search's plan depends on its values (how selective each criterion is), and an IN list's text on its length: planned on every call. */
const EACH_CALL = { planEachCall: true } as const;

/** What a partial write would leave behind: each query counts rows that break one invariant. */
const LOGICAL_CHECKS: [string, string][] = [
  ['resources without their current version', `SELECT count(*) AS n FROM resources r WHERE NOT EXISTS
     (SELECT 1 FROM resource_versions v WHERE v.res_type = r.res_type AND v.id = r.id AND v.version = r.version)`],
  ['versions newer than their resource', `SELECT count(*) AS n FROM resource_versions v JOIN resources r
     ON r.res_type = v.res_type AND r.id = v.id WHERE v.version > r.version`],
  ['search index rows without their resource', `SELECT count(*) AS n FROM search_index s WHERE NOT EXISTS
     (SELECT 1 FROM resources r WHERE r.res_type = s.res_type AND r.id = s.id)`],
  ['search index rows of an older version', `SELECT count(*) AS n FROM search_index s JOIN resources r
     ON r.res_type = s.res_type AND r.id = s.id WHERE s.last_updated <> r.last_updated`],
];

/** chooseDriver's answer when a criterion has no index row at all: nothing can match (criteria are ANDed). */
const MATCHES_NOTHING = Symbol('matches nothing');

/**
 * With several candidate drivers, drive from the one with the fewest index rows. Each is counted
 * only up to the best count so far (references first: they are usually the most selective), so
 * choosing costs about twice the smallest candidate's rows, never a scan of a large one. Counting
 * stops at a candidate with one row (none can do better but an empty one, which the search itself
 * then finds as cheaply), and a candidate with none answers the search: nothing matches.
 */
async function chooseDriver(c: SqlConn, q: SearchQuery): Promise<number | undefined | typeof MATCHES_NOTHING> {
  const candidates = driverCandidates(q).sort((a, b) => Number(q.criteria[b].kind === 'reference') - Number(q.criteria[a].kind === 'reference'));
  // A string prefix drives only when it counts under the cap (its matches are then sorted); with
  // none under it and no in-order candidate, the resources are scanned in order (-1).
  const ranged = rangedCandidates(q);
  if (candidates.length < 2 && !ranged.length) return undefined;
  let best = candidates.length ? candidates[0] : -1;
  let bestCount = DRIVER_CAP;
  for (const i of [...candidates, ...ranged]) {
    if (bestCount <= 1) break;
    const { sql, params } = capCountSql(q, i, bestCount);
    const n = Number((await c.all<{ n: number | string }>(sql, params, EACH_CALL))[0].n);
    if (n === 0) return MATCHES_NOTHING;
    if (n < bestCount) [best, bestCount] = [i, n];
  }
  return best;
}

/** A search's answer as the rows' text (kept so by a transaction's cache, tx-cache.ts). */
async function searchRows(c: SqlConn, q: SearchQuery): Promise<KeptSearch> {
  const driver = await chooseDriver(c, q);
  if (driver === MATCHES_NOTHING) return { rows: [], hasMore: false, ...(q.total === 'accurate' ? { total: 0 } : {}) };
  const built = buildSearch(q, driver);
  const rows = await c.all<Row>(built.sql, built.params, EACH_CALL);
  const kept: KeptSearch = {
    rows: rows.slice(0, q.count).map(keptOf),
    hasMore: rows.length > q.count,
  };
  if (q.total === 'accurate') {
    const [{ n }] = await c.all<{ n: number | string }>(built.countSql, built.countParams, EACH_CALL);
    kept.total = Number(n);
  }
  return kept;
}

/** A current row and the organisations granted it (space-separated, as the journal keeps them). */
const READ_WITH_ACCESS = `SELECT r.res_type, r.id, r.version, r.last_updated, r.content,
  (SELECT string_agg(a.org, ' ') FROM resource_access a WHERE a.res_type = r.res_type AND a.id = r.id) AS orgs
  FROM resources r WHERE r.res_type = ? AND r.id = ?`;

async function readCurrent(c: SqlConn, type: string, id: string): Promise<StoredResource | null> {
  const [row] = await c.all<Row>('SELECT res_type, id, version, last_updated, content FROM resources WHERE res_type = ? AND id = ?', [type, id]);
  return row ? toStored(row) : null;
}

async function getKey(c: SqlConn, scope: string, key: string): Promise<string | null> {
  const rows = await c.all<{ value: string; expires_at: string | null }>('SELECT value, expires_at FROM keys WHERE scope = ? AND k = ?', [scope, key]);
  if (!rows.length) return null;
  if (rows[0].expires_at && rows[0].expires_at < new Date().toISOString()) return null;
  return rows[0].value;
}

async function accessOf(c: SqlConn, type: string, id: string): Promise<string[]> {
  const rows = await c.all<{ org: string }>('SELECT org FROM resource_access WHERE res_type = ? AND id = ?', [type, id]);
  return rows.map((x) => x.org);
}

/**
 * A transaction's operations, and `finish`, run after the caller's work and before COMMIT: the
 * journal rows appended meanwhile go in one write (a group of audited reads: one statement, not one each).
 */
function makeTx(c: SqlConn, takeLock: (key: string) => Promise<void>, queued: () => void, now: () => string): { tx: StorageTx; finish: () => Promise<void> } {
  const cache = new TxCache();
  const journal: unknown[][] = [];
  const finish = async () => {
    if (journal.length) await c.insert([{ table: 'journal', columns: ['content', 'orgs'], types: ['text', 'text'], rows: journal.splice(0) }]);
  };
  const lock = async (key: string) => {
    await takeLock(key);
    cache.forgetReads();
  };
  /** Inserts new resources with their index rows and grants in multi-row statements (resources, history, index, access). */
  const insertBatch: StorageTx['insertBatch'] = async (items) => {
    const stored = items.map(({ resource }) => {
      const id = resource.id ?? newResourceId();
      const at = now();
      const r = withMeta(resource, id, 1, at);
      return { resource: r, versionId: 1, lastUpdated: at, content: JSON.stringify(r) };
    });
    const rows = stored.map((x) => [x.resource.resourceType, x.resource.id, 1, x.lastUpdated, x.content]);
    const grants = stored.flatMap((x, i) => cache.newGrants(x.resource.resourceType, x.resource.id as string, items[i].orgs).map((org) => [x.resource.resourceType, x.resource.id, org]));
    // One write (one statement on PostgreSQL): the rows, their first history rows, index rows and grants.
    await c.insert([
      { table: 'resources', ...RESOURCE_COLUMNS, rows },
      { table: 'resource_versions', ...RESOURCE_COLUMNS, rows },
      { table: 'search_index', ...INDEX_COLUMNS, rows: stored.flatMap((x, i) => indexRows(x.resource.resourceType, x.resource.id as string, x.lastUpdated, items[i].index)) },
      { table: 'resource_access', ...ACCESS_COLUMNS, rows: grants },
    ]);
    stored.forEach((x, i) => {
      cache.changed(x.resource.resourceType);
      cache.keep(x.resource.resourceType, x.resource.id as string, { version: 1, lastUpdated: x.lastUpdated, content: x.content });
      // A new resource is granted to exactly these organisations (a second insert of its id fails the transaction).
      cache.keepAccess(x.resource.resourceType, x.resource.id as string, items[i].orgs);
    });
    return stored.map(({ resource, versionId, lastUpdated }) => ({ resource, versionId, lastUpdated }));
  };
  const tx: StorageTx = {
    lock,
    async insertResource(resource, index) {
      // One insert path: a resource alone is a batch of one (the same write).
      return (await insertBatch([{ resource, index, orgs: [] }]))[0];
    },
    insertBatch,
    async updateResource(resource, expectedVersion, index) {
      const id = resource.id as string;
      const version = expectedVersion + 1;
      const at = now();
      const stored = withMeta(resource, id, version, at);
      const content = JSON.stringify(stored);
      const { changes } = await c.run('UPDATE resources SET version = ?, last_updated = ?, content = ? WHERE res_type = ? AND id = ? AND version = ?',
        [version, at, content, resource.resourceType, id, expectedVersion]);
      if (changes !== 1) return null;
      await c.run('INSERT INTO resource_versions (res_type, id, version, last_updated, content) VALUES (?, ?, ?, ?, ?)', [resource.resourceType, id, version, at, content]);
      await replaceIndex(c, resource.resourceType, id, at, index);
      cache.changed(resource.resourceType);
      cache.keep(resource.resourceType, id, { version, lastUpdated: at, content });
      return { resource: stored, versionId: version, lastUpdated: at };
    },
    async readResource(type, id) {
      const kept = cache.read(type, id);
      if (kept !== undefined) return kept;
      // The rules that read a resource mostly ask who may see it next: its grants come in the same statement.
      const [row] = await c.all<Row & { orgs: string | null }>(READ_WITH_ACCESS, [type, id]);
      cache.keep(type, id, row ? keptOf(row) : null);
      if (row && !cache.accessOf(type, id)) cache.keepAccess(type, id, row.orgs ? row.orgs.split(' ') : []);
      return row ? toStored(row) : null;
    },
    async search(q) {
      const kept = cache.searched(q);
      if (kept) return kept;
      const found = await searchRows(c, q);
      cache.keepSearch(q, found);
      return searchResultOf(found);
    },
    async accessOf(type, id) {
      const kept = cache.accessOf(type, id);
      if (kept) return kept;
      const orgs = await accessOf(c, type, id);
      cache.keepAccess(type, id, orgs);
      return orgs;
    },
    async grantAccess(type, id, orgs) {
      // One statement for all of them: on PostgreSQL each statement is a round trip.
      await c.insert([{ table: 'resource_access', ...ACCESS_COLUMNS, rows: cache.newGrants(type, id, orgs).map((org) => [type, id, org]) }]);
    },
    async putKey(scope, key, value, expiresAt) {
      const { changes } = await c.run(
        `INSERT INTO keys (scope, k, value, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (scope, k) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
         WHERE keys.expires_at IS NOT NULL AND keys.expires_at < ?`,
        [scope, key, value, expiresAt ?? null, new Date().toISOString()]);
      return changes === 1;
    },
    getKey: (scope, key) => getKey(c, scope, key),
    async setKey(scope, key, value) {
      await c.run('INSERT INTO keys (scope, k, value, expires_at) VALUES (?, ?, ?, NULL) ON CONFLICT (scope, k) DO UPDATE SET value = excluded.value, expires_at = NULL', [scope, key, value]);
    },
    async enqueueOutbound(destination, kind, payload) {
      // Transactions that queue for one destination commit in the order of their ids (held to
      // commit on PostgreSQL; SQLite writes are serial anyway), so a message never becomes
      // visible after a later one to the same EPR was sent: order per destination, across cases.
      await lock(`outbox:${destination}`);
      const at = now();
      const rows = await c.all<{ id: number | string }>(
        `INSERT INTO outbox (destination, kind, payload, status, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, 'pending', 0, ?, ?) RETURNING id`,
        [destination, kind, payload, at, at]);
      queued();
      return Number(rows[0].id);
    },
    async appendJournal(resource, orgs) {
      // Written by finish(), in this transaction, in the order appended.
      journal.push([JSON.stringify(resource), orgs.join(' ')]);
    },
    async takeJournal(limit) {
      await finish(); // this transaction's own entries are in the journal before it takes from it
      const rows = await c.all<{ seq: number | string; content: string; orgs: string }>(`SELECT seq, content, orgs FROM journal ORDER BY seq${limitSql(limit)}`);
      // Exactly the rows read, never "up to the last seq": on PostgreSQL a transaction that drew a lower
      // seq may commit between this SELECT and the DELETE, and its row would go unstored (found by test:crash).
      for (let i = 0; i < rows.length; i += 500) {
        const chunk = rows.slice(i, i + 500);
        await c.run(`DELETE FROM journal WHERE seq IN (${chunk.map(() => '?').join(', ')})`, chunk.map((r) => r.seq), EACH_CALL);
      }
      return rows.map((row) => ({ resource: JSON.parse(row.content) as Resource, orgs: row.orgs ? row.orgs.split(' ') : [] }));
    },
    async nextSequence(name) {
      // One row per counter: the UPDATE holds its row lock to commit, so concurrent writers number in turn.
      const rows = await c.all<{ value: number | string }>(
        'INSERT INTO sequences (name, value) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = sequences.value + 1 RETURNING value', [name]);
      return Number(rows[0].value);
    },
  };
  return { tx, finish };
}

interface OutboxRow {
  id: number | string; destination: string; kind: string; payload: string; status: OutboxMessage['status'];
  attempts: number | string; next_attempt_at: string; last_error: string | null; created_at: string; sent_at: string | null;
}

function toOutbox(r: OutboxRow): OutboxMessage {
  return { id: Number(r.id), destination: r.destination, kind: r.kind, payload: r.payload, status: r.status, attempts: Number(r.attempts),
    nextAttemptAt: r.next_attempt_at, lastError: r.last_error, createdAt: r.created_at, sentAt: r.sent_at };
}

export function createSqlStorage(driver: Driver): Storage {
  const r = driver.read;
  const outboundListeners = new Set<() => void>();
  const now = monotonicClock();
  const catchUps = new Map<string, () => Promise<void>>();
  /** Brings journalled resources of `type` in before a read of it (none registered: nothing to wait for). */
  const caughtUp = async (type: string) => { await catchUps.get(type)?.(); };
  return {
    dialect: driver.dialect,
    beforeRead(type, catchUp) {
      catchUps.set(type, catchUp);
    },
    async journalLength() {
      const [row] = await r.all<{ n: number | string }>('SELECT count(*) AS n FROM journal');
      return Number(row.n);
    },
    async transaction(fn) {
      let queued = false;
      const result = await driver.transaction(async (c, lock) => {
        const { tx, finish } = makeTx(c, lock, () => { queued = true; }, now);
        const value = await fn(tx);
        await finish();
        return value;
      });
      // Committed: whoever sends the outbox may start now rather than at its next poll.
      if (queued) for (const listener of outboundListeners) listener();
      return result;
    },
    onOutboundCommitted(listener) {
      outboundListeners.add(listener);
      return () => outboundListeners.delete(listener);
    },
    async readResource(type: ResourceType, id: string) {
      await caughtUp(type);
      return readCurrent(r, type, id);
    },
    async readVersion(type, id, versionId) {
      await caughtUp(type);
      const rows = await r.all<Row>('SELECT res_type, id, version, last_updated, content FROM resource_versions WHERE res_type = ? AND id = ? AND version = ?', [type, id, versionId]);
      return rows.length ? toStored(rows[0]) : null;
    },
    async history(type, id) {
      await caughtUp(type);
      const rows = await r.all<Row>('SELECT res_type, id, version, last_updated, content FROM resource_versions WHERE res_type = ? AND id = ? ORDER BY version DESC', [type, id]);
      return rows.map(toStored);
    },
    async search(q) {
      await caughtUp(q.type);
      return searchResultOf(await searchRows(r, q));
    },
    getKey: (scope, key) => getKey(r, scope, key),
    accessOf: (type, id) => accessOf(r, type, id),
    async currentSequence(name) {
      const rows = await r.all<{ value: number | string }>('SELECT value FROM sequences WHERE name = ?', [name]);
      return rows.length ? Number(rows[0].value) : 0;
    },
    async claimOutbound(at, leaseMs) {
      // Oldest pending message per destination only, so a destination's messages go in order.
      const candidates = await r.all<OutboxRow>(
        `SELECT o.* FROM outbox o WHERE o.status = 'pending' AND o.next_attempt_at <= ? AND (o.lease_until IS NULL OR o.lease_until < ?)
           AND o.id = (SELECT MIN(o2.id) FROM outbox o2 WHERE o2.destination = o.destination AND o2.status = 'pending')
         ORDER BY o.id LIMIT 5`, [at, at]);
      const leaseUntil = new Date(Date.parse(at) + leaseMs).toISOString();
      for (const cand of candidates) {
        const claimed = await driver.transaction(async (c) => {
          const { changes } = await c.run(`UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE id = ? AND status = 'pending' AND (lease_until IS NULL OR lease_until < ?)`,
            [leaseUntil, cand.id, at]);
          return changes === 1;
        });
        if (claimed) return { ...toOutbox({ ...cand, attempts: Number(cand.attempts) + 1 }), leaseUntil };
      }
      return null;
    },
    async markOutbound(id, result, lease) {
      // With the claim's lease: a sender whose lease ran out (another instance has the message now,
      // and may have sent it) must not overwrite what that instance records.
      return driver.transaction(async (c) => {
        const { changes } = await c.run(
          `UPDATE outbox SET status = ?, last_error = ?, next_attempt_at = COALESCE(?, next_attempt_at), lease_until = NULL, sent_at = ? WHERE id = ?${lease === undefined ? '' : ' AND lease_until = ?'}`,
          [result.status, result.error ?? null, result.nextAttemptAt ?? null, result.status === 'sent' ? new Date().toISOString() : null, id, ...(lease === undefined ? [] : [lease])]);
        return changes === 1;
      });
    },
    async listOutbound(filter) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (filter.status) { where.push('status = ?'); params.push(filter.status); }
      if (filter.destination) { where.push('destination = ?'); params.push(filter.destination); }
      const rows = await r.all<OutboxRow>(`SELECT * FROM outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id${limitSql(filter.limit ?? 100)}`, params, EACH_CALL);
      return rows.map(toOutbox);
    },
    purgeExpiredKeys: (at) => driver.transaction(async (c) => (await c.run('DELETE FROM keys WHERE expires_at IS NOT NULL AND expires_at < ?', [at])).changes),
    async ping() {
      await r.all('SELECT 1 AS one');
    },
    async integrityCheck() {
      const physical = await driver.integrityCheck();
      if (physical !== 'ok') return physical;
      const problems: string[] = [];
      for (const [what, sql] of LOGICAL_CHECKS) {
        const [row] = await r.all<{ n: number | string }>(sql);
        if (Number(row.n) > 0) problems.push(`${row.n} ${what}`);
      }
      return problems.length ? problems.join('; ') : 'ok';
    },
    close: () => driver.close(),
  };
}
