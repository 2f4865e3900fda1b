/**
 * Discovery: /fhir/.well-known/smart-configuration and the CapabilityStatement's
 * rest.security say the same thing (absolute URLs, built from the public base URL).
 * https://hl7.org/fhir/smart-app-launch/conformance.html
 */
import type { CapabilityStatementRestSecurity } from 'fhir/r4.js';
import { RESOURCE_TYPES } from '../fhir/search-params.ts';
import { endpointScopesDescription } from './endpoint-scopes.ts';
import { ASSERTION_ALGORITHMS } from './token-request.ts';

export interface AuthUrls {
  issuer: string;
  token: string;
  jwks: string;
}

/** Where the authorization server lives below the base URL. */
export function authUrls(baseUrl: string): AuthUrls {
  return { issuer: `${baseUrl}/auth`, token: `${baseUrl}/auth/token`, jwks: `${baseUrl}/auth/jwks` };
}

export function smartConfiguration(baseUrl: string): Record<string, unknown> {
  const urls = authUrls(baseUrl);
  return {
    issuer: urls.issuer,
    jwks_uri: urls.jwks,
    token_endpoint: urls.token,
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    scopes_supported: ['system/*.cruds', 'system/*.rs', 'system/*.read', 'system/*.write',
      ...RESOURCE_TYPES.flatMap((t) => (t === 'AuditEvent' ? [`system/${t}.rs`] : [`system/${t}.cruds`, `system/${t}.rs`]))],
    capabilities: ['client-confidential-asymmetric', 'permission-v1', 'permission-v2'],
  };
}

export function capabilitySecurity(baseUrl: string): CapabilityStatementRestSecurity {
  return {
    cors: false,
    service: [{
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR', display: 'SMART-on-FHIR' }],
      text: 'SMART Backend Services: client_credentials with a private_key_jwt assertion (RS384 or ES384)',
    }],
    extension: [{
      url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
      extension: [{ url: 'token', valueUri: authUrls(baseUrl).token }],
    }],
    description: `Bearer tokens from ${authUrls(baseUrl).token} (SMART v1 and v2 system scopes). Each client acts for one organisation and sees only its cases. Discovery: ${baseUrl}/fhir/.well-known/smart-configuration. ${endpointScopesDescription()}`,
  };
}
