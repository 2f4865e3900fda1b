/**
 * The clients file (ESO_CLIENTS_FILE), in the shape other tools write:
 * {"clients": [{"client_id", "organization", "scopes", "jwks" | "jwks_uri", "mllp"?}]}.
 * A file that does not parse is refused whole: a half-loaded registry is worse than none.
 */
import { isLoopbackHost } from './dev-mode.ts';
import type { JWK } from 'jose';
import * as z from 'zod';
import { canonicalAddress, canonicalFingerprint, type MllpBinding } from './mllp-binding.ts';
import { parseScope } from './scopes.ts';

export interface RegisteredClient {
  clientId: string;
  /** ODS code of the one organisation the client acts for. */
  organization: string;
  organizationName?: string;
  /** Scopes the client may be granted (v1 or v2 system scopes). */
  scopes: string[];
  /** Registered public keys, or ... */
  jwks?: { keys: JWK[] };
  /** ... a JWKS URL (https, or http on a loopback host). */
  jwksUri?: string;
  /** Which MLLP connections may send HL7 v2 for the organisation (none: this entry admits none). */
  mllp?: MllpBinding;
}

export const CLIENT_ID_RE = /^[A-Za-z0-9._~-]{1,128}$/;
export const ODS_CODE_RE = /^[A-Z0-9]{3,10}$/;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];


const jwk = z.looseObject({ kty: z.enum(['RSA', 'EC']), kid: z.string().min(1).max(256) })
  .refine((k) => !PRIVATE_MEMBERS.some((m) => m in k), 'a registered key must be public (no private members)');

// Strict: a misspelt member in a rule about who may send must not be silently ignored.
const mllp = z.strictObject({
  addresses: z.array(z.string().refine((a) => canonicalAddress(a) !== undefined, 'must be an IP address literal (e.g. 10.1.2.3 or fd00::5), not a host name or a range')).min(1).optional(),
  certificate_sha256: z.string().refine((f) => canonicalFingerprint(f) !== undefined,
    'must be the SHA-256 fingerprint of the client certificate: 64 hex digits, colons allowed').optional(),
  // 'legacy': acknowledged as before HL7 v2.5.1 §2.9 (as HL7_LEGACY_ACK_SENDERS); 'hl7' (default): §2.9.
  ack_mode: z.enum(['hl7', 'legacy']).optional(),
}).refine((m) => m.addresses !== undefined || m.certificate_sha256 !== undefined, 'give addresses, certificate_sha256 or both');

const entry = z.looseObject({
  client_id: z.string().regex(CLIENT_ID_RE, 'client_id: letters, digits and . _ ~ - only'),
  organization: z.string().regex(ODS_CODE_RE, 'organization must be an ODS code (A-Z, 0-9)'),
  organization_name: z.string().min(1).max(200).optional(),
  scopes: z.array(z.string().refine((s) => parseScope(s) !== undefined, 'not a system scope')).min(1),
  jwks: z.object({ keys: z.array(jwk).min(1) }).optional(),
  jwks_uri: z.url().refine((u) => { const x = new URL(u); return x.protocol === 'https:' || (x.protocol === 'http:' && isLoopbackHost(x.hostname)); },
    'jwks_uri must be https (http only on a loopback host)').optional(),
  mllp: mllp.optional(),
}).refine((c) => (c.jwks === undefined) !== (c.jwks_uri === undefined), 'give exactly one of jwks and jwks_uri');

export const clientsFileSchema = z.looseObject({ clients: z.array(entry) })
  .refine((f) => new Set(f.clients.map((c) => c.client_id)).size === f.clients.length, 'client_id values must be unique');

export type ClientsFile = z.infer<typeof clientsFileSchema>;

/** Parses the file's JSON; throws an Error naming every problem. */
export function parseClientsFile(json: unknown): RegisteredClient[] {
  const parsed = clientsFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`Invalid clients file: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data.clients.map((c) => ({
    clientId: c.client_id,
    organization: c.organization,
    organizationName: c.organization_name,
    scopes: c.scopes,
    jwks: c.jwks as { keys: JWK[] } | undefined,
    jwksUri: c.jwks_uri,
    mllp: c.mllp && {
      addresses: (c.mllp.addresses ?? []).map((a) => canonicalAddress(a)!),
      certificateSha256: c.mllp.certificate_sha256 === undefined ? undefined : canonicalFingerprint(c.mllp.certificate_sha256),
      ...(c.mllp.ack_mode ? { ackMode: c.mllp.ack_mode } : {}),
    },
  }));
}
