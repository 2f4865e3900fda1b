/**
 * The form that starts a request. The child comes from the EHR (not editable), the named consultant is
 * pre-filled from the signed-in clinician, the provider list shows the independence rule's verdicts.
 * What it sends is the plain ESO request (domain/eso-request-input.ts); the domain decides.
 */
import type { ProviderChoice } from '../../domain/provider-choice.ts';
import { DEFAULT_DUE_DAYS } from '../../domain/rules/task.ts';
import type { EhrRecord } from '../ehr-fhir.ts';
import type { EhrPatient } from '../sessions.ts';
import { fmtDate, form, h } from './layout.ts';
import { providerOptions } from './lists.ts';

export const QUESTION_ROWS = 4;

const text = (name: string, label: string, value = '', hint = '', required = false) =>
  `<label for="${name}">${h(label)}${hint ? `<span class="hint">${h(hint)}</span>` : ''}</label><input type="text" id="${name}" name="${name}" value="${h(value)}"${required ? ' required' : ''}>`;
const area = (name: string, label: string, hint = '', required = false) =>
  `<label for="${name}">${h(label)}${hint ? `<span class="hint">${h(hint)}</span>` : ''}</label><textarea id="${name}" name="${name}"${required ? ' required' : ''}></textarea>`;

export function requestForm(csrf: string, patient: EhrPatient, consultant: { name: string; gmc?: string }, choices: ProviderChoice[], records: EhrRecord[], problem?: string): string {
  const urgency = ['routine', 'urgent', 'asap', 'stat'].map((u) => `<option value="${u}">${u}${DEFAULT_DUE_DAYS[u] ? ` – opinion due within ${DEFAULT_DUE_DAYS[u]} days` : ' – no due date'}</option>`).join('');
  const asker = (i: number) => `<label for="q${i}by">Question ${i} asked by</label><select id="q${i}by" name="q${i}by">`
    + '<option value="family">the family</option><option value="young-person">the young person</option><option value="treating-team">the treating team</option></select>';
  const questions = Array.from({ length: QUESTION_ROWS }, (_, k) => k + 1)
    .map((i) => `${text(`q${i}`, `Question ${i}`, '', i === 1 ? 'At least one question; the report will answer each in order' : '', i === 1)}${asker(i)}`).join('');
  const recs = records.length
    ? records.map((r, i) => `<div class="check"><input type="checkbox" id="rec${i}" name="rec${i}" value="1" checked><label for="rec${i}">${h(r.title)} (${h(r.contentType)})</label></div>`).join('')
    : '<p>The EHR offers no documents for this child.</p>';
  const now = new Date().toISOString().slice(0, 10);
  const body = `
${problem ? `<div class="message" role="alert"><h2>The request was not sent</h2><p>${h(problem)}</p></div>` : ''}
<fieldset><legend>The child (from your EHR)</legend><p>${h([patient.given, patient.family].filter(Boolean).join(' '))}, born ${h(fmtDate(patient.birthDate))}, NHS number ${h(patient.nhsNumber)}</p></fieldset>
<fieldset><legend>Why a second opinion</legend>${area('reason', 'Reason', '', true)}${area('summary', 'Clinical summary')}
<label for="urgency">Urgency<span class="hint">Urgent requests get a due date; no treatment waits for the opinion.</span></label><select id="urgency" name="urgency">${urgency}</select></fieldset>
<fieldset><legend>Questions for the provider</legend>${questions}</fieldset>
<fieldset><legend>The family's statement</legend>${area('familyStatement', 'In the family\'s own words', 'Kept verbatim: the child behind the numbers')}</fieldset>
<fieldset><legend>People</legend>${text('consultantName', 'Named consultant', consultant.name, '', true)}${text('consultantGmc', 'Named consultant GMC number', consultant.gmc ?? '')}
${text('advocateName', 'Family advocate (the family\'s point of contact)')}
${text('parentName', 'Parent or carer')}<label for="parentRel">Relationship</label><select id="parentRel" name="parentRel"><option value="MTH">Mother</option><option value="FTH">Father</option><option value="GRD">Guardian</option></select>
<div class="check"><input type="checkbox" id="parentPR" name="parentPR" value="1" checked><label for="parentPR">Has parental responsibility</label></div></fieldset>
<fieldset><legend>Provider</legend><label for="provider">Provider<span class="hint">Must be at a separate Trust or Health Board.</span></label><select id="provider" name="provider" required><option value="">Choose a provider</option>${providerOptions(choices)}</select></fieldset>
<fieldset><legend>Consent to share records</legend><label for="consentBy">Consent given by</label><select id="consentBy" name="consentBy"><option value="">No consent yet (the request waits)</option><option value="parent">the parent or carer above</option><option value="young-person">the young person</option></select>
<label for="consentFrom">Given on</label><input type="date" id="consentFrom" name="consentFrom" value="${now}"><label for="consentUntil">Until</label><input type="date" id="consentUntil" name="consentUntil"></fieldset>
<fieldset><legend>Records to share (under the consent)</legend>${recs}
<label for="upload">Or upload a record<span class="hint">A letter, report or image from your computer</span></label><input type="file" id="upload" name="upload"></fieldset>
<button type="submit">Send the request</button>`;
  return form('/app/requests', csrf, body, ' enctype="multipart/form-data"');
}
