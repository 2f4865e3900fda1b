/**
 * The driver as storage sees it after open: database errors translated (db-errors.ts) whichever
 * backend raised them, and each commit observed for metrics, without touching either driver.
 */
import type { Driver, SqlConn, StatementOptions } from './dialect.ts';
import { translateDbError } from './db-errors.ts';

/** Told of each acknowledged commit: seconds from the transaction's start, and how many transactions were acknowledged with it. */
export type CommitObserver = (seconds: number, groupSize: number) => void;

const rethrow = (e: unknown): never => { throw translateDbError(e); };

function guardedConn(c: SqlConn): SqlConn {
  return {
    all: <T>(sql: string, params?: unknown[], options?: StatementOptions) => c.all<T>(sql, params, options).catch(rethrow),
    run: (sql, params, options) => c.run(sql, params, options).catch(rethrow),
    insert: (writes) => c.insert(writes).catch(rethrow),
  };
}

export function guardedDriver(driver: Driver, observe?: CommitObserver): Driver {
  // SQLite answers a whole group commit in one turn of the event loop: commits acknowledged in the
  // same turn are counted as one group (on PostgreSQL each commit is its own, but two may land together).
  let turn: { seconds: number[] } | undefined;
  const acknowledged = (seconds: number) => {
    if (!observe) return;
    if (!turn) {
      const group = { seconds: [] as number[] };
      turn = group;
      setImmediate(() => {
        turn = undefined;
        for (const s of group.seconds) observe(s, group.seconds.length);
      });
    }
    turn.seconds.push(seconds);
  };
  return {
    dialect: driver.dialect,
    read: guardedConn(driver.read),
    async transaction(fn) {
      const start = process.hrtime.bigint();
      const result = await driver.transaction((c, lock) => fn(guardedConn(c), lock)).catch(rethrow);
      acknowledged(Number(process.hrtime.bigint() - start) / 1e9);
      return result;
    },
    exec: (sql) => driver.exec(sql).catch(rethrow),
    integrityCheck: () => driver.integrityCheck(),
    close: () => driver.close(),
  };
}
