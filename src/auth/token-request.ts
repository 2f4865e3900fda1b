/**
 * What the token endpoint's checks share: the request as plain data, what earlier checks
 * established, and the few services they need. No HTTP here (http/auth-routes.ts adapts).
 * SMART Backend Services: https://hl7.org/fhir/smart-app-launch/backend-services.html
 */
import type { JWTPayload, ProtectedHeaderParameters } from 'jose';
import type { RegisteredClient } from './client-file.ts';
import type { ScopeGrant } from './scopes.ts';

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** The only algorithms a client assertion may use (SMART: RS384 and ES384). */
export const ASSERTION_ALGORITHMS = ['RS384', 'ES384'];
export const MAX_ASSERTION_BYTES = 8192;
/** An assertion may be valid for at most this long from now. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;

export interface TokenContext {
  /** The form parameters as parsed (a repeated parameter is an array). */
  readonly params: Readonly<Record<string, unknown>>;
  /** Now, in epoch seconds. */
  readonly now: number;
  assertion?: string;
  header?: ProtectedHeaderParameters;
  client?: RegisteredClient;
  /** The assertion's claims, once its signature is verified. */
  claims?: JWTPayload;
  grant?: ScopeGrant;
}

export interface TokenDeps {
  findClient(clientId: string): Promise<RegisteredClient | undefined>;
  /** The client's verification key named by the header (kid, alg). Throws a jose error if none. */
  clientKey(client: RegisteredClient, header: ProtectedHeaderParameters): Promise<CryptoKey>;
  /** The absolute URL of this token endpoint (the assertion's audience). */
  tokenUrl(): string;
  /** Records a jti until `expiresAt`; false when it was already recorded. */
  recordJti(clientId: string, jti: string, expiresAt: Date): Promise<boolean>;
}

/** One rule of the token endpoint: throws an OAuthError, or records what it established. */
export type TokenCheck = (ctx: TokenContext, deps: TokenDeps) => void | Promise<void>;

/** A single-valued string parameter (the single-valued check runs first). */
export function param(ctx: TokenContext, name: string): string | undefined {
  const v = ctx.params[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}
