/** Which MLLP connections an organisation's client entries admit: address and certificate matching. */
import { describe, expect, it } from 'vitest';
import { admitsConnection, canonicalAddress, canonicalFingerprint } from '../../../src/auth/mllp-binding.ts';

const FP = 'ab'.repeat(32);

describe('MLLP bindings', () => {
  it.each([
    ['127.0.0.7', '127.0.0.7'],
    ['::ffff:127.0.0.7', '127.0.0.7'],
    ['::FFFF:7f00:7', '127.0.0.7'],
    ['0:0:0:0:0:ffff:10.1.2.3', '10.1.2.3'],
    ['2001:DB8:0:0::1', '2001:db8::1'],
    ['::1', '::1'],
  ])('when an address is written %s, then it is the address %s', (written, canonical) => {
    expect(canonicalAddress(written)).toBe(canonical);
  });

  it.each(['localhost', '10.1.2.0/24', '127.000.0.1', 'fe80::1%eth0', ''])('when %j is given as an address, then it is not one', (v) => {
    expect(canonicalAddress(v)).toBeUndefined();
  });

  it('when a fingerprint has colons or capitals, then it is the same fingerprint', () => {
    expect(canonicalFingerprint(FP.toUpperCase().match(/../g)!.join(':'))).toBe(FP);
  });

  it('when the source address is listed by any of the entries, then the connection is admitted (IPv4-mapped form included)', () => {
    const bindings = [{ addresses: ['10.0.0.1'] }, { addresses: ['127.0.0.7'] }];
    expect(admitsConnection(bindings, { remoteAddress: '127.0.0.7' })).toBe(true);
    expect(admitsConnection(bindings, { remoteAddress: '::ffff:127.0.0.7' })).toBe(true);
    expect(admitsConnection(bindings, { remoteAddress: '127.0.0.9' })).toBe(false);
    expect(admitsConnection([], { remoteAddress: '127.0.0.7' })).toBe(false);
  });

  it('when the verified certificate is the listed one, then the connection is admitted from any address; without it, not', () => {
    const bindings = [{ addresses: [], certificateSha256: FP }];
    expect(admitsConnection(bindings, { remoteAddress: '127.0.0.9', certificateSha256: FP.toUpperCase().match(/../g)!.join(':') })).toBe(true);
    expect(admitsConnection(bindings, { remoteAddress: '127.0.0.9', certificateSha256: 'cd'.repeat(32) })).toBe(false);
    expect(admitsConnection(bindings, { remoteAddress: '127.0.0.9' })).toBe(false);
  });
});
