import { beforeAll, describe, expect, it } from 'vitest';
import { Extensions, Profiles, Systems } from '../../../../src/fhir/eso-urls.ts';
import {
  type ConformanceRegistry, type ValidationIssue, loadProfiles, validateProfile, validateResource,
} from '../../../../src/fhir/validation/index.ts';
import { fixture as loadFixture, VALID_ESO_FIXTURES } from '../../../helpers/cases.ts';

type Json = Record<string, any>;

const fixture = (name: string) => loadFixture<Json>(name);

function summary(issues: ValidationIssue[]): [string, string, string][] {
  return issues.map((i) => [i.source, i.code, i.expression]);
}

let registry: ConformanceRegistry;
beforeAll(() => {
  registry = loadProfiles();
});

const where = (url: string) => `.extension.where(url='${url}')`;

describe('validateResource: valid ESO resources', () => {
  it.each(VALID_ESO_FIXTURES)('when %s is validated, then there are no issues', (name) => {
    expect(validateResource(fixture(name), registry)).toEqual([]);
  });

  it('when a resource does not claim the profile in meta.profile, then the profile still applies', () => {
    const sr = fixture('service-request-urgent-with-questions');
    delete sr.meta;
    sr.intent = 'plan';
    expect(summary(validateResource(sr, registry))).toEqual([['profile', 'value', 'ServiceRequest.intent']]);
  });

  it('when base validation fails, then the profile is not applied and only base issues return', () => {
    const sr = fixture('service-request-urgent-with-questions');
    sr.intent = 'wish';
    sr.extension = [];
    expect(summary(validateResource(sr, registry))).toEqual([
      ['base', 'structure', 'ServiceRequest.extension'],
      ['base', 'code-invalid', 'ServiceRequest.intent'],
    ]);
  });
});

describe('validateResource: ESO ServiceRequest', () => {
  it('when the question extension is missing, then a required issue points at the extension slice', () => {
    const sr = fixture('service-request-urgent-with-questions');
    sr.extension = sr.extension.filter((e: Json) => e.url !== Extensions.question);
    const issues = validateResource(sr, registry);
    expect(summary(issues)).toEqual([['profile', 'required', `ServiceRequest${where(Extensions.question)}`]]);
    expect(issues[0]?.diagnostics).toContain('ServiceRequest.extension:question');
  });

  it('when intent is not the fixed "order", then it is a value issue', () => {
    const sr = fixture('service-request-urgent-with-questions');
    sr.intent = 'proposal';
    const issues = validateResource(sr, registry);
    expect(summary(issues)).toEqual([['profile', 'value', 'ServiceRequest.intent']]);
    expect(issues[0]?.diagnostics).toContain('"order"');
  });

  it('when askedBy has a code outside eso-question-asker, then it is code-invalid at the nested value', () => {
    const sr = fixture('service-request-urgent-with-questions');
    sr.extension[1].extension[1].valueCoding = { system: Systems.esoCodes, code: 'neighbour' };
    expect(summary(validateResource(sr, registry))).toEqual([['profile', 'code-invalid', 'ServiceRequest.extension[1].extension[1].valueCoding']]);
  });

  it('when askedBy has the right code in the wrong system, then it is code-invalid', () => {
    const sr = fixture('service-request-urgent-with-questions');
    sr.extension[0].extension[1].valueCoding.system = 'http://example.org/other';
    expect(summary(validateResource(sr, registry))).toEqual([['profile', 'code-invalid', 'ServiceRequest.extension[0].extension[1].valueCoding']]);
  });

  it('when a question lacks its linkId and its text is a Coding, then each sub-extension rule reports', () => {
    const sr = fixture('service-request-urgent-with-questions');
    sr.extension[0].extension = [
      { url: 'text', valueCoding: { code: 'x' } },
      { url: 'askedBy', valueCoding: { system: Systems.esoCodes, code: 'family' } },
    ];
    expect(summary(validateResource(sr, registry))).toEqual([
      ['profile', 'value', 'ServiceRequest.extension[0].extension[0].valueCoding'],
      ['profile', 'required', `ServiceRequest.extension[0]${where('linkId')}`],
    ]);
  });

  it('when the code pattern is missing its coding, then it is a value issue', () => {
    const sr = fixture('service-request-urgent-with-questions');
    sr.code = { coding: [{ system: Systems.esoCodes, code: 'transfer-offer' }] };
    expect(summary(validateResource(sr, registry))).toEqual([['profile', 'value', 'ServiceRequest.code']]);
  });

  it('when required elements are missing, then each is a required issue', () => {
    const sr = fixture('service-request-urgent-with-questions');
    delete sr.performer;
    delete sr.authoredOn;
    delete sr.priority;
    delete sr.identifier;
    expect(summary(validateResource(sr, registry)).map(([, code, expr]) => [code, expr]).sort()).toEqual([
      ['required', 'ServiceRequest.authoredOn'],
      ['required', 'ServiceRequest.identifier'],
      ['required', 'ServiceRequest.performer'],
      ['required', 'ServiceRequest.priority'],
    ]);
  });

  it('when subject references a Group, then the target type is refused', () => {
    const sr = fixture('service-request-urgent-with-questions');
    sr.subject = { reference: 'Group/siblings' };
    expect(summary(validateResource(sr, registry))).toEqual([['profile', 'value', 'ServiceRequest.subject']]);
  });

  it('when there are two family statements, then the max 1 is broken', () => {
    const sr = fixture('service-request-urgent-with-questions');
    sr.extension.push({ url: Extensions.familyStatement, valueString: 'again' });
    expect(summary(validateResource(sr, registry))).toEqual([['profile', 'invariant', `ServiceRequest${where(Extensions.familyStatement)}`]]);
  });
});

describe('validateResource: ESO Task, Consent, DiagnosticReport', () => {
  it('when businessStatus is not an ESO step, then it is code-invalid', () => {
    const task = fixture('task-in-progress-records-review');
    task.businessStatus = { coding: [{ system: Systems.esoCodes, code: 'family' }] };
    expect(summary(validateResource(task, registry))).toEqual([['profile', 'code-invalid', 'Task.businessStatus']]);
  });

  it('when the Task focus references a Patient, then the target type is refused', () => {
    const task = fixture('task-in-progress-records-review');
    task.focus = { reference: 'Patient/eso-child-1' };
    expect(summary(validateResource(task, registry))).toEqual([['profile', 'value', 'Task.focus']]);
  });

  it('when the independence declaration lacks noConflictOfInterest, then it is required', () => {
    const task = fixture('task-in-progress-records-review');
    task.extension[0].extension = task.extension[0].extension.filter((e: Json) => e.url !== 'noConflictOfInterest');
    expect(summary(validateResource(task, registry))).toEqual([
      ['profile', 'required', `Task.extension[0]${where('noConflictOfInterest')}`],
    ]);
  });

  it('when the Task has no owner, then owner is required', () => {
    const task = fixture('task-in-progress-records-review');
    delete task.owner;
    expect(summary(validateResource(task, registry))).toEqual([['profile', 'required', 'Task.owner']]);
  });

  it('when the Consent provision is a deny without actors, then both rules report at provision', () => {
    const consent = fixture('consent-parent-permits-sharing');
    consent.provision.type = 'deny';
    delete consent.provision.actor;
    expect(summary(validateResource(consent, registry))).toEqual([
      ['profile', 'value', 'Consent.provision.type'],
      ['profile', 'required', 'Consent.provision.actor'],
    ]);
  });

  it('when the Consent scope is treatment, then the pattern fails', () => {
    const consent = fixture('consent-parent-permits-sharing');
    consent.scope = { coding: [{ system: Systems.consentScope, code: 'treatment' }] };
    expect(summary(validateResource(consent, registry))).toEqual([['profile', 'value', 'Consent.scope']]);
  });

  it('when the DiagnosticReport has the wrong LOINC code, then the code pattern fails', () => {
    const report = fixture('diagnostic-report-issued-answers-all-questions');
    report.code = { coding: [{ system: Systems.loinc, code: '11488-4', display: 'Consult note' }] };
    expect(summary(validateResource(report, registry))).toEqual([['profile', 'value', 'DiagnosticReport.code']]);
  });

  it('when the DiagnosticReport has no answers and no basedOn, then both are required', () => {
    const report = fixture('diagnostic-report-issued-answers-all-questions');
    report.extension = report.extension.filter((e: Json) => e.url !== Extensions.answer);
    delete report.basedOn;
    expect(summary(validateResource(report, registry))).toEqual([
      ['profile', 'required', `DiagnosticReport${where(Extensions.answer)}`],
      ['profile', 'required', 'DiagnosticReport.basedOn'],
    ]);
  });

  it('when a Bundle entry breaks its profile, then the issue is rooted at the entry', () => {
    const bundle = fixture('transaction-new-case');
    bundle.entry[2].resource.intent = 'plan';
    expect(summary(validateResource(bundle, registry))).toEqual([['profile', 'value', 'Bundle.entry[2].resource.intent']]);
  });
});

describe('validateProfile on its own', () => {
  it('when an extension profile is applied to an extension, then its value type is checked', () => {
    const reviewKind = registry.byUrl(Extensions.reviewKind);
    expect(reviewKind?.resourceType).toBe('StructureDefinition');
    const issues = validateProfile({ url: Extensions.reviewKind, valueString: 'visit' }, reviewKind as never, registry);
    expect(summary(issues)).toEqual([['profile', 'value', 'Extension.valueString']]);
  });

  it('when a review kind code is not in eso-review-kind, then it is code-invalid', () => {
    const profile = registry.profileFor('Task');
    const task = fixture('task-in-progress-records-review');
    task.extension[1].valueCoding = { system: Systems.esoCodes, code: 'telepathy' };
    expect(summary(validateProfile(task, profile as never, registry))).toEqual([['profile', 'code-invalid', 'Task.extension[1].valueCoding']]);
  });

  it('when a profile is applied to a resource of another type, then one issue says so', () => {
    const task = fixture('task-in-progress-records-review');
    const issues = validateProfile(task, registry.profileFor('Consent') as never, registry, 'Task');
    expect(summary(issues)).toEqual([['profile', 'value', 'Task']]);
  });

  it('when asked for the ESO profile of a type, then only the four ESO types have one', () => {
    expect(registry.profileFor('Patient')).toBeUndefined();
    expect(registry.profileFor('__proto__')).toBeUndefined();
    expect(registry.profileFor('ServiceRequest')?.url).toBe(Profiles.serviceRequest);
    expect(registry.profileFor('Task')?.url).toBe(Profiles.task);
    expect(registry.profileFor('Consent')?.url).toBe(Profiles.consent);
    expect(registry.profileFor('DiagnosticReport')?.url).toBe(Profiles.diagnosticReport);
  });
});
