import { decodeJwt } from 'jose';
import { CLIENT_ID_RE } from '../client-file.ts';
import { invalidClient } from '../oauth-error.ts';
import { param, type TokenCheck } from '../token-request.ts';

/**
 * Rule: iss = sub = a registered client_id (and = the client_id parameter when sent). Read
 * before the signature only to find the key; the signature check pins both again.
 */
export const checkRegisteredClient: TokenCheck = async (ctx, deps) => {
  let claims;
  try {
    claims = decodeJwt(ctx.assertion!);
  } catch {
    throw invalidClient('assertion payload is not a JWT claims set');
  }
  const iss = claims.iss;
  if (typeof iss !== 'string' || !CLIENT_ID_RE.test(iss)) throw invalidClient('assertion has no usable iss');
  if (claims.sub !== iss) throw invalidClient('assertion iss and sub differ');
  const clientIdParam = param(ctx, 'client_id');
  if (clientIdParam !== undefined && clientIdParam !== iss) throw invalidClient('client_id parameter differs from assertion iss');
  const client = await deps.findClient(iss);
  if (!client) throw invalidClient('unknown client');
  ctx.client = client;
};
