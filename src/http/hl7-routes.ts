/**
 * POST /hl7/v2: an HL7 v2 message over HTTP (bearer token as for FHIR); the ACK is the body.
 * The same receiver as MLLP, with MSH-4 checked against the token's organisation.
 */
import type { Express, Response } from 'express';
import type { Principal } from '../auth/principal.ts';
import type { V2Receiver } from '../hl7/v2-receiver.ts';
import { unsupportedMediaType } from '../shared/outcomes.ts';

const ER7 = 'x-application/hl7-v2+er7';

export function hl7Routes(app: Express, receiver: () => V2Receiver | undefined): void {
  app.post('/hl7/v2', async (req, res: Response) => {
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== ER7 && type !== 'application/hl7-v2') throw unsupportedMediaType(`Content-Type must be ${ER7}`);
    const r = receiver();
    if (!r) throw new Error('HL7 receiver not started');
    const principal = res.locals.principal as Principal | undefined;
    const text = typeof req.body === 'string' ? req.body : '';
    const ack = await r.handle(text, { authenticatedOrg: principal?.organization, agent: principal?.clientId });
    res.status(200).type(ER7).send(ack);
  });
}
