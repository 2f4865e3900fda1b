/**
 * The AuditEvent record of an MLLP sender refused by the connection check: the organisation MSH-4
 * claimed (so that organisation sees attempts made in its name), the source address, why, and the
 * control id. Never the message text.
 */
import type { AuditRecord } from '../audit/audit-event.ts';
import { ODS_CODE_RE } from '../auth/client-file.ts';
import { canonicalAddress } from '../auth/mllp-binding.ts';
import type { SenderRefusal } from './v2-receiver.ts';

// Only plain values go into the trail: MSH-4 and MSH-10 come from an unauthenticated peer.
const CONTROL_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;

/** The record for security.audit; `requestId` ties it to the log line. */
export function senderRefusalRecord(r: SenderRefusal, requestId: string): AuditRecord {
  const controlId = CONTROL_ID_RE.test(r.controlId) ? r.controlId : '(not recorded)';
  const address = r.connection?.remoteAddress;
  return {
    interaction: 'operation',
    status: 403,
    requestId,
    principal: ODS_CODE_RE.test(r.sender) ? { clientId: 'mllp', organization: r.sender, scopes: [] } : undefined,
    network: address === undefined ? undefined : canonicalAddress(address) ?? '(not an IP address)',
    detail: `hl7v2-mllp-sender-refused (${r.reason}), MSH-10 ${controlId}`,
  };
}
