/**
 * The timeline in words a family understands (docs/DESIGN.md "Transparency: the family is kept
 * informed at every step"). Pure: facts in, sentences out; no FHIR jargon, no codes.
 */

/** Who is who in a case, as people would say it. */
export interface Names {
  /** The child's first name (or full name). */
  child: string;
  /** The provider organisation's name. */
  provider: string;
  /** "Dr Brown", when a specialist is named. */
  specialist?: string;
  /** The treating (requesting) organisation's name. */
  requester: string;
}

export type Fact =
  | { kind: 'task'; at: string; status: string; step?: string; previousStatus?: string; previousStep?: string; reason?: string }
  | { kind: 'consent'; at: string; status: string; previousStatus?: string; givenBy: string; records: number }
  | { kind: 'report-shared'; at: string }
  /** The requester amended its request: what changed, in plain words ("questions", "family statement"). */
  | { kind: 'request'; at: string; changed: string[] }
  | { kind: 'transfer'; at: string; status: string; previousStatus?: string };

/** "Dr Brown at Northern Children's Trust", or the organisation alone. */
export function providerPhrase(n: Names): string {
  return n.specialist ? `${n.specialist} at ${n.provider}` : n.provider;
}

/** "Alice's" (and "James'" for names ending in s). */
export function possessive(name: string): string {
  return name.endsWith('s') ? `${name}'` : `${name}'s`;
}

/** What a v2 table 0063 relationship is called in a sentence ("Alice's mother"). */
export function relationWord(code: string | undefined): string {
  const words: Record<string, string> = { MTH: 'mother', FTH: 'father', PAR: 'parent', GRD: 'guardian', GRP: 'grandparent', CGV: 'carer' };
  return (code && words[code]) ?? 'parent or carer';
}

function stepWords(step: string | undefined, n: Names): string | undefined {
  switch (step) {
    case 'records-shared': return `${possessive(n.child)} records were shared with ${n.provider}`;
    case 'visit-scheduled': return `A visit to see ${n.child} has been arranged`;
    case 'outpatient-scheduled': return `An outpatient appointment for ${n.child} has been arranged`;
    case 'records-review': return `The specialists are reviewing ${possessive(n.child)} records`;
    case 'report-issued': return 'Opinion received';
    case 'discussed-with-family': return 'The treating team went through the opinion with the family';
    case 'request-sent': return `Request sent to ${providerPhrase(n)}`;
    case 'cancel-requested': return `The treating team asked ${n.provider} to cancel the request; it is cancelled when ${n.provider} confirms`;
    case 'awaiting-consent': return `The request is waiting for consent to share ${possessive(n.child)} records`;
    default: return undefined;
  }
}

function statusWords(f: Extract<Fact, { kind: 'task' }>, n: Names): string | undefined {
  switch (f.status) {
    case 'requested': return f.step === 'awaiting-consent'
      ? `Request for a second opinion from ${providerPhrase(n)} prepared; it is waiting for consent to share ${possessive(n.child)} records`
      : `Request sent to ${providerPhrase(n)}`;
    case 'received': return `${n.provider} received the request`;
    case 'accepted': return `${n.provider} agreed to give a second opinion, and declared that they are independent of ${possessive(n.child)} team`;
    case 'in-progress': {
      if (f.previousStatus === 'on-hold') return 'Work on the second opinion started again';
      const step = stepWords(f.step, n);
      return step && f.step !== 'accepted' ? `Work on the second opinion started. ${step}` : 'Work on the second opinion started';
    }
    case 'on-hold': return 'Work on the second opinion is paused';
    case 'completed': return f.step === 'discussed-with-family' ? 'Opinion received and discussed with the family' : 'Opinion received';
    case 'rejected': return `${n.provider} declined to give a second opinion`;
    case 'cancelled': return 'The request for a second opinion was withdrawn';
    case 'failed': return 'The second opinion could not be completed';
    default: return undefined;
  }
}

const withReason = (text: string, reason: string | undefined) => (reason?.trim() ? `${text}. Reason: ${reason.trim()}` : text);

/** The sentence for one fact, or undefined when the change is not one a family needs to hear about. */
export function describe(f: Fact, n: Names): string | undefined {
  switch (f.kind) {
    case 'task': {
      if (f.status !== f.previousStatus) {
        const text = statusWords(f, n);
        return text && withReason(text, ['rejected', 'cancelled', 'failed', 'on-hold'].includes(f.status) ? f.reason : undefined);
      }
      return f.step !== f.previousStep ? stepWords(f.step, n) : undefined;
    }
    case 'consent': {
      if (f.status === f.previousStatus) return undefined;
      if (f.status === 'active') {
        return f.records > 0
          ? `Records shared with consent from ${f.givenBy}`
          : `${capitalise(f.givenBy)} gave consent to share ${possessive(n.child)} records with ${n.provider}`;
      }
      if (f.status === 'inactive' && f.previousStatus === 'active') return `Consent withdrawn: ${possessive(n.child)} records are no longer shared with ${n.provider}`;
      return undefined;
    }
    case 'report-shared': return 'The opinion was shared with the family';
    case 'request': return f.changed.length ? `${n.requester} updated the request: ${listWords(f.changed)}` : undefined;
    case 'transfer':
      if (f.status === f.previousStatus) return undefined;
      switch (f.status) {
        case 'requested': return `${n.provider} offered to take over ${possessive(n.child)} care. Care stays with ${n.requester} unless both teams agree and the family consents`;
        case 'accepted': return `Both teams and the family agreed that ${possessive(n.child)} care moves to ${n.provider}`;
        case 'completed': return `${possessive(n.child)} care moved to ${n.provider}`;
        case 'rejected': return `The offer to take over ${possessive(n.child)} care was declined; care stays with ${n.requester}`;
        case 'cancelled': return `${n.provider} withdrew the offer to take over ${possessive(n.child)} care`;
        default: return undefined;
      }
  }
}

/** "the questions and the reason" */
function listWords(parts: string[]): string {
  const words = parts.map((p) => `the ${p}`);
  return words.length > 1 ? `${words.slice(0, -1).join(', ')} and ${words.at(-1)}` : words[0];
}

function capitalise(s: string): string {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}
