/** The timeline in plain words, and its HTML page (escaped). Pure. */
import { describe, expect, it } from 'vitest';
import { escapeHtml, renderTimelineHtml } from '../../../src/domain/timeline/html.ts';
import { describe as say, possessive, type Names } from '../../../src/domain/timeline/wording.ts';

const names: Names = { child: 'Alice', provider: "Northern Children's Trust", specialist: 'Dr Brown', requester: 'Southern Children\'s Hospital' };
const at = '2026-03-04T10:00:00Z';

describe('timeline wording', () => {
  it('when a request is sent, then it names the specialist and the provider', () => {
    expect(say({ kind: 'task', at, status: 'requested', step: 'request-sent' }, names)).toBe("Request sent to Dr Brown at Northern Children's Trust");
    expect(say({ kind: 'task', at, status: 'requested', step: 'request-sent' }, { ...names, specialist: undefined })).toBe("Request sent to Northern Children's Trust");
  });

  it('when the request waits for consent, then the family reads that it waits', () => {
    expect(say({ kind: 'task', at, status: 'requested', step: 'awaiting-consent' }, names)).toContain("waiting for consent to share Alice's records");
  });

  it('when records are shared with consent, then it says from whom', () => {
    expect(say({ kind: 'consent', at, status: 'active', givenBy: "Alice's mother", records: 2 }, names)).toBe("Records shared with consent from Alice's mother");
    expect(say({ kind: 'consent', at, status: 'active', givenBy: 'Alice (the young person)', records: 0 }, names))
      .toBe("Alice (the young person) gave consent to share Alice's records with Northern Children's Trust");
  });

  it('when consent is withdrawn, then it says sharing stopped', () => {
    expect(say({ kind: 'consent', at, status: 'inactive', previousStatus: 'active', givenBy: "Alice's mother", records: 2 }, names))
      .toBe("Consent withdrawn: Alice's records are no longer shared with Northern Children's Trust");
  });

  it('when the treating team amends its request, then it says what changed, and nothing when only the status followed the Task', () => {
    expect(say({ kind: 'request', at, changed: ['questions'] }, names)).toBe("Southern Children's Hospital updated the request: the questions");
    expect(say({ kind: 'request', at, changed: ['questions', 'family statement', 'urgency'] }, names))
      .toBe("Southern Children's Hospital updated the request: the questions, the family statement and the urgency");
    expect(say({ kind: 'request', at, changed: [] }, names)).toBeUndefined();
  });

  it('when the opinion arrives, then it reads "Opinion received"', () => {
    expect(say({ kind: 'task', at, status: 'completed', previousStatus: 'in-progress', step: 'report-issued', previousStep: 'records-review' }, names)).toBe('Opinion received');
  });

  it('when a case is declined or withdrawn, then the reason follows', () => {
    expect(say({ kind: 'task', at, status: 'rejected', previousStatus: 'received', reason: 'Not our specialty' }, names))
      .toBe("Northern Children's Trust declined to give a second opinion. Reason: Not our specialty");
    expect(say({ kind: 'task', at, status: 'cancelled', previousStatus: 'requested' }, names)).toBe('The request for a second opinion was withdrawn');
  });

  it('when only an internal field changes, then nothing is said', () => {
    expect(say({ kind: 'task', at, status: 'in-progress', previousStatus: 'in-progress', step: 'records-review', previousStep: 'records-review' }, names)).toBeUndefined();
  });

  it('when a transfer is offered, then it says care stays unless both teams and the family agree', () => {
    expect(say({ kind: 'transfer', at, status: 'requested' }, names)).toBe(
      "Northern Children's Trust offered to take over Alice's care. Care stays with Southern Children's Hospital unless both teams agree and the family consents");
  });

  it('when a name ends in s, then the possessive is an apostrophe alone', () => {
    expect(possessive('James')).toBe("James'");
    expect(possessive('Alice')).toBe("Alice's");
  });
});

describe('timeline HTML', () => {
  it('when text holds markup, then the page shows it as text', () => {
    expect(escapeHtml(`<script>alert("x")</script> & 'y'`)).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;');
    const page = renderTimelineHtml({ task: '1', child: '<b>Al</b>', provider: 'P', requester: 'R', events: [{ at, text: 'Reason: <img src=x onerror=alert(1)>', by: '<i>Org</i>' }] });
    expect(page).not.toContain('<img');
    expect(page).not.toContain('<b>Al</b>');
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(page).toContain('4 March 2026');
  });
});
