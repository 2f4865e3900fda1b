/**
 * POST /auth/token: SMART Backend Services client_credentials with a private_key_jwt
 * assertion. The rules run in this order, each in its own file under token-checks/; the first
 * that fails answers (RFC 6749 §5.2). Cheap checks first, the signature before anything is
 * written, the jti recorded only for a genuine assertion.
 * https://hl7.org/fhir/smart-app-launch/backend-services.html#issue-access-token
 */
import type { Principal } from './principal.ts';
import { checkAssertionHeader } from './token-checks/assertion-header.ts';
import { checkAssertionPresent } from './token-checks/assertion-present.ts';
import { checkAssertionSize } from './token-checks/assertion-size.ts';
import { checkExpiryWindow } from './token-checks/expiry-window.ts';
import { checkGrantType } from './token-checks/grant-type.ts';
import { checkJku } from './token-checks/jku.ts';
import { checkRegisteredClient } from './token-checks/registered-client.ts';
import { checkReplay } from './token-checks/replay.ts';
import { checkScope } from './token-checks/scope.ts';
import { checkSignature } from './token-checks/signature.ts';
import { checkSingleValued } from './token-checks/single-valued.ts';
import type { TokenCheck, TokenContext, TokenDeps } from './token-request.ts';

export const TOKEN_CHECKS: readonly TokenCheck[] = [
  checkSingleValued, //      each parameter once
  checkGrantType, //         client_credentials only
  checkAssertionPresent, //  private_key_jwt only
  checkAssertionSize, //     ≤ 8 KB
  checkAssertionHeader, //   RS384/ES384, kid, no embedded key
  checkRegisteredClient, //  iss = sub = a registered client
  checkJku, //               jku only if it is the registered JWKS URL
  checkSignature, //         registered key by kid; iss, sub, aud, exp pinned
  checkExpiryWindow, //      exp ≤ now + 5 min
  checkReplay, //            jti once
  checkScope, //             requested ∩ allowed
];

export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  scope: string;
}

export interface TokenEndpointDeps extends TokenDeps {
  lifetimeSeconds: number;
  /** Signs the access token for the principal, issued at `now` (epoch seconds). */
  sign(principal: Principal, now: number): Promise<string>;
}

/** What the checks established (also useful to audit a refusal by an identified client). */
export interface TokenOutcome {
  ctx: TokenContext;
  response: TokenResponse;
  principal: Principal;
}

/** Runs every check; throws the first OAuthError. `ctx` is filled as the checks pass. */
export async function runTokenChecks(ctx: TokenContext, deps: TokenDeps): Promise<void> {
  for (const check of TOKEN_CHECKS) await check(ctx, deps);
}

/** Runs the checks on `ctx` (the request and now), then signs the token. `ctx` tells a caller how far a refused request got. */
export async function handleTokenRequest(ctx: TokenContext, deps: TokenEndpointDeps): Promise<TokenOutcome> {
  await runTokenChecks(ctx, deps);
  const client = ctx.client!;
  const principal: Principal = {
    clientId: client.clientId, organization: client.organization, scopes: ctx.grant!.scopes, exp: ctx.now + deps.lifetimeSeconds,
  };
  const response: TokenResponse = {
    access_token: await deps.sign(principal, ctx.now), token_type: 'bearer', expires_in: deps.lifetimeSeconds, scope: ctx.grant!.granted.join(' '),
  };
  return { ctx, response, principal };
}
