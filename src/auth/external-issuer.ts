/**
 * Access tokens from an external authorization server (a national gateway): accepted when
 * ESO_EXTERNAL_ISSUER and ESO_EXTERNAL_JWKS_URL are set. Issuer, audience and asymmetric
 * algorithms are pinned; the ODS code comes from the configured claim; scopes from `scope`
 * (space-delimited) or `scp` (array), keeping only the system scopes this server understands.
 */
import { jwtVerify, type JWTPayload } from 'jose';
import { ODS_CODE_RE } from './client-file.ts';
import type { Principal } from './principal.ts';
import { stringClaim } from './access-token.ts';
import type { RemoteJwks } from './remote-jwks.ts';
import { formatScope, parseScope, type SystemScope } from './scopes.ts';

export interface ExternalIssuerSettings {
  issuer: string;
  /** The audience tokens must carry (default: this server's FHIR base URL). */
  audience: () => string;
  odsClaim: string;
  algorithms: string[];
}

function scopesOf(payload: JWTPayload): string[] {
  const raw = typeof payload.scope === 'string' ? payload.scope.split(' ') : Array.isArray(payload.scp) ? payload.scp : [];
  return raw.slice(0, 100).filter((s): s is string => typeof s === 'string').map(parseScope)
    .filter((s): s is SystemScope => s !== undefined).map(formatScope);
}

export class ExternalIssuer {
  constructor(readonly settings: ExternalIssuerSettings, private readonly jwks: RemoteJwks) {}

  /** True when the (unverified) payload says it comes from this issuer: which verifier to use, nothing more. */
  claims(payload: JWTPayload): boolean {
    return payload.iss === this.settings.issuer;
  }

  /** Verifies the token; undefined when it is valid but names no client or no ODS code. */
  async verify(token: string): Promise<Principal | undefined> {
    const { payload } = await jwtVerify(token, (header) => this.jwks.getKey(header), {
      algorithms: this.settings.algorithms, issuer: this.settings.issuer, audience: this.settings.audience(), requiredClaims: ['exp'],
    });
    const clientId = stringClaim(payload, 'client_id') ?? stringClaim(payload, 'azp') ?? stringClaim(payload, 'sub');
    const organization = stringClaim(payload, this.settings.odsClaim, 16);
    if (!clientId || !organization || !ODS_CODE_RE.test(organization)) return undefined;
    return { clientId, organization, scopes: scopesOf(payload), exp: payload.exp, issuer: this.settings.issuer };
  }
}
