/** Content negotiation and response writing for FHIR JSON. https://hl7.org/fhir/R4/http.html#mime-type */
import type { Request, Response } from 'express';
import type { Resource } from 'fhir/r4.js';
import { allOk, badRequest, notAcceptable, unsupportedMediaType } from '../shared/outcomes.ts';

const JSON_TYPES = new Set(['application/fhir+json', 'application/json', 'json', 'application/json+fhir', '*/*', 'application/*', '']);
const FORMAT_ALIASES: Record<string, string> = { json: 'application/fhir+json', 'application/json': 'application/json', 'application/fhir+json': 'application/fhir+json' };

/** The response media type, from `_format` or Accept; XML or anything else is 406. */
export function responseType(req: Request): string {
  const format = typeof req.query._format === 'string' ? req.query._format : undefined;
  if (format !== undefined) {
    const t = Object.hasOwn(FORMAT_ALIASES, format) ? FORMAT_ALIASES[format] : undefined;
    if (!t) throw notAcceptable(`_format ${format} is not supported: this server speaks FHIR JSON`);
    return t;
  }
  const accept = (req.headers.accept ?? '').split(',').map((s) => s.split(';')[0].trim().toLowerCase());
  if (accept.includes('application/json') && !accept.includes('application/fhir+json')) return 'application/json';
  if (accept.some((a) => JSON_TYPES.has(a)) || accept.every((a) => a === '')) return 'application/fhir+json';
  if (accept.some((a) => a.startsWith('text/html'))) return 'application/fhir+json';
  throw notAcceptable('Accept must allow application/fhir+json or application/json');
}

export function sendResource(req: Request, res: Response, status: number, resource: Resource | undefined, headers: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  const type = (() => { try { return responseType(req); } catch { return 'application/fhir+json'; } })();
  res.status(status).type(`${type}; charset=utf-8`);
  if (resource === undefined) {
    res.end();
    return;
  }
  res.send(JSON.stringify(resource));
}

/** Prefer: return=minimal | representation | OperationOutcome, for writes. */
export function applyPrefer(req: Request, resource: Resource | undefined): Resource | undefined {
  const prefer = String(req.headers.prefer ?? '');
  const m = /return=(minimal|representation|OperationOutcome)/.exec(prefer);
  if (!m || m[1] === 'representation') return resource;
  if (m[1] === 'minimal') return undefined;
  return allOk(resource ? `${resource.resourceType}/${resource.id} saved` : 'OK');
}

/** A JSON escape of U+0000 not itself escaped (`\\u0000` is a backslash and text, not a NUL). */
const NUL_ESCAPE = /(?<!\\)(?:\\\\)*\\u0000/;

/** Marks the body-parser refusal of a JSON body holding U+0000 (http/errors.ts answers it). */
export const NUL_IN_BODY = 'nul-in-body';

/**
 * express.json's `verify`: the one NUL check for every JSON body (FHIR, /eso, /auth). U+0000 is
 * never data here and PostgreSQL text cannot hold it; JSON can carry it only as an escape.
 */
export function refuseNulInJson(_req: unknown, _res: unknown, buf: Buffer): void {
  if (buf.includes('\\u0000') && NUL_ESCAPE.test(buf.toString('utf8'))) throw new Error(NUL_IN_BODY);
}

/** A JSON answer outside FHIR (/eso, /auth): `type` is the media type. */
export function sendJson(res: Response, status: number, body: unknown, type = 'application/json'): void {
  res.status(status).type(`${type}; charset=utf-8`).send(JSON.stringify(body));
}

/** A write body must be FHIR JSON or plain JSON (or one of `also`: PATCH takes JSON Patch); anything else is 415. */
export function requireJsonBody(req: Request, also: string[] = []): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/fhir+json' && type !== 'application/json' && !also.includes(type)) {
    throw unsupportedMediaType(`Content-Type must be application/fhir+json or application/json, not '${type || 'none'}'`);
  }
  if (req.body === undefined) throw badRequest('A request body is required');
}
