/**
 * The HL7 v2 way in: one message text in, its acknowledgement(s) out. Used by the MLLP listener
 * and by POST /hl7/v2. The checks run as a visible pipeline, each stating its rule; AA is sent
 * only after submitEsoRequest has committed, and a repeated MSH-10 gets the stored ACK back.
 * @see HL7 v2.5.1 section 2.9 (acknowledgment modes), 2.10 (duplicates), mappings/README.md
 */
import type { MllpPeer } from '../auth/mllp-binding.ts';
import type { Actor, AmendEsoRequest, CancelEsoRequest, SubmitEsoRequest } from '../domain/ports.ts';
import { isOutcomeError } from '../shared/outcomes.ts';
import type { Storage } from '../storage/types.ts';
import { buildAck, inOurSeparators, issueTo0357, newControlId, refusedText, type AckCode, type AckError, type AckIdentity } from './ack.ts';
import { buildBatchAck, looksLikeBatch, splitBatch } from './batch.ts';
import type { Charset } from './charset.ts';
import { refI14ToCancel } from './ref-i14-to-cancel.ts';
import type { V2Location } from './v2-message.ts';
import { readHeader, type ReceivedHeader } from './er7.ts';
import { silentLogger, type Hl7Logger } from './hl7-logger.ts';
import { locateTarget } from './mapping-engine.ts';
import { refI12ToRequest } from './ref-i12-to-request.ts';
import { decodeInput, separatorsMissing, type DecodeProblem } from './receive-text.ts';
import { V2Message, V2ParseError } from './v2-message.ts';

/**
 * Versions accepted: 2.3 to 2.8. The segments and fields the mapping reads are the same in all of
 * them; fields and segments later versions added are ignored (mappings/README.md, "Versions").
 */
export const SUPPORTED_VERSIONS = ['2.3', '2.3.1', '2.4', '2.5', '2.5.1', '2.6', '2.7', '2.7.1', '2.8', '2.8.1', '2.8.2'];
/** Trigger events of REF accepted: I12 (new referral), I13 (modify), I14 (cancel). */
export const SUPPORTED_EVENTS = ['I12', 'I13', 'I14'];
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
  /** Amends (REF^I13) and cancels (REF^I14) the requester's case; without it those events get AR 201. */
  amend?: AmendEsoRequest;
  cancel?: CancelEsoRequest;
  /**
   * Senders (MSH-4 ODS codes) acknowledged as before HL7 v2.5.1 §2.9 was followed: enhanced mode
   * only when MSH-16 is AL, ER or SU, original mode otherwise (HL7_LEGACY_ACK_SENDERS).
   */
  legacyAckSenders?: ReadonlySet<string>;
  /** The same, per sender from its client entries (`"mllp": {"ack_mode": "legacy"}`): asked for each message's MSH-4. */
  legacyAck?: (ods: string) => boolean | Promise<boolean>;
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
  /** The character set the transport declares (the HTTP Content-Type `charset`): wins over MSH-18. */
  charset?: string;
}

/** A message as it arrived: bytes (decoded here, by MSH-18) or text already decoded. */
export type V2Input = string | Buffer;

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
  handle(input: V2Input, opts?: HandleOptions): Promise<string>;
  /** What to send back over MLLP, in order: the ACK, or in enhanced mode CA/CR/CE then the application ACK; none for an incoming ACK. */
  handleFrames(input: V2Input, opts?: HandleOptions): Promise<string[]>;
  /** AR (or CR) for a message refused for its size; `head` is its first bytes, for the header. */
  rejectOversize(head: string, maxBytes: number): string;
}

type Outcome = { code: 'AA' | 'AE' | 'AR'; errors: AckError[]; internal?: boolean; ack?: string };

/** Creates the receiver. */
export function createV2Receiver(o: V2ReceiverOptions): V2Receiver {
  const log = o.logger ?? silentLogger;
  const processingIds = (o.acceptProcessingIds ?? ['P']).map((p) => p.toUpperCase());
  const legacy = new Set([...(o.legacyAckSenders ?? [])].map((s) => s.toUpperCase()));
  // Client entries asking for the earlier rule, as last seen: an oversize message is answered before any lookup.
  const legacyByEntry = new Map<string, boolean>();
  /** Looks up (and remembers) whether MSH-4's client entries ask for the earlier rule. */
  async function learnLegacy(h: ReceivedHeader): Promise<void> {
    const ods = (h.get(4) ?? '').toUpperCase();
    if (!o.legacyAck || !ods || legacy.has(ods)) return;
    try {
      if (await o.legacyAck(ods)) legacyByEntry.set(ods, true);
      else legacyByEntry.delete(ods);
    } catch (e) {
      // The clients file could not be read: keep what was last seen (the message is still answered).
      log.warn({ sender: ods, err: errorName(e) }, 'hl7 ack mode of sender not looked up');
    }
  }
  const ackOf = (received: ReceivedHeader | undefined, code: AckCode, errors: AckError[], enhanced: boolean) =>
    buildAck({ received: inOurSeparators(received), code, errors, ours: o.facility, enhanced, now: o.now?.(), controlId: (o.newControlId ?? newControlId)() });
  const ar = (code: number, text: string, field?: number, component?: number): Outcome => ({
    code: 'AR',
    errors: [{ code, text, location: field === undefined ? undefined : { segment: 'MSH', sequence: 1, field, component } }],
  });
  const events = () => SUPPORTED_EVENTS.filter((e) => e === 'I12' || (e === 'I13' && o.amend) || (e === 'I14' && o.cancel));

  /**
   * HL7 v2.5.1 §2.9: original mode only when MSH-15 and MSH-16 are both empty; any value in
   * either asks for enhanced mode. A sender listed in legacyAckSenders keeps the earlier rule.
   */
  function isEnhanced(h: ReceivedHeader | undefined): boolean {
    if (!h) return false;
    const accept = (h.get(15) ?? '').trim().toUpperCase();
    const app = (h.get(16) ?? '').trim().toUpperCase();
    const ods = (h.get(4) ?? '').toUpperCase();
    if (legacy.has(ods) || legacyByEntry.has(ods)) return ['AL', 'ER', 'SU'].includes(app);
    return accept !== '' || app !== '';
  }

  /** Header rules, in order; the first that fails answers AR (HL7 2.9.2: rejected without processing). */
  async function checkHeader(h: ReceivedHeader, opts: HandleOptions): Promise<Outcome | undefined> {
    // Only the versions the mapping was written for.
    const version = h.get(12) ?? '';
    if (!SUPPORTED_VERSIONS.includes(version)) return ar(203, `Version '${version}' is not supported (2.3 to 2.8: ${SUPPORTED_VERSIONS.join(', ')})`, 12);
    // Only REF^I12 (and I13/I14 when amend/cancel are wired) is a way in.
    if ((h.get(9, 1) ?? '').toUpperCase() !== 'REF') return ar(200, `Message type '${h.get(9, 1) ?? ''}' is not supported (REF)`, 9, 1);
    const event = (h.get(9, 2) ?? '').toUpperCase();
    if (!events().includes(event)) return ar(201, `Event '${h.get(9, 2) ?? ''}' is not supported (${events().join(', ')})`, 9, 2);
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

  /** The domain's refusal as ERR segments pointing at the v2 fields the refused values came from. */
  function refusal(e: unknown, locations: Map<string, V2Location>): Outcome | undefined {
    if (!isOutcomeError(e) || e.status >= 500) return undefined;
    return {
      code: 'AE',
      errors: e.outcome.issue.map((i) => {
        const expression = i.expression?.[0]?.replace(/^(EsoRequestInput\.|\$\.)/, '');
        return { code: issueTo0357(i.code), text: i.diagnostics ?? refusedText(i.code), applicationCode: i.code, location: expression ? locateTarget(locations, expression) : undefined };
      }),
    };
  }

  async function process(h: ReceivedHeader, text: string, opts: HandleOptions, enhanced: boolean, charset: Charset, problem: DecodeProblem | undefined): Promise<Outcome> {
    const rejected = await checkHeader(h, opts);
    if (rejected) return rejected;
    // U+0000 is never HL7 data (binary content travels encoded), and PostgreSQL text cannot hold it.
    if (text.includes('\u0000')) return { code: 'AR', errors: [{ code: 102, text: 'The message contains a NUL character' }] };
    const sender = h.get(4)!.toUpperCase();
    const key = `${sender}|${h.get(10)}`;
    // A repeated MSH-10 from the same sender gets the same ACK and creates nothing.
    const stored = await o.storage.getKey(ACK_KEY_SCOPE, key);
    if (stored !== null) return { code: 'AA', errors: [], ack: stored };
    // Text that could not be read in its character set is refused, never stored damaged.
    if (problem) return { code: 'AE', errors: [problem] };

    const event = (h.get(9, 2) ?? '').toUpperCase();
    const content = readContent(text, charset, event, o.timeZone);
    if (!content.ok) return { code: 'AE', errors: content.errors };
    // Built now, sent only after the commit that holds the message's effect.
    const ack = ackOf(h, 'AA', [], enhanced);
    const expiresAt = new Date((o.now?.() ?? new Date()).getTime() + (o.ackRetentionDays ?? 30) * 86_400_000).toISOString();
    const actor: Actor = { organization: sender, agent: opts.agent ?? (opts.authenticatedOrg === undefined ? 'mllp' : 'hl7-http') };
    if (content.cancel) {
      const ref = content.cancel;
      try {
        await o.cancel!({ ...ref.ref, requesterOds: sender }, actor);
      } catch (e) {
        const r = refusal(e, ref.locations);
        if (r) return r;
        throw e;
      }
    } else {
      const mapped = content.request;
      try {
        if (event === 'I13') await o.amend!(mapped.input, actor);
        else {
          // The AA is kept for duplicates in the intake's own transaction (one commit per referral); it is
          // sent only once that commit returned. A duplicate that raced this one answers the first ACK.
          let first: string | null = null;
          await o.submit(mapped.input, actor, {
            within: async (tx) => {
              if (!(await tx.putKey(ACK_KEY_SCOPE, key, ack, expiresAt))) first = await tx.getKey(ACK_KEY_SCOPE, key);
            },
          });
          return { code: 'AA', errors: [], ack: first ?? ack };
        }
      } catch (e) {
        const r = refusal(e, mapped.locations);
        if (r) return r;
        throw e;
      }
    }
    // Amend and cancel: committed, then the AA is kept for duplicates (a lost race keeps the first ACK).
    try {
      const first = await o.storage.transaction((tx) => tx.putKey(ACK_KEY_SCOPE, key, ack, expiresAt));
      if (!first) return { code: 'AA', errors: [], ack: (await o.storage.getKey(ACK_KEY_SCOPE, key)) ?? ack };
    } catch (e) {
      // The request is committed (and intake is idempotent by requestId): still AA.
      log.warn({ controlId: h.get(10), sender, err: errorName(e) }, 'hl7 ack not stored for duplicate detection');
    }
    return { code: 'AA', errors: [], ack };
  }

  async function run(text: string, opts: HandleOptions, charset: Charset, problem: DecodeProblem | undefined): Promise<{ h?: ReceivedHeader; outcome: Outcome; enhanced: boolean }> {
    const started = Date.now();
    const h = readHeader(text);
    if (!h) {
      log.info({ outcome: 'AR' }, 'hl7 message without MSH rejected');
      return { outcome: { code: 'AR', errors: [{ code: 100, text: 'Not an HL7 v2 message: the first segment must be MSH', location: { segment: 'MSH', sequence: 1 } }] }, enhanced: false };
    }
    await learnLegacy(h);
    const enhanced = isEnhanced(h);
    let outcome: Outcome;
    if (separatorsMissing(text, h)) {
      // Checked before the header rules: without segment separators MSH-12 runs into the next segment.
      outcome = { code: 'AR', errors: [{ code: 100, text: 'The segment separators (carriage returns) are missing: the whole message arrived as one line. Send the file unchanged (curl --data-binary, not --data)', location: { segment: 'MSH', sequence: 1 } }] };
    } else {
      try {
        outcome = await process(h, text, opts, enhanced, charset, problem);
      } catch (e) {
        log.error({ controlId: h.get(10), sender: h.get(4), err: errorName(e) }, 'hl7 message failed');
        outcome = { code: 'AE', internal: true, errors: [{ code: 207, text: `Application internal error; quote message control id ${h.get(10) ?? ''}`.trim() }] };
      }
    }
    log.info(
      { controlId: h.get(10), type: `${h.get(9, 1) ?? ''}^${h.get(9, 2) ?? ''}`, sender: h.get(4), outcome: outcome.code, errors: outcome.errors.map((e) => e.code), ms: Date.now() - started },
      'hl7 message handled',
    );
    return { h, outcome, enhanced };
  }

  /** The frames one message is answered with (none for an incoming ACK). */
  async function framesOf(text: string, opts: HandleOptions, charset: Charset, problem: DecodeProblem | undefined): Promise<string[]> {
    // Never acknowledge an acknowledgement: that would loop between two systems.
    if ((readHeader(text)?.get(9, 1) ?? '').toUpperCase() === 'ACK') return [];
    const { h, outcome, enhanced } = await run(text, opts, charset, problem);
    const appAck = outcome.ack ?? ackOf(h, outcome.code, outcome.errors, enhanced);
    if (!enhanced || !h) return [appAck];
    // Enhanced mode (2.9.3): commit ACK per MSH-15 (AL when empty), then the application ACK per MSH-16 (NE when empty).
    const accept = ((h.get(15) ?? '').trim() || 'AL').toUpperCase();
    const app = (h.get(16) ?? '').toUpperCase();
    const appWanted = app === 'AL' || (app === 'ER' && outcome.code !== 'AA') || (app === 'SU' && outcome.code === 'AA');
    // A refused message is not kept: when no application ACK would tell the sender (MSH-16 NE, or
    // empty), CA would hide the refusal, so the commit ACK is CE with the errors instead.
    const commit: AckCode = outcome.code === 'AR' ? 'CR' : outcome.internal || (outcome.code === 'AE' && !appWanted) ? 'CE' : 'CA';
    const frames: string[] = [];
    if (accept === 'AL' || (accept === 'ER' && commit !== 'CA') || (accept === 'SU' && commit === 'CA')) {
      frames.push(ackOf(h, commit, commit === 'CA' ? [] : outcome.errors, true));
    }
    // A message not committed (CR/CE) gets no application ACK: it was never processed.
    if (commit === 'CA' && appWanted) frames.push(appAck);
    return frames;
  }

  /** One message (bytes or text): decoded in its own character set, then answered. */
  async function one(input: V2Input, opts: HandleOptions, single: boolean): Promise<string[]> {
    const { text, charset, problem } = decodeInput(input, opts);
    if (!single) return framesOf(text, opts, charset, problem);
    const { h, outcome, enhanced } = await run(text, opts, charset, problem);
    return [outcome.ack ?? ackOf(h, outcome.code, outcome.errors, enhanced)];
  }

  /**
   * A batch (FHS/BHS ... BTS/FTS) is split; each message is handled as if sent alone (its own
   * MSH-18, MSH-15/16, duplicate check) and the answers go back as one batch of acknowledgements
   * (HL7 v2.5.1 §2.10.3). A batch with no message gets one AR whose MSA-2 is the batch control id.
   */
  async function answer(input: V2Input, opts: HandleOptions, single: boolean): Promise<string[]> {
    // Segment ids and separators are ASCII in every accepted set: Latin-1 keeps byte offsets.
    const latin = typeof input === 'string' ? input : input.toString('latin1');
    if (!looksLikeBatch(latin)) return one(input, opts, single);
    const b = splitBatch(latin);
    const acks: string[] = [];
    for (const m of b.messages) {
      acks.push(...(await one(typeof input === 'string' ? m.text : input.subarray(m.start, m.end), opts, single)));
    }
    if (b.messages.length === 0) {
      log.info({ batch: b.controlId, outcome: 'AR' }, 'hl7 batch without messages rejected');
      acks.push(buildAck({
        received: undefined, code: 'AR', ours: o.facility, now: o.now?.(), controlId: (o.newControlId ?? newControlId)(), referTo: b.controlId,
        errors: [{ code: 100, text: 'The batch holds no message (no MSH between its header and trailer)', location: { segment: b.headerType, sequence: 1 } }],
      }));
    }
    return [buildBatchAck({ batch: b, acks, ours: o.facility, now: o.now?.(), controlId: (o.newControlId ?? newControlId)() })];
  }

  return {
    async handle(input, opts = {}) {
      return (await answer(input, opts, true))[0];
    },

    async handleFrames(input, opts = {}) {
      return answer(input, opts, false);
    },

    rejectOversize(head, maxBytes) {
      const h = readHeader(head);
      const enhanced = isEnhanced(h);
      log.warn({ controlId: h?.get(10), sender: h?.get(4), maxBytes, outcome: enhanced ? 'CR' : 'AR' }, 'hl7 message over the size limit');
      return ackOf(h, enhanced ? 'CR' : 'AR', [{ code: 207, text: `The message exceeds the maximum size of ${maxBytes} bytes` }], enhanced);
    },
  };
}

type Content =
  | { ok: true; cancel: Extract<ReturnType<typeof refI14ToCancel>, { ok: true }>; request?: undefined }
  | { ok: true; cancel?: undefined; request: Extract<ReturnType<typeof refI12ToRequest>, { ok: true }> }
  | { ok: false; errors: AckError[] };

/**
 * The message's content: parsed, then mapped to a cancel (I14) or a request (I12, I13), or the
 * errors that make it unacceptable. Nothing of the parsed message outlives this call: hl7v2's model
 * of a 1.7 kB referral holds about 125 kB, which would otherwise stay reachable while the intake
 * runs (and be copied by each garbage collection it survives).
 */
function readContent(text: string, charset: Charset, event: string, timeZone: string | undefined): Content {
  let msg: V2Message;
  try {
    msg = V2Message.parse(text, { charset });
  } catch (e) {
    if (e instanceof V2ParseError) return { ok: false, errors: [{ code: e.code, text: e.message, location: e.location }] };
    throw e;
  }
  if (event === 'I14') {
    const ref = refI14ToCancel(msg);
    return ref.ok ? { ok: true, cancel: ref } : { ok: false, errors: ref.issues };
  }
  const mapped = refI12ToRequest(msg, { timeZone });
  return mapped.ok ? { ok: true, request: mapped } : { ok: false, errors: mapped.issues };
}

/** Only the error's class name is logged: messages may quote data. */
function errorName(e: unknown): string {
  return e instanceof Error ? e.name : typeof e;
}
