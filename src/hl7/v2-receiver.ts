/**
 * The HL7 v2 way in: one message text in, its acknowledgement(s) out. Used by the MLLP listener
 * and by POST /hl7/v2. The checks run as a visible pipeline, each stating its rule; AA is sent
 * only after submitEsoRequest has committed, and a repeated MSH-10 gets the stored ACK back.
 * @see HL7 v2.5.1 section 2.9 (acknowledgment modes), 2.10 (duplicates), mappings/README.md
 */
import type { MllpPeer } from '../auth/mllp-binding.ts';
import type { Actor, SubmitEsoRequest } from '../domain/ports.ts';
import { isOutcomeError } from '../shared/outcomes.ts';
import type { Storage } from '../storage/types.ts';
import { buildAck, newControlId, type AckCode, type AckError, type AckIdentity } from './ack.ts';
import { DEFAULT_SEPARATORS, escapeEr7, readHeader, unescapeEr7, type ReceivedHeader, type Separators } from './er7.ts';
import { silentLogger, type Hl7Logger } from './hl7-logger.ts';
import { locateTarget } from './mapping-engine.ts';
import { refI12ToRequest } from './ref-i12-to-request.ts';
import { V2Message, V2ParseError } from './v2-message.ts';

/** Versions the REF^I12 mapping is written for. */
export const SUPPORTED_VERSIONS = ['2.3', '2.3.1', '2.4', '2.5', '2.5.1'];
/** Key table scope for stored ACKs: key `<MSH-4>|<MSH-10>`. */
export const ACK_KEY_SCOPE = 'hl7-ack';

export interface V2ReceiverOptions {
  storage: Pick<Storage, 'transaction' | 'getKey'>;
  submit: SubmitEsoRequest;
  /**
   * Whether the connection speaks for the organisation MSH-4 names (one of its client entries lists
   * the source address or the verified certificate). Asked for every message without a token.
   */
  admitsConnection: (ods: string, connection: MllpPeer | undefined) => boolean | Promise<boolean>;
  /** Extra narrowing of who may send without a token (MLLP_ALLOWED_SENDERS), after the connection is admitted. */
  isSenderAllowed: (ods: string) => boolean | Promise<boolean>;
  /** Told of each sender refused over MLLP (for the AuditEvent); a failure answers AE instead of AR. */
  onRefused?: (refusal: SenderRefusal) => void | Promise<void>;
  /** Our MSH-3/MSH-4 in ACKs. */
  facility: AckIdentity;
  /** MSH-11.1 values accepted; default ['P']. */
  acceptProcessingIds?: string[];
  /** Zone of timestamps sent without an offset; default Europe/London. */
  timeZone?: string;
  /** How long a stored ACK answers duplicates; default 30 days. */
  ackRetentionDays?: number;
  logger?: Hl7Logger;
  now?: () => Date;
  newControlId?: () => string;
}

export interface HandleOptions {
  /** The organisation a bearer token acts for (HTTP): MSH-4 must equal it. */
  authenticatedOrg?: string;
  /** Agent for Provenance/AuditEvent: the client id over HTTP; default 'mllp' (or 'hl7-http' with a token). */
  agent?: string;
  /** The MLLP connection the message came on: without a token, it must be admitted for MSH-4. */
  connection?: MllpPeer;
}

/** A message refused because its connection may not speak for MSH-4 (or MLLP_ALLOWED_SENDERS leaves it out). */
export interface SenderRefusal {
  /** MSH-4 as sent (upper case): who the message claimed to come from. */
  sender: string;
  /** MSH-10. */
  controlId: string;
  reason: 'connection-not-registered' | 'sender-not-allowed';
  connection?: MllpPeer;
}

export interface V2Receiver {
  /** One acknowledgement in original mode (AA/AE/AR): what POST /hl7/v2 returns. */
  handle(text: string, opts?: HandleOptions): Promise<string>;
  /** What to send back over MLLP, in order: the ACK, or in enhanced mode CA/CR/CE then the application ACK; none for an incoming ACK. */
  handleFrames(text: string, opts?: HandleOptions): Promise<string[]>;
  /** AR (or CR) for a message refused for its size; `head` is its first bytes, for the header. */
  rejectOversize(head: string, maxBytes: number): string;
}

type Outcome = { code: 'AA' | 'AE' | 'AR'; errors: AckError[]; internal?: boolean; ack?: string };

/** Creates the receiver. */
export function createV2Receiver(o: V2ReceiverOptions): V2Receiver {
  const log = o.logger ?? silentLogger;
  const processingIds = (o.acceptProcessingIds ?? ['P']).map((p) => p.toUpperCase());
  const ackOf = (received: ReceivedHeader | undefined, code: AckCode, errors: AckError[], enhanced: boolean) =>
    buildAck({ received: inOurSeparators(received), code, errors, ours: o.facility, enhanced, now: o.now?.(), controlId: (o.newControlId ?? newControlId)() });
  const ar = (code: number, text: string, field?: number, component?: number): Outcome => ({
    code: 'AR',
    errors: [{ code, text, location: field === undefined ? undefined : { segment: 'MSH', sequence: 1, field, component } }],
  });

  /** Header rules, in order; the first that fails answers AR (HL7 2.9.2: rejected without processing). */
  async function checkHeader(h: ReceivedHeader, opts: HandleOptions): Promise<Outcome | undefined> {
    // Only the versions the mapping was written for.
    const version = h.get(12) ?? '';
    if (!SUPPORTED_VERSIONS.includes(version)) return ar(203, `Version '${version}' is not supported (${SUPPORTED_VERSIONS.join(', ')})`, 12);
    // Only REF^I12 is a way in.
    if ((h.get(9, 1) ?? '').toUpperCase() !== 'REF') return ar(200, `Message type '${h.get(9, 1) ?? ''}' is not supported (REF)`, 9, 1);
    if ((h.get(9, 2) ?? '').toUpperCase() !== 'I12') return ar(201, `Event '${h.get(9, 2) ?? ''}' is not supported (I12)`, 9, 2);
    // Production messages only, unless training/debug ids are configured.
    const pid = (h.get(11) ?? '').toUpperCase();
    if (!processingIds.includes(pid)) return ar(202, `Processing id '${pid}' is not accepted (${processingIds.join(', ')})`, 11);
    // MSH-10 keys duplicates and MSA-2.
    if (!h.get(10)) return ar(101, 'MSH-10 (message control id) is required', 10);
    // MSH-4 is who is asking: the requesting organisation.
    const sender = h.get(4);
    if (!sender) return ar(101, 'MSH-4 (sending facility) is required: the requesting organisation ODS code', 4);
    // With a token, the message must come from the token's own organisation.
    if (opts.authenticatedOrg !== undefined && sender.toUpperCase() !== opts.authenticatedOrg.toUpperCase()) {
      return ar(207, `Sending facility '${sender}' is not the organisation of the access token`, 4);
    }
    if (opts.authenticatedOrg !== undefined) return undefined;
    // Without a token (MLLP), MSH-4 proves nothing: the connection must be one its client entries admit.
    const ods = sender.toUpperCase();
    const refuse = async (reason: SenderRefusal['reason'], text: string) => {
      log.warn({ controlId: h.get(10), sender, peer: opts.connection?.remoteAddress, reason }, 'hl7 sender refused');
      await o.onRefused?.({ sender: ods, controlId: h.get(10)!, reason, connection: opts.connection });
      return ar(207, text, 4);
    };
    if (!(await o.admitsConnection(ods, opts.connection))) {
      return refuse('connection-not-registered', `This connection is not registered for sending facility '${sender}'`);
    }
    // MLLP_ALLOWED_SENDERS narrows further.
    if (!(await o.isSenderAllowed(ods))) return refuse('sender-not-allowed', `Sending facility '${sender}' may not send on this interface`);
    return undefined;
  }

  async function process(h: ReceivedHeader, text: string, opts: HandleOptions, enhanced: boolean): Promise<Outcome> {
    const rejected = await checkHeader(h, opts);
    if (rejected) return rejected;
    // U+0000 is never HL7 data (binary content travels encoded), and PostgreSQL text cannot hold it.
    if (text.includes('\u0000')) return { code: 'AR', errors: [{ code: 102, text: 'The message contains a NUL character' }] };
    const sender = h.get(4)!.toUpperCase();
    const key = `${sender}|${h.get(10)}`;
    // A repeated MSH-10 from the same sender gets the same ACK and creates nothing.
    const stored = await o.storage.getKey(ACK_KEY_SCOPE, key);
    if (stored !== null) return { code: 'AA', errors: [], ack: stored };

    let msg: V2Message;
    try {
      msg = V2Message.parse(text);
    } catch (e) {
      if (e instanceof V2ParseError) return { code: 'AE', errors: [{ code: e.code, text: e.message, location: e.location }] };
      throw e;
    }
    const mapped = refI12ToRequest(msg, { timeZone: o.timeZone });
    if (!mapped.ok) return { code: 'AE', errors: mapped.issues };

    const actor: Actor = { organization: sender, agent: opts.agent ?? (opts.authenticatedOrg === undefined ? 'mllp' : 'hl7-http') };
    try {
      await o.submit(mapped.input, actor);
    } catch (e) {
      if (isOutcomeError(e) && e.status < 500) {
        return {
          code: 'AE',
          errors: e.outcome.issue.map((i) => {
            const expression = i.expression?.[0]?.replace(/^(EsoRequestInput\.|\$\.)/, '');
            return { code: issueTo0357(i.code), text: i.diagnostics ?? refusedText(i.code), applicationCode: i.code, location: expression ? locateTarget(mapped.locations, expression) : undefined };
          }),
        };
      }
      throw e;
    }
    // Committed: only now is AA built, then kept for duplicates (a lost race keeps the first ACK).
    const ack = ackOf(h, 'AA', [], enhanced);
    const expiresAt = new Date((o.now?.() ?? new Date()).getTime() + (o.ackRetentionDays ?? 30) * 86_400_000).toISOString();
    try {
      const first = await o.storage.transaction((tx) => tx.putKey(ACK_KEY_SCOPE, key, ack, expiresAt));
      if (!first) return { code: 'AA', errors: [], ack: (await o.storage.getKey(ACK_KEY_SCOPE, key)) ?? ack };
    } catch (e) {
      // The request is committed (and intake is idempotent by requestId): still AA.
      log.warn({ controlId: h.get(10), sender, err: errorName(e) }, 'hl7 ack not stored for duplicate detection');
    }
    return { code: 'AA', errors: [], ack };
  }

  async function run(text: string, opts: HandleOptions): Promise<{ h?: ReceivedHeader; outcome: Outcome; enhanced: boolean }> {
    const started = Date.now();
    const h = readHeader(text);
    if (!h) {
      log.info({ outcome: 'AR' }, 'hl7 message without MSH rejected');
      return { outcome: { code: 'AR', errors: [{ code: 100, text: 'Not an HL7 v2 message: the first segment must be MSH', location: { segment: 'MSH', sequence: 1 } }] }, enhanced: false };
    }
    const enhanced = ['AL', 'ER', 'SU'].includes((h.get(16) ?? '').toUpperCase());
    let outcome: Outcome;
    try {
      outcome = await process(h, text, opts, enhanced);
    } catch (e) {
      log.error({ controlId: h.get(10), sender: h.get(4), err: errorName(e) }, 'hl7 message failed');
      outcome = { code: 'AE', internal: true, errors: [{ code: 207, text: `Application internal error; quote message control id ${h.get(10) ?? ''}`.trim() }] };
    }
    log.info(
      { controlId: h.get(10), type: `${h.get(9, 1) ?? ''}^${h.get(9, 2) ?? ''}`, sender: h.get(4), outcome: outcome.code, errors: outcome.errors.map((e) => e.code), ms: Date.now() - started },
      'hl7 message handled',
    );
    return { h, outcome, enhanced };
  }

  return {
    async handle(text, opts = {}) {
      const { h, outcome, enhanced } = await run(text, opts);
      return outcome.ack ?? ackOf(h, outcome.code, outcome.errors, enhanced);
    },

    async handleFrames(text, opts = {}) {
      // Never acknowledge an acknowledgement: that would loop between two systems.
      if ((readHeader(text)?.get(9, 1) ?? '').toUpperCase() === 'ACK') return [];
      const { h, outcome, enhanced } = await run(text, opts);
      const appAck = outcome.ack ?? ackOf(h, outcome.code, outcome.errors, enhanced);
      if (!enhanced || !h) return [appAck];
      // Enhanced mode (2.9.3): commit ACK per MSH-15, then the application ACK per MSH-16.
      const accept = (h.get(15) ?? 'AL').toUpperCase();
      const app = (h.get(16) ?? '').toUpperCase();
      const commit: AckCode = outcome.code === 'AR' ? 'CR' : outcome.internal ? 'CE' : 'CA';
      const frames: string[] = [];
      if (accept === 'AL' || (accept === 'ER' && commit !== 'CA') || (accept === 'SU' && commit === 'CA')) {
        frames.push(ackOf(h, commit, commit === 'CA' ? [] : outcome.errors, true));
      }
      // A message not committed (CR/CE) gets no application ACK: it was never processed.
      if (commit === 'CA' && (app === 'AL' || (app === 'ER' && outcome.code !== 'AA') || (app === 'SU' && outcome.code === 'AA'))) frames.push(appAck);
      return frames;
    },

    rejectOversize(head, maxBytes) {
      const h = readHeader(head);
      const enhanced = ['AL', 'ER', 'SU'].includes((h?.get(16) ?? '').toUpperCase());
      log.warn({ controlId: h?.get(10), sender: h?.get(4), maxBytes, outcome: enhanced ? 'CR' : 'AR' }, 'hl7 message over the size limit');
      return ackOf(h, enhanced ? 'CR' : 'AR', [{ code: 207, text: `The message exceeds the maximum size of ${maxBytes} bytes` }], enhanced);
    },
  };
}

/**
 * The header as if it had been sent with our separators, for the ACK that echoes its fields: a
 * sender's own delimiters leave its values unescaped where ours are delimiters (a `|` in MSH-3
 * under `#^~\\&` would otherwise add fields to the ACK's MSH).
 */
function inOurSeparators(h: ReceivedHeader | undefined): ReceivedHeader | undefined {
  const chars = (s: Separators) => `${s.field}${s.component}${s.repetition}${s.escape}${s.subComponent}`;
  if (!h || chars(h.separators) === chars(DEFAULT_SEPARATORS)) return h;
  const raw = h.raw.map((f) => f?.map((rep) => rep.map((component) => component.map((leaf) => escapeEr7(unescapeEr7(leaf, h.separators))))));
  return { separators: DEFAULT_SEPARATORS, raw, get: h.get };
}

/** FHIR issue type → table 0357. */
function issueTo0357(code: string): number {
  switch (code) {
    case 'required': return 101;
    case 'value':
    case 'invalid':
    case 'structure': return 102;
    case 'code-invalid': return 103;
    case 'not-found': return 204;
    // Intake answers 409 conflict when another organisation already uses the requestId.
    case 'duplicate':
    case 'conflict': return 205;
    case 'lock-error': return 206;
    default: return 207;
  }
}

function refusedText(code: string): string {
  return `The request was refused (${code})`;
}

/** Only the error's class name is logged: messages may quote data. */
function errorName(e: unknown): string {
  return e instanceof Error ? e.name : typeof e;
}
