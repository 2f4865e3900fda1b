/**
 * POST /hl7/v2: an HL7 v2 message over HTTP (bearer token as for FHIR); the ACK is the body.
 * The same receiver as MLLP, with MSH-4 checked against the token's organisation.
 *
 * A token without the scopes of a new case is an HTTP authorization failure, not an HL7 one:
 * it is answered 403 with an OperationOutcome (audited by the error handler), before the body
 * is looked at. Every AR/AE the receiver answers leaves an AuditEvent here (an AA is audited
 * in the intake's own transaction).
 */
import type { Express, Request, Response } from 'express';
import { ENDPOINT_SCOPES, requireEndpointScopes } from '../auth/endpoint-scopes.ts';
import type { AuditRecord } from '../audit/audit-event.ts';
import { charsetNamed, encodeV2 } from '../hl7/charset.ts';
import { readHeader } from '../hl7/er7.ts';
import type { V2Receiver } from '../hl7/v2-receiver.ts';
import type { Interaction } from '../rest/types.ts';
import { unsupportedMediaType } from '../shared/outcomes.ts';
import { callOf } from './request-context.ts';

const ER7 = 'x-application/hl7-v2+er7';

export interface Hl7RouteDeps {
  receiver: V2Receiver;
  /** The caller's scope check (throws 403/401). */
  authorize: (res: Response) => (interaction: Interaction, type: string) => void;
  /** Writes the AuditEvent; rejects if it cannot (the request then fails). */
  audit: (record: AuditRecord) => Promise<void>;
}

/** MSA-1 and MSA-2 of an ACK we built (our own separators; MSA-2 echoes the received MSH-10). */
export function readAck(ack: string): { code?: string; controlId?: string; text?: string } {
  const sep = ack.startsWith('MSH') ? ack[3] : '|';
  const msa = ack.split(/\r\n|\r|\n/).find((line) => line.startsWith(`MSA${sep}`));
  const fields = msa?.split(sep) ?? [];
  return { code: fields[1], controlId: fields[2], text: fields[3] };
}

// Only a plain control id goes into the audit trail; anything else (escapes, spaces, long text) is not recorded.
const CONTROL_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;

/** The AuditEvent of an AR/AE: who asked, which message (MSH-10), never its content. */
function refusalRecord(req: Request, res: Response, ack: ReturnType<typeof readAck>): AuditRecord {
  const controlId = ack.controlId && CONTROL_ID_RE.test(ack.controlId) ? ack.controlId : '(not recorded)';
  // An AE for an internal error is a serious failure; any other AR/AE is a refusal of the message.
  const internal = ack.code === 'AE' && (ack.text ?? '').startsWith('Application internal error');
  return {
    interaction: 'operation', status: 200, outcome: internal ? '8' : '4',
    principal: callOf(res).caller, requestId: callOf(res).requestId, network: req.ip,
    detail: `hl7v2 ${ack.code ?? 'no MSA'}, MSH-10 ${controlId}`,
  };
}

export function hl7Routes(app: Express, deps: Hl7RouteDeps): void {
  app.post('/hl7/v2', async (req, res: Response) => {
    requireEndpointScopes(deps.authorize(res), ENDPOINT_SCOPES.hl7v2);
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== ER7 && type !== 'application/hl7-v2') throw unsupportedMediaType(`Content-Type must be ${ER7}`);
    const r = deps.receiver;
    const principal = callOf(res).caller;
    // Bytes, decoded by the receiver: a `charset` parameter on the Content-Type wins over MSH-18.
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const charset = /;\s*charset\s*=\s*"?([^";]+)"?/i.exec(req.headers['content-type'] ?? '')?.[1];
    const ack = await r.handle(body, { authenticatedOrg: principal?.organization, agent: principal?.clientId, charset });
    const read = readAck(ack);
    if (read.code !== 'AA') await deps.audit(refusalRecord(req, res, read));
    // The ACK in the set the message declared (its MSH-18 is echoed), said in the Content-Type.
    const bytes = encodeV2(ack);
    const set = readHeader(ack)?.get(18);
    res.status(200).type(`${ER7}; charset=${httpCharset(set)}`).send(bytes);
  });
}

/** The IANA name of the set an ACK is written in. */
function httpCharset(msh18: string | undefined): string {
  const set = msh18 ? charsetNamed(msh18) : undefined;
  return { ASCII: 'us-ascii', '8859/1': 'iso-8859-1', '8859/15': 'iso-8859-15', CP1252: 'windows-1252', 'UTF-8': 'utf-8' }[set ?? 'UTF-8'];
}
