/**
 * How the command-line tools (cli, demo) find the server `npm start` runs with the same
 * environment, and the one line they print when nothing answers there.
 */

/** ESO_BASE_URL, else http://HOST:PORT (a wildcard HOST is reached on loopback). */
export function localServerUrl(env: Record<string, string | undefined> = process.env): string {
  if (env.ESO_BASE_URL) return env.ESO_BASE_URL.replace(/\/+$/, '');
  const host = !env.HOST || env.HOST === '0.0.0.0' || env.HOST === '::' ? '127.0.0.1' : env.HOST;
  return `http://${host.includes(':') ? `[${host}]` : host}:${env.PORT || '8080'}`;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);

/** True for fetch's "nothing listens there" failures (the cause's code), not for an HTTP answer. */
export function isUnreachable(e: unknown): boolean {
  const cause = (e as { cause?: { code?: string; errors?: { code?: string }[] } } | undefined)?.cause;
  if (!cause) return false;
  return UNREACHABLE.has(cause.code ?? '') || (cause.errors ?? []).some((x) => UNREACHABLE.has(x.code ?? ''));
}

export const unreachableMessage = (url: string): string => `cannot reach ${url}: is \`npm start\` running?`;
