/** The clients file: the shape other tools write is read; anything unsafe is refused whole. */
import { describe, expect, it } from 'vitest';
import { parseClientsFile } from '../../../src/auth/client-file.ts';

const key = { kty: 'EC', crv: 'P-384', x: 'x', y: 'y', kid: 'k1' };
const ok = { client_id: 'rq1-epr', organization: 'RQ1', scopes: ['system/*.cruds'], jwks: { keys: [key] } };

describe('parseClientsFile', () => {
  it('when the file is in the documented shape (with extra fields), then each client is read', () => {
    expect(parseClientsFile({ version: 2, clients: [{ ...ok, note: 'x' }, { client_id: 'rj7', organization: 'RJ7', scopes: ['system/Task.read'], jwks_uri: 'https://rj7.example/jwks' }] }))
      .toEqual([
        { clientId: 'rq1-epr', organization: 'RQ1', scopes: ['system/*.cruds'], jwks: { keys: [key] }, jwksUri: undefined, organizationName: undefined },
        { clientId: 'rj7', organization: 'RJ7', scopes: ['system/Task.read'], jwks: undefined, jwksUri: 'https://rj7.example/jwks', organizationName: undefined },
      ]);
  });

  it.each([
    ['a private key', { ...ok, jwks: { keys: [{ ...key, d: 'secret' }] } }],
    ['a symmetric key', { ...ok, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'k' }] } }],
    ['a key without kid', { ...ok, jwks: { keys: [{ kty: 'EC', crv: 'P-384', x: 'x', y: 'y' }] } }],
    ['both jwks and jwks_uri', { ...ok, jwks_uri: 'https://x.example/jwks' }],
    ['neither jwks nor jwks_uri', { client_id: 'a', organization: 'RQ1', scopes: ['system/*.rs'] }],
    ['an http jwks_uri off loopback', { client_id: 'a', organization: 'RQ1', scopes: ['system/*.rs'], jwks_uri: 'http://rj7.example/jwks' }],
    ['a user scope', { ...ok, scopes: ['user/*.read'] }],
    ['a lower-case ODS code', { ...ok, organization: 'rq1' }],
    ['a client_id with a space', { ...ok, client_id: 'rq1 epr' }],
  ])('when a client has %s, then the file is refused', (_name, entry) => {
    expect(() => parseClientsFile({ clients: [entry] })).toThrow(/Invalid clients file/);
  });

  it('when two clients share an id, then the file is refused', () => {
    expect(() => parseClientsFile({ clients: [ok, ok] })).toThrow(/unique/);
  });
});
