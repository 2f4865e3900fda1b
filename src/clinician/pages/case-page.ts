/**
 * One case: where it stands, the questions with each answer beside it, the timeline, and the actions the
 * clinician's side of the case has (the domain still decides each one when it is sent).
 */
import type { CaseTimeline } from '../../domain/timeline/build.ts';
import type { CaseDetail } from '../case-view.ts';
import type { FamilyLink } from '../family-links.ts';
import { PROGRESS } from '../case-actions.ts';
import { fmtDate, form, h } from './layout.ts';
import { statusTags } from './lists.ts';

const OPEN = ['requested', 'received', 'accepted', 'in-progress', 'on-hold'];

export function timelineList(t: CaseTimeline): string {
  return `<ol class="timeline">${t.events.map((e) => `<li><strong>${h(fmtDate(e.at))}</strong>: ${h(e.text)}${e.by ? ` <span class="hint">(${h(e.by)})</span>` : ''}</li>`).join('')}</ol>`;
}

function questionsAndAnswers(c: CaseDetail): string {
  return c.questions.map((q, i) => `<div class="qa"><h3>Question ${i + 1}${q.askedBy ? ` <span class="hint">asked by ${h(q.askedBy.replace('-', ' '))}</span>` : ''}</h3><p>${h(q.text)}</p>`
    + (c.answers.has(q.linkId) ? `<h4>Answer</h4><p>${h(c.answers.get(q.linkId))}</p>` : '') + '</div>').join('');
}

function requesterActions(c: CaseDetail, csrf: string, links: FamilyLink[], newLink?: string): string {
  const base = `/app/cases/${c.taskId}`;
  const out: string[] = [];
  if (['requested', 'received', 'accepted'].includes(c.status)) {
    out.push(form(`${base}/cancel`, csrf, '<h3>Cancel the request</h3><label for="cancelReason">Why</label><input type="text" id="cancelReason" name="reason"><button type="submit" class="warning">Cancel the request</button>'));
  }
  if (c.consent?.status === 'active') out.push(form(`${base}/withdraw-consent`, csrf, '<h3>Consent</h3><p>Withdrawing stops the provider seeing the records at once.</p><button type="submit" class="warning">Withdraw consent to share records</button>'));
  if (c.status === 'completed' && !c.sharedWithFamily) out.push(form(`${base}/discussed`, csrf, '<h3>The family</h3><button type="submit">Record that the opinion was discussed with the family</button>'));
  const list = links.map((l) => `<li>Link made ${h(fmtDate(l.createdAt))}, expires ${h(fmtDate(l.expiresAt))} ${form(`${base}/family-links/revoke`, csrf, `<input type="hidden" name="link" value="${h(l.hash)}"><button type="submit" class="secondary">Revoke this link</button>`)}</li>`).join('');
  out.push(`<section><h3>Family link</h3>${newLink ? `<div class="ok" role="status"><p>Give this link to the family (it is shown only now). They will need the child's date of birth.</p><p class="copy">${h(newLink)}</p></div>` : ''}`
    + `${list ? `<ul>${list}</ul>` : '<p>No family link yet.</p>'}${form(`${base}/family-links`, csrf, '<button type="submit">Create a family link</button>')}</section>`);
  return out.join('');
}

function providerActions(c: CaseDetail, csrf: string, overseas: boolean): string {
  const base = `/app/cases/${c.taskId}`;
  const out: string[] = [];
  if (c.status === 'requested') out.push(form(`${base}/receive`, csrf, '<button type="submit">Mark as received</button>'));
  if (c.status === 'requested' || c.status === 'received') {
    out.push(form(`${base}/accept`, csrf, `<fieldset><legend>Accept, with the independence declaration</legend>
<div class="check"><input type="checkbox" id="independent" name="independent" value="1"><label for="independent">We are independent of the treating team (a separate Trust or Health Board)</label></div>
<div class="check"><input type="checkbox" id="noConflict" name="noConflict" value="1"><label for="noConflict">We have no conflict of interest</label></div>
<label for="professionalBody">Professional body</label><input type="text" id="professionalBody" name="professionalBody">
<label for="legalEthical">Where law or ethical norms differ from the UK${overseas ? ' (required: your organisation is outside the UK)' : ' (providers outside the UK)'}</label><textarea id="legalEthical" name="legalEthical"></textarea>
<button type="submit">Accept the request</button></fieldset>`));
  }
  if (['requested', 'received', 'accepted'].includes(c.status)) {
    out.push(form(`${base}/decline`, csrf, '<fieldset><legend>Decline</legend><label for="declineReason">Reason</label><textarea id="declineReason" name="reason" required></textarea><button type="submit" class="warning">Decline the request</button></fieldset>'));
  }
  if (['accepted', 'in-progress', 'on-hold'].includes(c.status)) {
    const opts = Object.keys(PROGRESS).map((k) => `<option value="${k}">${h(k.replace('-', ' '))}</option>`).join('');
    out.push(form(`${base}/progress`, csrf, `<fieldset><legend>Progress</legend><label for="step">Step</label><select id="step" name="step">${opts}</select><button type="submit">Record progress</button></fieldset>`));
  }
  if (c.status === 'in-progress') {
    const answers = c.questions.map((q, i) => `<label for="answer-${h(q.linkId)}">Answer to question ${i + 1}<span class="hint">${h(q.text)}</span></label><textarea id="answer-${h(q.linkId)}" name="answer-${h(q.linkId)}" required></textarea>`).join('');
    out.push(form(`${base}/report`, csrf, `<fieldset><legend>The report</legend>${answers}<label for="plainSummary">Summary for the family, in plain words</label><textarea id="plainSummary" name="summary" required></textarea><button type="submit">Issue the report</button></fieldset>`));
  }
  return out.join('');
}

export interface CasePageInput {
  c: CaseDetail;
  timeline: CaseTimeline;
  csrf: string;
  writeBlock?: string;
  notice?: string;
  links: FamilyLink[];
  newLink?: string;
  overseas: boolean;
}

export function casePage(p: CasePageInput): string {
  const { c } = p;
  const actions = p.writeBlock ? `<p class="message" role="alert">${h(p.writeBlock)}</p>`
    : c.side === 'requester' ? requesterActions(c, p.csrf, p.links, p.newLink) : c.side === 'provider' ? providerActions(c, p.csrf, p.overseas) : '';
  const records = c.records.length
    ? `<ul>${c.records.map((r) => `<li><a href="/app/cases/${h(c.taskId)}/records/${h(r.id)}">${h(r.title)}</a></li>`).join('')}</ul>`
    : '<p>No records shared (or none the consent covers).</p>';
  return `${p.notice ? `<div class="ok" role="status"><p>${h(p.notice)}</p></div>` : ''}
<dl><dt>Child</dt><dd>${h(c.child)}</dd><dt>Status</dt><dd>${h(c.step ?? c.status)} ${statusTags(c)}</dd>
<dt>Due</dt><dd>${c.due ? h(fmtDate(c.due)) : 'no due date'}${c.overdue ? ' (overdue)' : ''}</dd>
<dt>Requested by</dt><dd>${h(c.requester)}</dd><dt>Provider</dt><dd>${h(c.provider)}</dd>
${c.advocate ? `<dt>Family advocate</dt><dd>${h(c.advocate)}</dd>` : ''}
<dt>Consent</dt><dd>${c.consent ? h(c.consent.status) : 'none recorded'}</dd></dl>
${c.reason ? `<h2>Reason</h2><p>${h(c.reason)}</p>` : ''}${c.clinicalSummary ? `<h2>Clinical summary</h2><p>${h(c.clinicalSummary)}</p>` : ''}
${c.familyStatement ? `<h2>The family's statement</h2><blockquote><p>${h(c.familyStatement)}</p></blockquote>` : ''}
<h2>Questions${c.answers.size ? ' and answers' : ''}</h2>${questionsAndAnswers(c)}
${c.report?.conclusion ? `<h2>Summary for the family</h2><p>${h(c.report.conclusion)}</p>` : ''}
<h2>Records</h2>${records}
<h2>Timeline</h2>${timelineList(p.timeline)}
${OPEN.includes(c.status) || c.side === 'requester' ? `<h2>What you can do</h2><div class="actions">${actions}</div>` : ''}
<p><a href="/app">Back</a></p>`;
}
