/**
 * The resources intake writes, built from the full example: each passes the ESO profiles in
 * profiles/ (the validator every write goes through) and an independent R4 validator.
 */
import { readFileSync } from 'node:fs';
import type { Resource } from 'fhir/r4.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseEsoRequest } from '../../../src/domain/intake/parse-request.ts';
import {
  buildConditions, buildConsent, buildPatient, buildPractitioner, buildRecords, buildRelatedPerson, buildRole, buildServiceRequest, buildTask,
  dueOf, relationshipCodes, type CaseIds, type CaseParties,
} from '../../../src/domain/intake/build.ts';
import { loadProfiles, validateResource, type ConformanceRegistry } from '../../../src/fhir/validation/index.ts';
import { expectValidR4 } from '../../helpers/r4.ts';

const full = JSON.parse(readFileSync(new URL('../../fixtures/eso-requests/full.json', import.meta.url), 'utf8'));
const input = parseEsoRequest(full);
const ids: CaseIds = { serviceRequest: 'sr-1', task: 'task-1', consent: 'consent-1', records: [{ doc: 'doc-1', binary: 'bin-1' }, { doc: 'doc-2' }], conditions: ['cond-1'] };
const parties: CaseParties = {
  patient: { reference: 'Patient/p-1' }, requesterOrg: { reference: 'Organization/rz1', display: 'Southern' }, providerOrg: { reference: 'Organization/rz2np' },
  consultant: { reference: 'PractitionerRole/cons-1' }, advocate: { reference: 'PractitionerRole/adv-1' }, specialist: { reference: 'PractitionerRole/spec-1' },
  parents: [{ reference: 'RelatedPerson/mum' }, { reference: 'RelatedPerson/dad' }],
};
const at = '2026-03-04T10:15:00.000Z';

let registry: ConformanceRegistry;
beforeAll(() => { registry = loadProfiles(); });

function expectConforms(r: Resource): void {
  const errors = validateResource(r, registry).filter((i) => i.severity === 'error');
  expect(errors, `${r.resourceType}: ${JSON.stringify(errors)}`).toEqual([]);
  expectValidR4(r);
}

describe('intake builders', () => {
  it('when the full example is built, then every resource conforms to its ESO profile and to R4', () => {
    const all: Resource[] = [
      buildPatient(input, parties.requesterOrg), ...input.parents.map((p) => buildRelatedPerson(p, parties.patient)),
      buildPractitioner(input.requester.consultant), buildRole({ reference: 'Practitioner/x' }, parties.requesterOrg, 'Named consultant'),
      ...buildConditions(input, ids, parties.patient, at), buildServiceRequest(input, ids, parties, at),
      ...buildRecords(input, ids, parties, at).flatMap((r) => (r.binary ? [r.doc, r.binary] : [r.doc])),
      buildConsent(input, ids, parties)!, buildTask(input, ids, parties, at),
    ];
    all.forEach(expectConforms);
  });

  it('when questions are built, then each gets a linkId q1..qn and who asked it', () => {
    const sr = buildServiceRequest(input, ids, parties, at);
    const q = sr.extension!.filter((e) => e.url.endsWith('eso-question'));
    expect(q.map((e) => e.extension!.find((x) => x.url === 'linkId')!.valueString)).toEqual(['q1', 'q2', 'q3', 'q4']);
    expect(q[3].extension!.find((x) => x.url === 'askedBy')!.valueCoding!.code).toBe('young-person');
  });

  it('when the consent is built, then the parent who gave it performs it and the provider is the information recipient', () => {
    const c = buildConsent(input, ids, parties)!;
    expect(c.performer).toEqual([{ reference: 'RelatedPerson/mum' }]);
    expect(c.provision!.actor![0].role.coding![0].code).toBe('IRCP');
    expect(c.provision!.data!.map((d) => d.reference.reference)).toEqual(['ServiceRequest/sr-1', 'DocumentReference/doc-1', 'DocumentReference/doc-2']);
  });

  it('when a record carries base64 data, then a Binary holds it with the DocumentReference as its security context', () => {
    const [first, second] = buildRecords(input, ids, parties, at);
    expect(first.doc.content[0].attachment.url).toBe('Binary/bin-1');
    expect(first.binary?.securityContext).toEqual({ reference: 'DocumentReference/doc-1' });
    expect(second.binary).toBeUndefined();
    expect(second.doc.content[0].attachment.url).toBe(full.records[1].url);
  });

  it('when urgency is urgent, asap or stat, then the due date defaults to +14, +7, +2 days; a given dueDate wins', () => {
    const day = 86_400_000;
    for (const [urgency, days] of [['urgent', 14], ['asap', 7], ['stat', 2]] as const) {
      expect(Date.parse(dueOf({ ...input, urgency, dueDate: undefined }, at)!) - Date.parse(at)).toBe(days * day);
    }
    expect(dueOf({ ...input, urgency: 'routine', dueDate: undefined }, at)).toBeUndefined();
    expect(dueOf({ ...input, urgency: 'routine', dueDate: '2026-04-01' }, at)).toBe('2026-04-01T23:59:59Z');
  });

  it('when a parent has parental responsibility, then RESPRSN says so; a guardian without it is not coded GUARD', () => {
    expect(relationshipCodes('MTH', true).map((c) => c.coding![0].code)).toEqual(['MTH', 'MTH', 'RESPRSN']);
    expect(relationshipCodes('FTH', false).map((c) => c.coding![0].code)).toEqual(['FTH', 'FTH']);
    expect(relationshipCodes('GRD', false).map((c) => c.coding![0].code)).toEqual(['GRD']);
  });
});
