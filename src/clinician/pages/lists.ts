/** The treating team's list of this child's cases, and the provider's worklist. */
import type { ProviderChoice } from '../../domain/provider-choice.ts';
import type { CaseSummary } from '../case-view.ts';
import type { EhrPatient } from '../sessions.ts';
import { fmtDate, h } from './layout.ts';

export function statusTags(c: Pick<CaseSummary, 'priority' | 'overdue'>): string {
  return `${c.priority !== 'routine' ? `<span class="tag urgent">${h(c.priority)}</span> ` : ''}${c.overdue ? '<span class="tag overdue">overdue</span>' : ''}`;
}

function table(cases: CaseSummary[], caption: string, other: 'provider' | 'requester'): string {
  if (!cases.length) return `<p>${h(caption)}: none.</p>`;
  const rows = cases.map((c) => `<tr><td><a href="/app/cases/${h(c.taskId)}">${h(c.child)}</a></td><td>${h(c.step ?? c.status)} ${statusTags(c)}</td>`
    + `<td>${c.due ? h(fmtDate(c.due)) : 'no due date'}</td><td>${h(other === 'provider' ? c.provider : c.requester)}</td></tr>`).join('');
  return `<table><caption>${h(caption)}</caption><thead><tr><th scope="col">Child</th><th scope="col">Status</th><th scope="col">Due</th>`
    + `<th scope="col">${other === 'provider' ? 'Provider' : 'Requested by'}</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** The treating team's home: the child in context, their cases, and how to start a request. */
export function childHome(patient: EhrPatient, cases: CaseSummary[], writeBlock: string | undefined): string {
  const name = [patient.given, patient.family].filter(Boolean).join(' ') || 'This child';
  return `<p>Child: <strong>${h(name)}</strong>${patient.birthDate ? `, born ${h(fmtDate(patient.birthDate))}` : ''}${patient.nhsNumber ? `, NHS number ${h(patient.nhsNumber)}` : ''}</p>
${writeBlock ? `<p class="message" role="alert">${h(writeBlock)}</p>` : '<p><a href="/app/requests/new">Start a request for an external second opinion</a></p>'}
${table(cases, 'External second opinions for this child at your Trust', 'provider')}`;
}

export function worklistPage(cases: CaseSummary[]): string {
  return `<p>Cases your team has been asked to give an opinion on, urgent and overdue first.</p>${table(cases, 'Your worklist', 'requester')}`;
}

/** The provider picker: a provider the independence rule refuses is shown but cannot be chosen. */
export function providerOptions(choices: ProviderChoice[]): string {
  return choices.map((c) => {
    const note = !c.allowed ? ' – not independent (same Trust or Health Board), cannot be chosen' : c.overseas ? ' – outside the UK: will state where law or ethics differ' : '';
    return `<option value="${h(c.ods)}"${c.allowed ? '' : ' disabled'}>${h(c.name)}${h(note)}</option>`;
  }).join('');
}
