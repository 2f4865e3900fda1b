import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_ARRAY, validateBase, type ValidationIssue } from '../../../../src/fhir/validation/index.ts';
import { fixture as loadFixture, VALID_ESO_FIXTURES } from '../../../helpers/cases.ts';

const fixture = (name: string) => loadFixture<Record<string, unknown>>(name);

/** The issues as [code, expression] pairs: what most tests pin down. */
function summary(issues: ValidationIssue[]): [string, string][] {
  return issues.map((i) => [i.code, i.expression]);
}

const minimalTask = { resourceType: 'Task', status: 'requested', intent: 'order' };

describe('validateBase: valid resources', () => {
  it.each(VALID_ESO_FIXTURES)('when the fixture %s is validated, then there are no issues', (name) => {
    expect(validateBase(fixture(name))).toEqual([]);
  });

  it('when a primitive carries only extensions in its _ sibling, then it is valid', () => {
    const patient = { resourceType: 'Patient', _gender: { extension: [{ url: 'http://example.org/why', valueString: 'not recorded' }] } };
    expect(validateBase(patient)).toEqual([]);
  });

  it('when a repeating primitive has a null placeholder matched by its _ sibling, then it is valid', () => {
    const patient = {
      resourceType: 'Patient',
      name: [{ given: ['Amira', null], _given: [null, { extension: [{ url: 'http://example.org/x', valueString: 'y' }] }] }],
    };
    expect(validateBase(patient)).toEqual([]);
  });

  it('when a contained resource is valid, then there are no issues', () => {
    const task = { ...minimalTask, contained: [{ resourceType: 'Patient', id: 'child' }], for: { reference: '#child' } };
    expect(validateBase(task)).toEqual([]);
  });
});

describe('validateBase: structure', () => {
  it('when the resourceType is unknown, then there is one not-supported issue', () => {
    const issues = validateBase({ resourceType: 'Encounter', status: 'planned' });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ severity: 'error', code: 'not-supported', source: 'base' });
  });

  it('when the input is not an object or has no resourceType, then it is refused', () => {
    expect(summary(validateBase([]))).toEqual([['structure', 'Resource']]);
    expect(summary(validateBase(null))).toEqual([['structure', 'Resource']]);
    expect(summary(validateBase({ id: 'x' }))).toEqual([['required', 'Resource']]);
  });

  it('when an element is unknown, then the issue names it', () => {
    const issues = validateBase({ ...minimalTask, colour: 'red' });
    expect(summary(issues)).toEqual([['structure', 'Task.colour']]);
    expect(issues[0]?.diagnostics).toContain('colour');
  });

  it('when a nested element is unknown, then the expression has the index of the repeating parent', () => {
    const task = { ...minimalTask, input: [{ type: { text: 'a' }, valueString: 'x' }, { type: { text: 'b', colour: 1 }, valueString: 'y' }] };
    expect(summary(validateBase(task))).toEqual([['structure', 'Task.input[1].type.colour']]);
  });

  it('when a _ sibling belongs to a complex element or holds a value, then it is refused', () => {
    expect(summary(validateBase({ ...minimalTask, _code: { id: 'x' } }))).toEqual([['structure', 'Task._code']]);
    expect(summary(validateBase({ ...minimalTask, _status: 'x' }))).toEqual([['structure', 'Task.status']]);
  });

  it.each(['__proto__', 'constructor', 'prototype'])('when the key %s appears, then it is an unknown element and not followed', (key) => {
    const task = JSON.parse(`{"resourceType":"Task","status":"requested","intent":"order","${key}":{"status":"bogus"}}`) as unknown;
    expect(summary(validateBase(task))).toEqual([['structure', `Task.${key}`]]);
    expect(({} as Record<string, unknown>).status).toBeUndefined();
  });

  it('when a required element is missing, then the issue is required with its path', () => {
    expect(summary(validateBase({ resourceType: 'Task', status: 'requested' }))).toEqual([['required', 'Task.intent']]);
  });

  it('when a required element in a backbone element is missing, then the path includes the backbone', () => {
    const task = { ...minimalTask, input: [{ valueString: 'x' }] };
    expect(summary(validateBase(task))).toEqual([['required', 'Task.input[0].type']]);
  });

  it('when a single-valued element is an array, then it is a structure issue', () => {
    expect(summary(validateBase({ ...minimalTask, code: [{ text: 'a' }] }))).toEqual([['structure', 'Task.code']]);
  });

  it('when a repeating element is not an array, then it is a structure issue', () => {
    expect(summary(validateBase({ ...minimalTask, identifier: { value: 'x' } }))).toEqual([['structure', 'Task.identifier']]);
  });

  it('when a value is null, an object is empty or an array is empty, then each is refused', () => {
    const task = { ...minimalTask, code: {}, identifier: [], description: null };
    expect(summary(validateBase(task))).toEqual([
      ['structure', 'Task.code'],
      ['structure', 'Task.identifier'],
      ['structure', 'Task.description'],
    ]);
  });

  it('when an array is longer than the limit, then there is one issue and its items are not read', () => {
    const note = Array.from({ length: MAX_ARRAY + 1 }, () => ({ text: '' }));
    expect(summary(validateBase({ ...minimalTask, note }))).toEqual([['structure', 'Task.note']]);
  });
});

describe('validateBase: choice types and extensions', () => {
  it('when two value[x] types are given, then it is refused', () => {
    const task = { ...minimalTask, input: [{ type: { text: 'a' }, valueString: 'x', valueBoolean: true }] };
    expect(summary(validateBase(task))).toEqual([['structure', 'Task.input[0].valueBoolean']]);
  });

  it('when a value[x] suffix is not an allowed type, then it is an unknown element', () => {
    const condition = { resourceType: 'Condition', subject: { reference: 'Patient/1' }, onsetCoding: { code: 'x' } };
    expect(summary(validateBase(condition))).toEqual([['structure', 'Condition.onsetCoding']]);
  });

  it('when a required value[x] is missing, then the issue names value[x]', () => {
    const task = { ...minimalTask, input: [{ type: { text: 'a' } }] };
    expect(summary(validateBase(task))).toEqual([['required', 'Task.input[0].value[x]']]);
  });

  it('when an extension has no url, then url is required', () => {
    expect(summary(validateBase({ ...minimalTask, extension: [{ valueString: 'x' }] }))).toEqual([['required', 'Task.extension[0].url']]);
  });

  it('when an extension has both a value and nested extensions, or neither, then ext-1 fails', () => {
    const both = { url: 'http://example.org/a', valueString: 'x', extension: [{ url: 'b', valueString: 'y' }] };
    const neither = { url: 'http://example.org/a' };
    expect(summary(validateBase({ ...minimalTask, extension: [both, neither] }))).toEqual([
      ['invariant', 'Task.extension[0]'],
      ['invariant', 'Task.extension[1]'],
    ]);
  });

  it('when a modifierExtension value has the wrong type, then the nested path is given', () => {
    const task = { ...minimalTask, modifierExtension: [{ url: 'http://example.org/m', valueBoolean: 'yes' }] };
    expect(summary(validateBase(task))).toEqual([['value', 'Task.modifierExtension[0].valueBoolean']]);
  });
});

describe('validateBase: nesting and contained resources', () => {
  it('when contentReference elements nest (Consent.provision.provision), then they are validated recursively', () => {
    const consent = {
      resourceType: 'Consent', status: 'active', scope: { text: 's' }, category: [{ text: 'c' }],
      provision: { provision: [{ type: 'deny', provision: [{ type: 'maybe' }] }] },
    };
    expect(summary(validateBase(consent))).toEqual([['code-invalid', 'Consent.provision.provision[0].provision[0].type']]);
  });

  it('when extensions nest 200 levels deep, then there is exactly one issue and no crash', () => {
    let deep: Record<string, unknown> = { url: 'http://example.org/leaf', valueString: 'leaf' };
    for (let i = 0; i < 200; i++) deep = { url: 'http://example.org/n', extension: [deep] };
    const issues = validateBase({ ...minimalTask, extension: [deep] });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ code: 'structure', severity: 'error' });
  });

  it('when nesting is 100000 levels deep, then validation returns without a stack overflow', () => {
    let deep: Record<string, unknown> = { type: 'permit' };
    for (let i = 0; i < 100_000; i++) deep = { provision: [deep] };
    const consent = { resourceType: 'Consent', status: 'active', scope: { text: 's' }, category: [{ text: 'c' }], provision: deep };
    expect(validateBase(consent)).toHaveLength(1);
  });

  it('when a contained resource is invalid, then its issues are rooted at contained[i]', () => {
    const task = { ...minimalTask, contained: [{ resourceType: 'Patient', gender: 'robot' }] };
    expect(summary(validateBase(task))).toEqual([['code-invalid', 'Task.contained[0].gender']]);
  });

  it('when a contained resource has an unknown type, then it is not supported', () => {
    const task = { ...minimalTask, contained: [{ resourceType: 'Medication', id: 'm' }] };
    expect(summary(validateBase(task))).toEqual([['not-supported', 'Task.contained[0]']]);
  });

  it('when a contained resource contains resources, then dom-2 fails', () => {
    const task = { ...minimalTask, contained: [{ resourceType: 'Patient', contained: [{ resourceType: 'Patient' }] }] };
    expect(summary(validateBase(task))).toEqual([['invariant', 'Task.contained[0].contained']]);
  });

  it('when a Bundle entry is invalid, then the issue is rooted at the entry', () => {
    const bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Task', status: 'requested' } }] };
    expect(summary(validateBase(bundle))).toEqual([['required', 'Bundle.entry[0].resource.intent']]);
  });
});

describe('validateBase: required bindings', () => {
  it('when Task.status is not a task-status code, then it is code-invalid', () => {
    const issues = validateBase({ ...minimalTask, status: 'bogus' });
    expect(summary(issues)).toEqual([['code-invalid', 'Task.status']]);
    expect(issues[0]?.diagnostics).toContain('http://hl7.org/fhir/ValueSet/task-status');
  });

  it.each([
    [{ resourceType: 'ServiceRequest', status: 'active', intent: 'order', priority: 'whenever', subject: { reference: 'Patient/1' } }, 'ServiceRequest.priority'],
    [{ resourceType: 'ServiceRequest', status: 'active', intent: 'wish', subject: { reference: 'Patient/1' } }, 'ServiceRequest.intent'],
    [{ resourceType: 'DiagnosticReport', status: 'done', code: { text: 'x' } }, 'DiagnosticReport.status'],
    [{ resourceType: 'Patient', gender: 'F' }, 'Patient.gender'],
    [{ resourceType: 'Patient', identifier: [{ use: 'primary' }] }, 'Patient.identifier[0].use'],
  ])('when a code is outside its required value set, then the expression is the element (%#)', (resource, expression) => {
    expect(summary(validateBase(resource))).toEqual([['code-invalid', expression]]);
  });

  it('when a required binding uses a value set that is not simple (mimetypes), then it is not checked', () => {
    expect(validateBase({ resourceType: 'Binary', contentType: 'application/x-anything' })).toEqual([]);
  });
});

describe('validateBase: never throws', () => {
  it('when given arbitrary JSON in any element, then it returns issues and does not throw', () => {
    const keys = fc.constantFrom('status', 'intent', 'code', 'input', 'extension', 'contained', '_status', '__proto__', 'for', 'note');
    fc.assert(
      fc.property(fc.dictionary(keys, fc.jsonValue({ maxDepth: 6 })), (extra) => {
        const issues = validateBase({ ...minimalTask, ...extra, resourceType: 'Task' });
        expect(Array.isArray(issues)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
