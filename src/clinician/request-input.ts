/**
 * The start-a-request form as the plain ESO request (domain/eso-request-input.ts): the child from the EHR's
 * Patient, the rest from the form. No rule is checked here; intake checks them all.
 */
import { randomUUID } from 'node:crypto';
import type { EsoRequestInputRaw } from '../domain/eso-request-input.ts';
import type { EhrRecord } from './ehr-fhir.ts';
import type { Upload } from './http-common.ts';
import { QUESTION_ROWS } from './pages/request-form.ts';
import type { EhrPatient } from './sessions.ts';

const PREFIXES = new Set(['dr', 'prof', 'professor', 'mr', 'mrs', 'ms', 'miss', 'mx']);

/** "Dr Sam Jones" → prefix Dr, given Sam, family Jones. */
export function nameOf(text: string): { family: string; given?: string[]; prefix?: string[] } {
  const words = text.split(/\s+/).filter(Boolean);
  const prefix = words.length > 1 && PREFIXES.has(words[0].toLowerCase().replace('.', '')) ? [words.shift() as string] : undefined;
  const family = words.pop() ?? '';
  return { family, ...(words.length ? { given: words } : {}), ...(prefix ? { prefix } : {}) };
}

export function requestInputOf(f: (name: string) => string, patient: EhrPatient, organization: string, records: EhrRecord[], uploads: Upload[] = []): EsoRequestInputRaw {
  const questions = Array.from({ length: QUESTION_ROWS }, (_, k) => k + 1)
    .filter((i) => f(`q${i}`))
    .map((i) => ({ text: f(`q${i}`), askedBy: (['family', 'young-person', 'treating-team'].includes(f(`q${i}by`)) ? f(`q${i}by`) : 'treating-team') as 'family' }));
  const consentBy = f('consentBy');
  const from = /^\d{4}-\d{2}-\d{2}$/.test(f('consentFrom')) ? f('consentFrom') : new Date().toISOString().slice(0, 10);
  const until = /^\d{4}-\d{2}-\d{2}$/.test(f('consentUntil')) ? f('consentUntil') : new Date(Date.parse(from) + 365 * 86_400_000).toISOString().slice(0, 10);
  const parentName = f('parentName');
  return {
    requestId: { value: randomUUID() },
    child: {
      nhsNumber: patient.nhsNumber ?? '', name: { family: patient.family ?? '', ...(patient.given ? { given: [patient.given] } : {}) }, birthDate: patient.birthDate ?? '',
      ...(patient.gender && ['male', 'female', 'other', 'unknown'].includes(patient.gender) ? { gender: patient.gender as 'male' } : {}),
    },
    requester: { organization, consultant: { name: nameOf(f('consultantName')), ...(f('consultantGmc') ? { gmc: f('consultantGmc') } : {}) } },
    ...(f('advocateName') ? { familyAdvocate: { name: nameOf(f('advocateName')) } } : {}),
    parents: parentName ? [{ name: nameOf(parentName), relationship: f('parentRel') || 'MTH', parentalResponsibility: f('parentPR') === '1' }] : [],
    provider: { organization: f('provider') },
    reason: { text: f('reason') },
    ...(f('summary') ? { clinicalSummary: f('summary') } : {}),
    urgency: (['routine', 'urgent', 'asap', 'stat'].includes(f('urgency')) ? f('urgency') : 'routine') as 'routine',
    questions,
    ...(f('familyStatement') ? { familyStatement: f('familyStatement') } : {}),
    records: [
      ...records.filter((_, i) => f(`rec${i}`) === '1').map((r) => ({ title: r.title, contentType: r.contentType, url: r.url })),
      ...uploads.map((u) => ({ title: u.name, contentType: u.type, data: u.data.toString('base64') })),
    ],
    ...(consentBy === 'parent' || consentBy === 'young-person'
      ? { consent: { givenBy: consentBy === 'parent' ? { parent: 0 } : { youngPerson: true as const }, dateTime: `${from}T00:00:00Z`, until: `${until}T23:59:59Z` } }
      : {}),
  };
}
