/**
 * Builds test data from the ESO fixtures (test/fixtures/eso/), between organisations of the test's
 * own (placed by the directory file: clients never create Organizations).
 */
import { readFileSync } from 'node:fs';
import type { Bundle } from 'fhir/r4.js';

export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/eso/${name}.json`, import.meta.url), 'utf8')) as T;
}

/** The fixtures in test/fixtures/eso/ that are valid R4 and satisfy the ESO profiles (others may add invalid ones). */
export const VALID_ESO_FIXTURES = [
  'patient-with-nhs-number',
  'service-request-urgent-with-questions',
  'task-in-progress-records-review',
  'consent-parent-permits-sharing',
  'diagnostic-report-issued-answers-all-questions',
  'transaction-new-case',
] as const;

/** The new-case transaction (Patient, ServiceRequest, Task) between two organisations; no Consent. */
export function caseTransaction(requesterId: string, providerId: string): Bundle {
  const text = JSON.stringify(fixture<Bundle>('transaction-new-case'))
    .replaceAll('Organization/treating-trust-1', `Organization/${requesterId}`)
    .replaceAll('Organization/provider-team-1', `Organization/${providerId}`);
  const bundle = JSON.parse(text) as Bundle;
  bundle.entry = bundle.entry!.filter((e) => e.resource?.resourceType !== 'Consent');
  for (const e of bundle.entry) delete e.request!.ifNoneExist; // each test case gets its own Patient
  return bundle;
}
