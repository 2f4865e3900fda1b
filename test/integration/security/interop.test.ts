/**
 * Interoperability with independent clients: openid-client obtains a token with
 * private_key_jwt (its assertion aud set to the token URL), and fhir-kit-client uses it.
 */
import { Client } from 'fhir-kit-client';
import { importJWK } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addClient } from '../../../src/auth/client-admin.ts';
import { clientsFileIn } from '../../helpers/auth.ts';
import { A, B, startHarness, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h?.stop(); });

/** A token for `clientId` obtained by openid-client alone, from the discovery document. */
async function openidClientToken(clientId: string, jwk: import('jose').JWK, scope: string): Promise<oidc.TokenEndpointResponse> {
  const meta = (await (await fetch(`${h.fhir}/.well-known/smart-configuration`)).json()) as { issuer: string; token_endpoint: string };
  const key = (await importJWK(jwk, jwk.alg)) as CryptoKey;
  const config = new oidc.Configuration({ issuer: meta.issuer, token_endpoint: meta.token_endpoint }, clientId, {},
    oidc.PrivateKeyJwt({ key, kid: jwk.kid }, { [oidc.modifyAssertion]: (_header, payload) => { payload.aud = meta.token_endpoint; } }));
  oidc.allowInsecureRequests(config); // http on loopback only
  return oidc.clientCredentialsGrant(config, { scope });
}

describe('interoperability', () => {
  it('when openid-client asks for a token with private_key_jwt (ES384), then fhir-kit-client can create, read and search with it', async () => {
    const tokens = await openidClientToken(A.clientId, h.keys[A.clientId], 'system/Patient.cruds system/Organization.rs');
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.scope).toBe('system/Patient.cruds system/Organization.rs');
    const fhir = new Client({ baseUrl: h.fhir, bearerToken: tokens.access_token });
    const created = (await fhir.create({ resourceType: 'Patient', body: { resourceType: 'Patient', gender: 'female' } })) as unknown as { id: string };
    const read = (await fhir.read({ resourceType: 'Patient', id: created.id })) as unknown as { gender: string };
    expect(read.gender).toBe('female');
    const found = (await fhir.search({ resourceType: 'Patient', searchParams: { _id: created.id } })) as { entry?: unknown[] };
    expect(found.entry).toHaveLength(1);
    const orgs = (await fhir.search({ resourceType: 'Organization', searchParams: { identifier: 'https://fhir.nhs.uk/Id/ods-organization-code|RQ1' } })) as { entry?: unknown[] };
    expect(orgs.entry).toHaveLength(1);
  });

  it('when an RS384 client uses openid-client, then it gets a token too', async () => {
    const { privateJwk } = await addClient(clientsFileIn(h.clientsDir), { clientId: 'rs384-client', organization: 'RQ1', alg: 'RS384', scopes: ['system/Task.rs'] });
    await new Promise((r) => setTimeout(r, 1100));
    const tokens = await openidClientToken('rs384-client', privateJwk!, 'system/Task.rs');
    expect(tokens.scope).toBe('system/Task.rs');
  });

  it('when fhir-kit-client discovers SMART, then it finds the token URL; without a token it is refused', async () => {
    const fhir = new Client({ baseUrl: h.fhir });
    const auth = await fhir.smartAuthMetadata();
    expect(String(auth.tokenUrl)).toBe(`${h.url}/auth/token`);
    await expect(fhir.search({ resourceType: 'Patient' })).rejects.toMatchObject({ response: { status: 401 } });
  });

  it('when openid-client uses another client\'s key, then the grant fails with invalid_client', async () => {
    await expect(openidClientToken(A.clientId, h.keys[B.clientId], 'system/*.rs')).rejects.toMatchObject({ error: 'invalid_client' });
  });
});
