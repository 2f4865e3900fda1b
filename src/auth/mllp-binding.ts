/**
 * Which MLLP connections may speak for an organisation: a client entry's `mllp` object lists source
 * addresses and/or the SHA-256 fingerprint of a TLS client certificate. MSH-4 names the
 * organisation; only a connection one of its entries admits may use that name (SECURITY.md,
 * "How an MLLP sender is authenticated").
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

/** What one client entry says about the MLLP connections that speak for its organisation (normalised). */
export interface MllpBinding {
  /** Source IP addresses, canonical (IPv4 dotted, IPv6 compressed lower case). */
  addresses: string[];
  /** Fingerprint of the client certificate: 64 lower-case hex digits, no colons. */
  certificateSha256?: string;
  /**
   * How the organisation's messages are acknowledged: 'legacy' = as before HL7 v2.5.1 §2.9 was
   * followed (enhanced mode only when MSH-16 is AL, ER or SU), the same as listing it in
   * HL7_LEGACY_ACK_SENDERS; absent or 'hl7' = §2.9.
   */
  ackMode?: 'hl7' | 'legacy';
}

/** What the listener knows of a connection. */
export interface MllpPeer {
  remoteAddress?: string;
  /** Only when the certificate verified against MLLP_TLS_CA (any spelling: colons, case). */
  certificateSha256?: string;
}

const MAPPED_V4 = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/;

/**
 * The canonical form of an IP address literal, or undefined when it is not one (host names,
 * ranges, zone ids). An IPv4-mapped IPv6 address (`::ffff:127.0.0.7`, as Node reports IPv4 peers
 * on a dual-stack socket) is its IPv4 address.
 */
export function canonicalAddress(value: string): string | undefined {
  const v = value.trim();
  const family = isIP(v);
  if (family === 4) return v;
  if (family !== 6) return undefined;
  let host: string;
  try {
    host = new URL(`http://[${v}]/`).hostname; // WHATWG URL serialises IPv6 canonically
  } catch {
    return undefined; // a zone id (fe80::1%eth0) is not an address we can match
  }
  const mapped = MAPPED_V4.exec(host);
  if (mapped) {
    const hi = parseInt(mapped[1], 16);
    const lo = parseInt(mapped[2], 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return host.slice(1, -1);
}

/** A certificate fingerprint without colons, lower case; undefined unless it is 64 hex digits. */
export function canonicalFingerprint(value: string): string | undefined {
  const v = value.replace(/:/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(v) ? v : undefined;
}

/** SHA-256 of a PEM (or DER) certificate's DER encoding, as the clients file holds it. */
export function certificateFingerprint(certificate: string | Buffer): string {
  return canonicalFingerprint(new X509Certificate(certificate).fingerprint256)!;
}

/**
 * Whether any of the organisation's entries admits the connection: its source address is listed,
 * or it presented (over verified mutual TLS) the listed certificate.
 */
export function admitsConnection(bindings: readonly MllpBinding[], peer: MllpPeer): boolean {
  const address = peer.remoteAddress === undefined ? undefined : canonicalAddress(peer.remoteAddress);
  const fingerprint = peer.certificateSha256 === undefined ? undefined : canonicalFingerprint(peer.certificateSha256);
  return bindings.some((b) => (address !== undefined && b.addresses.includes(address))
    || (fingerprint !== undefined && b.certificateSha256 === fingerprint));
}
