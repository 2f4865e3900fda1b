/** Reads configuration from the environment; fails fast with every bad key named. */
import { configSchema, type Config } from './schema.ts';

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, key] of Object.entries(configSchema)) {
    const raw = env[key.env] === undefined || env[key.env] === '' ? key.default : env[key.env];
    const parsed = key.parse.safeParse(raw);
    if (parsed.success) out[name] = parsed.data;
    else problems.push(`${key.env}=${JSON.stringify(raw)}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  if (!problems.length) problems.push(...crossChecks(out as Config));
  if (problems.length) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  return out as Config;
}

/** Rules between keys. */
function crossChecks(c: Config): string[] {
  const out: string[] = [];
  if (c.outboxConnectTimeoutMs + c.outboxAnswerTimeoutMs >= c.outboxLeaseMs) {
    out.push('ESO_OUTBOX_LEASE_MS must exceed ESO_OUTBOX_CONNECT_TIMEOUT_MS + ESO_OUTBOX_ANSWER_TIMEOUT_MS (a send must end before another instance may claim it)');
  }
  return out;
}

/** The effective public base URL: ESO_BASE_URL, or http://HOST:PORT. */
export function baseUrlOf(config: Config, actualPort?: number): string {
  if (config.baseUrl) return config.baseUrl.replace(/\/+$/, '');
  return `http://${config.host}:${actualPort ?? config.port}`;
}

/** Text for --help and the README table. */
export function configHelp(): string {
  const rows = Object.values(configSchema).map((k) => `  ${k.env.padEnd(28)} ${k.doc}${k.default !== undefined ? ` (default: ${k.default || '""'})` : ''}`);
  return `eso-bridge configuration (environment variables):\n${rows.join('\n')}\n`;
}
