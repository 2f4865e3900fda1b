/**
 * Identifiers the rules depend on. NHS numbers are check-digit verified on every Patient write.
 * ODS codes are unique on every write: tenancy and independence resolve organisations by ODS
 * code, so two Organizations with one code would make both ambiguous. The child (NHS number), the
 * clinician (GMC) and the request (requestId) are never duplicated by intake, which looks them up
 * under these same lock keys; plain FHIR clients use conditional create (If-None-Exist) for that.
 * Each check runs under a lock on the identifier (PostgreSQL advisory lock; SQLite writes are serial).
 */
import type { Identifier, Patient, Resource } from 'fhir/r4.js';
import { isValidNhsNumber } from '../../fhir/uk-core.ts';
import { conflict, unprocessable } from '../../shared/outcomes.ts';
import type { StorageTx } from '../../storage/types.ts';
import { Systems } from '../codes.ts';
import type { Reader } from '../reader.ts';

/** Lock keys per type (intake and the uniqueness check use the same ones, so they serialise together). */
const LOCKS: Record<string, { system?: string; lock: string; label: string }> = {
  Patient: { system: Systems.nhsNumber, lock: 'patient', label: 'a patient with NHS number' },
  Organization: { system: Systems.odsCode, lock: 'org', label: 'an organisation with ODS code' },
  Practitioner: { system: Systems.gmcNumber, lock: 'practitioner', label: 'a practitioner with GMC number' },
  // Any system: the requester's own request identifiers (requestId).
  ServiceRequest: { lock: 'eso-request', label: 'an ESO request with identifier' },
};

/** The types whose identifier is unique on every write. */
const UNIQUE_ON_WRITE = new Set(['Organization']);

/** Lock key for an identifier: the same key intake uses, so both ways in serialise together. */
export function identityLockKey(resourceType: string, id: Identifier): string {
  const u = LOCKS[resourceType];
  return u.system ? `${u.lock}:${id.value}` : `${u.lock}:${id.system ?? ''}|${id.value}`;
}

/** Rule: NHS numbers pass the modulus-11 check (422 with the element path otherwise). */
export function checkNhsNumbers(patient: Patient): void {
  (patient.identifier ?? []).forEach((id, i) => {
    if (id.system === Systems.nhsNumber && !(typeof id.value === 'string' && isValidNhsNumber(id.value))) {
      throw unprocessable(`'${id.value ?? ''}' is not a valid NHS number (10 digits with a modulus-11 check digit)`, `Patient.identifier[${i}].value`);
    }
  });
}

/** beforeWrite: refuses a second resource carrying an identifier another one already has (409). */
export async function checkUniqueIdentifiers(next: Resource, tx: StorageTx, reader: Reader): Promise<void> {
  const u = LOCKS[next.resourceType];
  if (!u || !UNIQUE_ON_WRITE.has(next.resourceType)) return;
  const ids = ((next as { identifier?: Identifier[] }).identifier ?? [])
    .filter((i) => typeof i.value === 'string' && (u.system ? i.system === u.system : !!i.system));
  for (const id of ids) {
    await tx.lock(identityLockKey(next.resourceType, id));
    const found = await reader.search(next.resourceType, { identifier: `${id.system}|${id.value}` });
    const other = found.find((r) => r.id !== next.id);
    if (other) {
      throw conflict(`There is already ${u.label} ${id.value} (${next.resourceType}/${other.id}): use it rather than creating another`, `${next.resourceType}.identifier`);
    }
  }
}
