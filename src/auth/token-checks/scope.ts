import { invalidScope } from '../oauth-error.ts';
import { grantScopes, MAX_SCOPES, splitScopeParam } from '../scopes.ts';
import { param, type TokenCheck } from '../token-request.ts';

/** Rule: the granted scopes are the requested ones limited to the client's allowed scopes; nothing granted is invalid_scope. */
export const checkScope: TokenCheck = (ctx) => {
  const scope = param(ctx, 'scope');
  if (!scope) throw invalidScope('scope is required, e.g. system/Task.rs');
  const requested = splitScopeParam(scope);
  if (requested.length > MAX_SCOPES) throw invalidScope(`At most ${MAX_SCOPES} scopes may be requested`);
  const grant = grantScopes(requested, ctx.client!.scopes);
  if (!grant.scopes.length) throw invalidScope('None of the requested scopes may be granted to this client');
  ctx.grant = grant;
};
