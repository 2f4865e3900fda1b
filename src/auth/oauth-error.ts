/**
 * OAuth 2.0 token endpoint errors (RFC 6749 §5.2), one class with named factories. Only
 * `error` and `error_description` leave the process (an allow-list serializer, after
 * node-oidc-provider's err_out); `reason` says which check refused, for logs and audit only.
 */

/** RFC 6749 §5.2. invalid_grant does not arise: with client_credentials the assertion is client authentication (RFC 7523 §3.2 → invalid_client). */
export type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'invalid_scope';

export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    /** Public text: says what to fix, never which part of client authentication failed. */
    readonly description: string,
    readonly status: 400 | 401,
    /** Internal text naming the failed check (a fixed string, never attacker input). */
    readonly reason: string = description,
  ) {
    super(reason);
    this.name = 'OAuthError';
  }
}

export const invalidRequest = (description: string) => new OAuthError('invalid_request', description, 400);
export const unsupportedGrantType = (description: string) => new OAuthError('unsupported_grant_type', description, 400);
export const invalidScope = (description: string) => new OAuthError('invalid_scope', description, 400);
/** Every client authentication failure looks the same from outside: unknown client, bad key, replay, ... */
export const invalidClient = (reason: string) => new OAuthError('invalid_client', 'Client authentication failed', 401, reason);

export function isOAuthError(e: unknown): e is OAuthError {
  return e instanceof OAuthError;
}

/** The response body: exactly these two fields. */
export function oauthErrorBody(e: OAuthError): { error: OAuthErrorCode; error_description: string } {
  return { error: e.error, error_description: e.description };
}
