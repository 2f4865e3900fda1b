/**
 * Parsers for the HL7 v2 configuration values (the config schema in src/config calls them), so
 * the formats are defined next to the code that uses them.
 */
import * as z from 'zod';
import type { V2Endpoint } from './case-event-sink.ts';

const Endpoint = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  tls: z.boolean().optional(),
  application: z.string().optional(),
  version: z.enum(['2.3', '2.3.1', '2.4', '2.5', '2.5.1']).optional(),
  messages: z.array(z.enum(['RRI^I12', 'ORU^R01'])).optional(),
}).strict();

/**
 * ESO_EPR_ENDPOINTS: where each requesting organisation's EPR listens for RRI^I12/ORU^R01.
 * Either JSON, `{"RA7": {"host": "epr.ra7.nhs.uk", "port": 2575, "tls": true, "application": "CERNER", "version": "2.4", "messages": ["RRI^I12"]}}`,
 * or the short form `RA7=epr.ra7.nhs.uk:2575,RGT=10.1.2.3:6661/tls`. Empty: no endpoints.
 * Throws with a readable message on a malformed value (fail fast at boot).
 */
export function parseEprEndpoints(value: string | undefined): Record<string, V2Endpoint> {
  const text = (value ?? '').trim();
  if (!text) return {};
  let raw: unknown;
  if (text.startsWith('{')) raw = JSON.parse(text);
  else {
    raw = Object.fromEntries(
      text.split(',').map((entry) => {
        const m = /^\s*([A-Za-z0-9]+)\s*=\s*([^:\s]+):(\d+)(\/tls)?\s*$/.exec(entry);
        if (!m) throw new Error(`ESO_EPR_ENDPOINTS: '${entry}' is not ODS=host:port[/tls]`);
        return [m[1], { host: m[2], port: Number(m[3]), ...(m[4] ? { tls: true } : {}) }];
      }),
    );
  }
  const parsed = z.record(z.string().regex(/^[A-Za-z0-9]{3,10}$/), Endpoint).safeParse(raw);
  if (!parsed.success) throw new Error(`ESO_EPR_ENDPOINTS is invalid: ${z.prettifyError(parsed.error)}`);
  return Object.fromEntries(Object.entries(parsed.data).map(([k, v]) => [k.toUpperCase(), v]));
}

/** MLLP_ALLOWED_SENDERS: comma-separated ODS codes; undefined (not set) means no narrowing. */
export function parseAllowedSenders(value: string | undefined): Set<string> | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  return new Set(value.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean));
}

/**
 * MLLP_ALLOWED_SENDERS as a rule. It only narrows: a sender must first be admitted by one of its
 * organisation's client entries (the connection check in the receiver); registration alone is not enough.
 */
export function senderAllowList(allowed: Set<string> | undefined): (ods: string) => boolean {
  return (ods) => !allowed || allowed.has(ods.toUpperCase());
}
