/**
 * The token endpoint as a service: runs the pipeline, audits the outcome (issued or refused),
 * logs ids and the failed check only, and shapes the answer. No HTTP types here.
 */
import type { Logger } from '../shared/logger.ts';
import type { AuditRecord } from '../audit/audit-event.ts';
import { isOAuthError, oauthErrorBody } from './oauth-error.ts';
import type { Principal } from './principal.ts';
import { handleTokenRequest, type TokenEndpointDeps, type TokenResponse } from './token-endpoint.ts';
import type { TokenContext } from './token-request.ts';

export interface TokenServiceDeps {
  endpoint: TokenEndpointDeps;
  audit: (record: AuditRecord) => Promise<void>;
  log: Logger;
}

export interface TokenAnswer {
  status: number;
  body: TokenResponse | { error: string; error_description: string };
  principal?: Principal;
}

/** The client, once its assertion verified: a refusal after that point is audited under its name. */
function verifiedClient(ctx: TokenContext): Principal | undefined {
  return ctx.client && ctx.claims ? { clientId: ctx.client.clientId, organization: ctx.client.organization, scopes: [] } : undefined;
}

export async function serveTokenRequest(params: Record<string, unknown>, meta: { requestId: string; network?: string }, deps: TokenServiceDeps): Promise<TokenAnswer> {
  const ctx: TokenContext = { params, now: Math.floor(Date.now() / 1000) };
  try {
    const out = await handleTokenRequest(ctx, deps.endpoint);
    await deps.audit({ interaction: 'token', status: 200, principal: out.principal, requestId: meta.requestId, network: meta.network });
    deps.log.info({ requestId: meta.requestId, client: out.principal.clientId, org: out.principal.organization, scopes: out.principal.scopes }, 'access token issued');
    return { status: 200, body: out.response, principal: out.principal };
  } catch (e) {
    if (!isOAuthError(e)) throw e;
    const principal = verifiedClient(ctx);
    await deps.audit({ interaction: 'token', status: e.status, principal, requestId: meta.requestId, network: meta.network, detail: `${e.error}: ${e.reason}` });
    deps.log.info({ requestId: meta.requestId, client: principal?.clientId, error: e.error, reason: e.reason }, 'token request refused');
    return { status: e.status, body: oauthErrorBody(e), principal };
  }
}
