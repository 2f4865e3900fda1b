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

  it('when a client lists MLLP addresses and a certificate fingerprint, then they are read in one canonical spelling', () => {
    const fp = 'AB:CD:'.repeat(16).slice(0, -1); // 32 bytes as openssl prints them
    const [c] = parseClientsFile({ clients: [{ ...ok, mllp: { addresses: ['10.1.2.3', '::ffff:127.0.0.7', '2001:DB8::0:1'], certificate_sha256: fp } }] });
    expect(c.mllp).toEqual({ addresses: ['10.1.2.3', '127.0.0.7', '2001:db8::1'], certificateSha256: 'abcd'.repeat(16) });
  });

  it.each([
    ['a host name', { addresses: ['epr.rq1.nhs.uk'] }, 'clients.0.mllp.addresses.0: must be an IP address literal'],
    ['a range', { addresses: ['10.1.2.0/24'] }, 'clients.0.mllp.addresses.0: must be an IP address literal'],
    ['an IPv4 address out of range', { addresses: ['10.1.2.300'] }, 'clients.0.mllp.addresses.0: must be an IP address literal'],
    ['no address at all', { addresses: [] }, 'clients.0.mllp.addresses'],
    ['a fingerprint one digit short', { certificate_sha256: 'a'.repeat(63) }, 'clients.0.mllp.certificate_sha256: must be the SHA-256 fingerprint of the client certificate: 64 hex digits'],
    ['a SHA-1 fingerprint', { certificate_sha256: 'a'.repeat(40) }, 'clients.0.mllp.certificate_sha256: must be the SHA-256 fingerprint'],
    ['a fingerprint that is not hex', { certificate_sha256: 'g'.repeat(64) }, 'clients.0.mllp.certificate_sha256: must be the SHA-256 fingerprint'],
    ['neither addresses nor a certificate', {}, 'clients.0.mllp: give addresses, certificate_sha256 or both'],
    ['a misspelt member', { address: ['10.1.2.3'] }, 'clients.0.mllp'],
  ])('when the mllp object has %s, then the file is refused with a message naming the member', (_name, mllp, message) => {
    expect(() => parseClientsFile({ clients: [{ ...ok, mllp }] })).toThrow(message);
  });

  it('when two clients share an id, then the file is refused', () => {
    expect(() => parseClientsFile({ clients: [ok, ok] })).toThrow(/unique/);
  });
});
