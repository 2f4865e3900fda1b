/**
 * The family's page: large type, plain words, readable on a phone. Nothing about the case shows until the
 * child's date of birth is given. Says that care stays with the treating Trust and that no treatment waits.
 */
import type { CaseTimeline } from '../../domain/timeline/build.ts';
import type { CaseDetail } from '../case-view.ts';
import { fmtDate, h, page } from './layout.ts';

const REASSURANCE = '<div class="notice"><p>Your child\'s care stays with their own hospital team. No treatment waits for this second opinion: if your child needs treatment, they will get it.</p></div>';

export function familyDobPage(capability: string, problem?: string): string {
  return page({ title: 'Your child\'s second opinion', family: true }, `${REASSURANCE}
${problem ? `<p class="message" role="alert">${h(problem)}</p>` : ''}
<form method="post" action="/family"><input type="hidden" name="link" value="${h(capability)}"><label for="dob">Your child's date of birth<span class="hint">For example 27 March 2016</span></label>
<input type="date" id="dob" name="dob" required autocomplete="off"><button type="submit">Show the page</button></form>`);
}

export function familyClosedPage(): string {
  return page({ title: 'This link does not work', family: true }, `<p class="message">This link has expired or been switched off. Please ask your child's hospital team for a new one.</p>${REASSURANCE}`);
}

export function familyLockedPage(minutes: number): string {
  return page({ title: 'Please try again later', family: true }, `<p class="message">The date of birth did not match too many times. For safety, please try again in ${minutes} minutes, or ask your child's hospital team.</p>${REASSURANCE}`);
}

const NEXT: Record<string, string> = {
  requested: 'The other hospital team will look at the request and say whether they can give an opinion.',
  received: 'The other hospital team has the request and will decide soon whether they can give an opinion.',
  accepted: 'The other hospital team has agreed to give an opinion. They will look at your child\'s records.',
  'in-progress': 'The other hospital team is working on their opinion.',
  'on-hold': 'The other hospital team has paused their work for now. Your child\'s team will tell you more.',
  completed: 'The opinion is ready. Your child\'s team will talk it through with you.',
  rejected: 'The other hospital team could not give an opinion. Your child\'s team will talk to you about what to do next.',
  cancelled: 'The request was stopped. Your child\'s team can tell you more.',
};

export function familyCasePage(c: CaseDetail, t: CaseTimeline): string {
  const answers = c.sharedWithFamily && c.answers.size
    ? `<h2>What the other team said</h2>${c.report?.conclusion ? `<p>${h(c.report.conclusion)}</p>` : ''}${c.questions.map((q) => `<div class="qa"><h3>${h(q.text)}</h3><p>${h(c.answers.get(q.linkId) ?? '')}</p></div>`).join('')}`
    : '';
  return page({ title: `Second opinion for ${c.child}`, family: true }, `${REASSURANCE}
<h2>What happens next</h2><p>${h(NEXT[c.status] ?? '')}</p>
${c.due && !['completed', 'rejected', 'cancelled', 'failed'].includes(c.status) ? `<p>The opinion is due by <strong>${h(fmtDate(c.due))}</strong>.</p>` : ''}
<h2>Who to contact</h2><p>${c.advocate ? `${h(c.advocate)}, your family's contact in the hospital team at ${h(c.requester)}.` : `Your child's hospital team at ${h(c.requester)}.`}</p>
${answers}
<h2>What has happened so far</h2><ol class="timeline">${t.events.map((e) => `<li><strong>${h(fmtDate(e.at))}</strong>: ${h(e.text)}</li>`).join('')}</ol>`);
}
