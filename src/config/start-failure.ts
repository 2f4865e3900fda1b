/**
 * What a refused start says: one line naming the setting to change, never a stack trace, and an
 * exit code that tells a supervisor (systemd, a container runtime) what kind of failure it was.
 */
import type { Config } from './schema.ts';
import { configSchema } from './schema.ts';

/** Exit codes of `npm start` (documented in README and docs/DEPLOYMENT.md). */
export const EXIT = {
  /** Unexpected failure: a bug or a fault while running; the log has the request id or the error. */
  runtime: 1,
  /** A setting must change before a restart can help (bad value, port in use, database missing). */
  config: 2,
  /** Something it depends on is not there yet (PostgreSQL not answering): a later restart may work. */
  unavailable: 3,
} as const;

export interface StartFailure {
  message: string;
  exitCode: number;
}

interface SysError { code?: string; port?: number; address?: string; message?: string; syscall?: string; path?: string }

/** The database named in a PostgreSQL URL, and where it is, without the password. */
function describeDatabaseUrl(url: string): { name: string; where: string; user: string } {
  try {
    const u = new URL(url);
    return { name: decodeURIComponent(u.pathname.slice(1)) || '(default)', where: `${u.hostname}:${u.port || '5432'}`, user: decodeURIComponent(u.username) || '(default)' };
  } catch {
    return { name: '?', where: '?', user: '?' };
  }
}

function portInUse(e: SysError, config: Config): StartFailure {
  if (e.port !== undefined && e.port === config.metricsPort && e.port !== config.port && e.port !== config.mllpPort) {
    return { message: `ESO_METRICS_PORT: ${config.metricsHost}:${e.port} is already in use: stop what holds it, or set ESO_METRICS_PORT to a free port`, exitCode: EXIT.config };
  }
  const both = config.port === config.mllpPort && config.port !== 0;
  const mllp = e.port !== undefined && e.port === config.mllpPort && (e.port !== config.port || both);
  const name = mllp ? 'MLLP_PORT' : 'PORT';
  const address = `${mllp ? config.mllpHost : config.host}:${e.port ?? (mllp ? config.mllpPort : config.port)}`;
  const hint = both ? ' (PORT and MLLP_PORT are the same: give them different ports)' : `: stop what holds it, or set ${name} to a free port`;
  return { message: `${name}: ${address} is already in use${hint}`, exitCode: EXIT.config };
}

/** Turns an error thrown while starting into one line for the operator and an exit code. */
export function explainStartFailure(err: unknown, config: Config): StartFailure {
  const e = (err ?? {}) as SysError;
  const message = err instanceof Error ? err.message : String(err);
  if (e.code === 'EADDRINUSE') return portInUse(e, config);
  if (e.code === 'EACCES' && e.syscall === 'listen') {
    return { message: `PORT/MLLP_PORT: not allowed to listen on port ${e.port ?? '?'} (ports below 1024 need privileges): choose a port above 1024`, exitCode: EXIT.config };
  }
  if (e.code === 'EADDRNOTAVAIL' && e.syscall === 'listen') {
    return { message: `HOST/MLLP_HOST: ${e.address ?? '?'} is not an address of this machine`, exitCode: EXIT.config };
  }
  if (config.databaseUrl) {
    const db = describeDatabaseUrl(config.databaseUrl);
    if (e.code === '3D000') {
      return { message: `DATABASE_URL: PostgreSQL at ${db.where} has no database "${db.name}": create it with  createdb -h ${db.where.split(':')[0]} ${db.name}  (or psql -c 'CREATE DATABASE ${db.name}')`, exitCode: EXIT.config };
    }
    if (e.code === '28P01' || e.code === '28000') {
      return { message: `DATABASE_URL: PostgreSQL at ${db.where} refused user "${db.user}" (${message})`, exitCode: EXIT.config };
    }
    if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') {
      return { message: `DATABASE_URL: no such host for PostgreSQL (${db.where})`, exitCode: EXIT.config };
    }
    if (e.code === 'ECONNREFUSED' || e.code === 'ETIMEDOUT' || e.code === 'EHOSTUNREACH' || /timeout expired|Connection terminated/i.test(message)) {
      return { message: `DATABASE_URL: PostgreSQL at ${db.where} is not answering: is it running, and does it accept TCP connections there?`, exitCode: EXIT.unavailable };
    }
  }
  if (!config.databaseUrl && (e.code === 'SQLITE_CANTOPEN' || e.code === 'EACCES' || e.code === 'EROFS' || e.code === 'ENOTDIR')) {
    return { message: `ESO_DATA_DIR: cannot create or open the database in ${config.dataDir} (${e.code}): check that the directory exists and is writable`, exitCode: EXIT.config };
  }
  // A setting's own check (an HL7 endpoint list, a TLS file) names its variable first.
  const named = Object.values(configSchema).find((k) => message.startsWith(k.env));
  if (named) return { message: firstLine(message), exitCode: EXIT.config };
  if (e.code === 'ENOENT' && e.path) return { message: `a file named in the configuration does not exist: ${e.path}`, exitCode: EXIT.config };
  return { message: firstLine(message), exitCode: EXIT.runtime };
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}
