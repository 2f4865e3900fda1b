/**
 * Structured JSON logs (pino). Logs carry ids, status and durations only: never bodies,
 * tokens, NHS numbers or clinical text. Redaction is a second line of defence.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'access_token', '*.access_token', 'client_assertion', '*.client_assertion', 'token', '*.token',
  'body', '*.body', 'payload', '*.payload', 'nhsNumber', '*.nhsNumber',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'eso-bridge' }, redact: { paths: REDACT, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
