/**
 * ACK messages, built by hand because hl7v2's createAck() leaves MSH-3..5 empty and drops MSH-11.
 * The header swaps sender and receiver, keeps MSH-11/MSH-12 as received, and gets a new MSH-10;
 * MSA-2 echoes the received MSH-10. Errors use ERR-1 (ELD) up to v2.4 and ERR-2..8 from v2.5.
 * @see HL7 v2.5.1 sections 2.9 (acknowledgment), 2.14.2 (ACK), 2.15.5 (ERR), table 0357
 */
import { randomBytes } from 'node:crypto';
import { charsetNamed } from './charset.ts';
import { DEFAULT_SEPARATORS, escapeEr7, formatV2Timestamp, joinSegments, SegmentWriter, unescapeEr7, type ReceivedHeader, type Separators } from './er7.ts';
import type { V2Location } from './v2-message.ts';

/** Original mode: AA/AE/AR; enhanced mode commit ACKs: CA/CE/CR. */
export type AckCode = 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';

/** HL7 table 0357 (message error condition codes). */
export const ERROR_CODES: Record<number, string> = {
  0: 'Message accepted',
  100: 'Segment sequence error',
  101: 'Required field missing',
  102: 'Data type error',
  103: 'Table value not found',
  200: 'Unsupported message type',
  201: 'Unsupported event code',
  202: 'Unsupported processing id',
  203: 'Unsupported version id',
  204: 'Unknown key identifier',
  205: 'Duplicate key identifier',
  206: 'Application record locked',
  207: 'Application internal error',
};

export interface AckError {
  /** Table 0357 code. */
  code: number;
  /** Human-readable text (ERR-8, and MSA-3 for the first error). Never internals. */
  text: string;
  location?: V2Location;
  /** Table 0516; default E. */
  severity?: 'E' | 'W' | 'I';
  /** ERR-5 application error code (user-defined), e.g. a FHIR issue code. */
  applicationCode?: string;
}

/** Who we are in MSH-3/MSH-4 of what we send. */
export interface AckIdentity {
  application: string;
  facility: string;
}

export interface BuildAckOptions {
  /** The received header; undefined when the message had none (then MSA-2 is empty). */
  received: ReceivedHeader | undefined;
  code: AckCode;
  ours: AckIdentity;
  errors?: AckError[];
  /** MSA-3; defaults to the first error's text. */
  text?: string;
  /** Enhanced-mode ACKs say they want no acknowledgement themselves (MSH-15/16 = NE). */
  enhanced?: boolean;
  now?: Date;
  controlId?: string;
  /** MSA-2 when there is no received header to echo (a batch refused whole: its batch control id). */
  referTo?: string;
}

/** A new message control id: at most 20 characters (MSH-10 is ST(20) in v2.3/v2.4), unique enough per sender. */
export function newControlId(): string {
  return `ESO${Date.now().toString(36).toUpperCase()}${randomBytes(4).toString('hex').toUpperCase()}`.slice(0, 20);
}

/** Compares dotted versions: negative when a < b. Unparseable versions sort last. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number), pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (Number.isNaN(d)) return 1;
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Builds an ACK (segments joined by CR, no trailing CR).
 * @see HL7 v2.5.1 section 2.14.2
 */
export function buildAck(o: BuildAckOptions): string {
  const r = o.received;
  const version = r?.get(12) ?? '2.5.1';
  const msh = new SegmentWriter('MSH')
    .set(3, o.ours.application)
    .set(4, o.ours.facility)
    .copyField(5, r?.raw[3])
    .copyField(6, r?.raw[4])
    .set(7, formatV2Timestamp(o.now ?? new Date()))
    .set(9, 'ACK')
    .set(9, r?.get(9, 2), 0, 2)
    .set(10, o.controlId ?? newControlId());
  // MSG-3 (message structure) exists from v2.3.1 on.
  if (compareVersions(version, '2.3.1') >= 0) msh.set(9, 'ACK', 0, 3);
  if (r?.raw[11]) msh.copyField(11, r.raw[11]);
  else msh.set(11, 'P');
  if (r?.raw[12]) msh.copyField(12, r.raw[12]);
  else msh.set(12, version);
  if (o.enhanced) msh.set(15, 'NE').set(16, 'NE');
  // The answer is written in the set the message declared (mllp-framer encodes by MSH-18); an unknown one is not echoed.
  if (r?.raw[18] && charsetNamed(r.get(18) ?? '')) msh.copyField(18, r.raw[18]);

  const errors = o.errors ?? [];
  const text = o.text ?? errors[0]?.text;
  const msa = new SegmentWriter('MSA')
    .set(1, o.code)
    .copyField(2, r?.raw[10])
    .set(2, r ? undefined : o.referTo)
    // MSA-3 is ST(80) up to v2.4: keep it short; the full text goes in ERR-8 from v2.5.
    .set(3, text ? truncate(text, 80) : undefined);
  const segments: SegmentWriter[] = [msh, msa];
  if (errors.length > 0) {
    if (compareVersions(version, '2.5') < 0) segments.push(legacyErr(errors));
    else for (const e of errors) segments.push(modernErr(e));
  }
  return joinSegments(segments);
}

/** v2.3/v2.4: one ERR, ERR-1 (ELD) repeating: segment^sequence^field^code&text&HL70357. */
function legacyErr(errors: AckError[]): SegmentWriter {
  const err = new SegmentWriter('ERR');
  errors.forEach((e, i) => {
    err.set(1, e.location?.segment, i, 1).set(1, num(e.location?.sequence), i, 2).set(1, num(e.location?.field), i, 3);
    err.set(1, String(e.code), i, 4, 1).set(1, ERROR_CODES[e.code], i, 4, 2).set(1, 'HL70357', i, 4, 3);
  });
  return err;
}

/** v2.5+: ERR-2 location (ERL), ERR-3 code (CWE, table 0357), ERR-4 severity, ERR-5 application code, ERR-8 user message. */
function modernErr(e: AckError): SegmentWriter {
  const err = new SegmentWriter('ERR');
  const l = e.location;
  if (l) {
    err.set(2, l.segment, 0, 1).set(2, num(l.sequence), 0, 2).set(2, num(l.field), 0, 3);
    if (l.field !== undefined) err.set(2, num(l.repetition ?? 1), 0, 4).set(2, num(l.component), 0, 5).set(2, num(l.subComponent), 0, 6);
  }
  err.set(3, String(e.code), 0, 1).set(3, ERROR_CODES[e.code], 0, 2).set(3, 'HL70357', 0, 3);
  err.set(4, e.severity ?? 'E');
  if (e.applicationCode) err.set(5, e.applicationCode);
  err.set(8, truncate(e.text, 250));
  return err;
}

function num(n: number | undefined): string | undefined {
  return n === undefined ? undefined : String(n);
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 3)}...`;
}

/**
 * The header as if it had been sent with our separators, for the ACK that echoes its fields: a
 * sender's own delimiters leave its values unescaped where ours are delimiters (a `|` in MSH-3
 * under `#^~\\&` would otherwise add fields to the ACK's MSH).
 */
export function inOurSeparators(h: ReceivedHeader | undefined): ReceivedHeader | undefined {
  const chars = (s: Separators) => `${s.field}${s.component}${s.repetition}${s.escape}${s.subComponent}`;
  if (!h || chars(h.separators) === chars(DEFAULT_SEPARATORS)) return h;
  const raw = h.raw.map((f) => f?.map((rep) => rep.map((component) => component.map((leaf) => escapeEr7(unescapeEr7(leaf, h.separators))))));
  return { separators: DEFAULT_SEPARATORS, raw, get: h.get };
}

/** FHIR issue type → table 0357. */
export function issueTo0357(code: string): number {
  switch (code) {
    case 'required': return 101;
    case 'value':
    case 'invalid':
    case 'structure': return 102;
    case 'code-invalid': return 103;
    case 'not-found': return 204;
    // A conflict (409) from the rules, e.g. a stale concurrent change.
    case 'duplicate':
    case 'conflict': return 205;
    case 'lock-error': return 206;
    default: return 207;
  }
}

export function refusedText(code: string): string {
  return `The request was refused (${code})`;
}
