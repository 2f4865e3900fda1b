/**
 * What an R4 Subscription (backport profile) asks for, read and checked: the topic in `criteria`,
 * filters in backport-filter-criteria, a rest-hook channel to an allowed endpoint, the payload
 * content, heartbeat period, timeout and max count. Anything unknown is refused, naming where.
 * https://hl7.org/fhir/uv/subscriptions-backport/STU1.1/StructureDefinition-backport-subscription.html
 */
import type { Subscription } from 'fhir/r4.js';
import { badRequest, unprocessable } from '../shared/outcomes.ts';
import { BACKPORT, topicByUrl, type Topic } from './topics.ts';

export const EXT = {
  content: `${BACKPORT}/StructureDefinition/backport-payload-content`,
  heartbeat: `${BACKPORT}/StructureDefinition/backport-heartbeat-period`,
  timeout: `${BACKPORT}/StructureDefinition/backport-timeout`,
  maxCount: `${BACKPORT}/StructureDefinition/backport-max-count`,
  filter: `${BACKPORT}/StructureDefinition/backport-filter-criteria`,
  /** Ours: consecutive failed deliveries, written by the server (visible in $status). */
  failures: 'https://fhir.eso-bridge.nhs.uk/StructureDefinition/subscription-delivery-failures',
} as const;

export type PayloadContent = 'empty' | 'id-only' | 'full-resource';
const CONTENTS: readonly PayloadContent[] = ['empty', 'id-only', 'full-resource'];

export interface Filter { param: string; value: string }

export interface SubscriptionSettings {
  id: string;
  status: Subscription['status'];
  topic: Topic;
  filters: Filter[];
  endpoint: string;
  /** `channel.header` as given ("Name: value"). */
  headers: [string, string][];
  content: PayloadContent;
  heartbeatSeconds?: number;
  timeoutSeconds: number;
  maxCount: number;
  failures: number;
}

/** Longest a subscriber may ask us to wait for its answer (below the outbox lease). */
export const MAX_TIMEOUT_SECONDS = 50;
export const DEFAULT_TIMEOUT_SECONDS = 10;
/** Events per notification: one, so each is delivered (and retried) in its own place in the order. */
export const MAX_COUNT = 1;

const extOf = (exts: { url: string }[] | undefined, url: string) => exts?.find((e) => e.url === url) as Record<string, unknown> | undefined;

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** Per-organisation allow-lists of endpoint origins: "ODS=origin|origin,ODS2=origin" (a port of `*` allows any port). */
export function parseAllowedOrigins(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 1) throw new Error(`ESO_SUBSCRIPTION_ORIGINS: '${part}' is not ODS=origin|origin`);
    out.set(part.slice(0, eq).trim().toUpperCase(), part.slice(eq + 1).split('|').map((o) => o.trim().replace(/\/$/, '')).filter(Boolean));
  }
  return out;
}

function originAllowed(url: URL, allowed: string[]): boolean {
  return allowed.some((a) => a === url.origin || (a.endsWith(':*') && a.slice(0, -2) === `${url.protocol}//${url.hostname}`));
}

/**
 * The one rule, asked when a Subscription is written and again before every send: may the organisation
 * `ods` send notifications to this endpoint's origin? The reason it may not, or undefined when it may.
 */
export function endpointRefusal(endpoint: string | URL, ods: string, allowedOrigins: Map<string, string[]>): string | undefined {
  const url = new URL(endpoint);
  return originAllowed(url, allowedOrigins.get(ods.toUpperCase()) ?? []) ? undefined
    : `channel.endpoint origin ${url.origin} is not on this organisation's allow-list (ESO_SUBSCRIPTION_ORIGINS)`;
}

function parseFilter(raw: unknown, topic: Topic, i: number): Filter[] {
  const where = `Subscription.criteria.extension[${i}]`;
  if (typeof raw !== 'string' || !raw) throw badRequest('backport-filter-criteria needs a valueString', where);
  const q = raw.indexOf('?');
  if (q >= 0 && raw.slice(0, q) !== topic.resourceType) throw unprocessable(`Filter '${raw}' is not on ${topic.resourceType}, the topic's resource`, where);
  const out: Filter[] = [];
  for (const [param, value] of new URLSearchParams(q >= 0 ? raw.slice(q + 1) : raw)) {
    if (!topic.filters.includes(param)) throw unprocessable(`Unknown filter '${param}' for topic ${topic.url}; known: ${topic.filters.join(', ')}`, where);
    if (!value) throw badRequest(`Filter '${param}' has no value`, where);
    out.push({ param, value });
  }
  if (!out.length) throw badRequest(`Filter '${raw}' names no parameter`, where);
  return out;
}

/**
 * Reads and checks a Subscription for the organisation `ods`; throws an OperationOutcomeError
 * (400 malformed, 422 unknown topic, filter, channel type, payload, or an endpoint not allowed).
 */
export function readSettings(sub: Subscription, ods: string | undefined, allowedOrigins: Map<string, string[]>): SubscriptionSettings {
  const topic = topicByUrl(sub.criteria);
  if (!topic) throw unprocessable(`Unknown subscription topic '${sub.criteria ?? ''}'; see the CapabilityStatement for the topics offered`, 'Subscription.criteria');
  const filters = ((sub as { _criteria?: { extension?: { url: string; valueString?: string }[] } })._criteria?.extension ?? [])
    .flatMap((e, i) => (e.url === EXT.filter ? parseFilter(e.valueString, topic, i) : []));
  const ch = sub.channel;
  if (ch.type !== 'rest-hook') throw unprocessable(`Channel type '${ch.type}' is not offered; only rest-hook`, 'Subscription.channel.type');
  let url: URL;
  try {
    url = new URL(ch.endpoint ?? '');
  } catch {
    throw badRequest('channel.endpoint must be an absolute URL', 'Subscription.channel.endpoint');
  }
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname)))) {
    throw unprocessable('channel.endpoint must be https (http only on loopback)', 'Subscription.channel.endpoint');
  }
  if (url.username || url.password) throw unprocessable('channel.endpoint may not carry credentials: use channel.header', 'Subscription.channel.endpoint');
  const refused = ods === undefined ? undefined : endpointRefusal(url, ods, allowedOrigins);
  if (refused) throw unprocessable(refused, 'Subscription.channel.endpoint');
  const headers = (ch.header ?? []).map((h, i): [string, string] => {
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):\s?(.*)$/.exec(h);
    if (!m || /[\r\n]/.test(m[2])) throw badRequest('channel.header must be "Name: value"', `Subscription.channel.header[${i}]`);
    return [m[1], m[2]];
  });
  if (ch.payload !== undefined && ch.payload !== 'application/fhir+json') {
    throw unprocessable(`Payload '${ch.payload}' is not offered; only application/fhir+json`, 'Subscription.channel.payload');
  }
  const contentExt = extOf((ch as { _payload?: { extension?: { url: string }[] } })._payload?.extension, EXT.content);
  const content = (contentExt?.valueCode ?? 'id-only') as PayloadContent;
  if (!CONTENTS.includes(content)) throw unprocessable(`Payload content '${String(content)}' is not one of ${CONTENTS.join(', ')}`, 'Subscription.channel.payload.extension');
  const num = (url: string, min: number, max: number, where: string): number | undefined => {
    const e = extOf(ch.extension, url);
    if (!e) return undefined;
    const v = e.valueUnsignedInt ?? e.valuePositiveInt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw unprocessable(`${where} must be a whole number from ${min} to ${max}`, `Subscription.channel.extension(${where})`);
    return v;
  };
  const heartbeatSeconds = num(EXT.heartbeat, 1, 86_400, 'backport-heartbeat-period');
  const timeoutSeconds = num(EXT.timeout, 1, MAX_TIMEOUT_SECONDS, 'backport-timeout') ?? DEFAULT_TIMEOUT_SECONDS;
  const maxCount = num(EXT.maxCount, 1, 1_000_000, 'backport-max-count') ?? MAX_COUNT;
  const failures = Number(extOf(sub.extension, EXT.failures)?.valueUnsignedInt ?? 0);
  return { id: sub.id ?? '', status: sub.status, topic, filters, endpoint: url.href, headers, content, heartbeatSeconds, timeoutSeconds, maxCount: Math.min(maxCount, MAX_COUNT), failures };
}
