/**
 * HL7 v2 batches: [FHS] BHS { MSH ... } BTS [FTS]. Split into messages (with their offsets, so the
 * bytes of each can be decoded in its own character set), and the answer: a batch of the
 * acknowledgements, one per message in order, with BHS-12 naming the batch it answers.
 * @see HL7 v2.5.1 sections 2.10.3 (batch protocol), 2.15.1-2.15.3 (BHS, BTS, FHS, FTS)
 */
import { formatV2Timestamp, SegmentWriter, unescapeEr7, DEFAULT_SEPARATORS, type Separators } from './er7.ts';
import type { AckIdentity } from './ack.ts';

export interface BatchMessage {
  /** The message's text (from its MSH to the segment before the next MSH or trailer). */
  text: string;
  /** Offsets in the text the batch was split from (byte offsets when that text was Latin-1). */
  start: number;
  end: number;
}

export interface SplitBatch {
  headerType: 'FHS' | 'BHS';
  separators: Separators;
  /** BHS-11 (else FHS-11): the batch control id the answer refers to. */
  controlId?: string;
  /** BHS-3..6 (else FHS): who sent it, echoed (swapped) in the answer. */
  sendingApplication?: string;
  sendingFacility?: string;
  messages: BatchMessage[];
}

/** True when the text opens with FHS or BHS. */
export function looksLikeBatch(text: string): boolean {
  return /^(?:\u00ef\u00bb\u00bf|\ufeff)?[\s\x0b]*(?:FHS|BHS)/.test(text);
}

/** Splits a batch; segments outside any message (FHS, BHS, BTS, FTS) are dropped. */
export function splitBatch(text: string): SplitBatch {
  const lead = /^(?:\u00ef\u00bb\u00bf|\ufeff)?[\s\x0b]*/.exec(text)![0].length;
  const body = text.slice(lead);
  const headerType = body.startsWith('FHS') ? 'FHS' : 'BHS';
  const fieldSep = body[3] ?? '|';
  const enc = body.slice(4, 8);
  const separators: Separators = enc.length === 4 && !enc.includes(fieldSep)
    ? { field: fieldSep, component: enc[0], repetition: enc[1], escape: enc[2], subComponent: enc[3] }
    : DEFAULT_SEPARATORS;
  const lines: { text: string; start: number; end: number }[] = [];
  const re = /[^\r\n]+/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index < lead) continue;
    lines.push({ text: m[0], start: m.index, end: m.index + m[0].length });
  }
  const headerOf = (type: string) => lines.find((l) => l.text.startsWith(type));
  const bhs = headerOf('BHS') ?? headerOf('FHS');
  const fields = bhs?.text.split(separators.field) ?? [];
  // fields[0] is the segment id, fields[1] the encoding characters: BHS-n is fields[n - 1].
  const value = (n: number) => {
    const v = fields[n - 1]?.split(separators.repetition)[0]?.split(separators.component)[0];
    return v ? unescapeEr7(v, separators) : undefined;
  };
  const controlId = value(11) ?? (() => {
    const f = headerOf('FHS')?.text.split(separators.field)[10];
    return f ? unescapeEr7(f, separators) : undefined;
  })();

  const messages: BatchMessage[] = [];
  let current: { start: number; end: number } | undefined;
  for (const l of lines) {
    const type = l.text.slice(0, 3);
    if (type === 'MSH') {
      if (current) messages.push({ text: text.slice(current.start, current.end), ...current });
      current = { start: l.start, end: l.end };
    } else if (['FHS', 'BHS', 'BTS', 'FTS'].includes(type)) {
      if (current) messages.push({ text: text.slice(current.start, current.end), ...current });
      current = undefined;
    } else if (current) current.end = l.end;
  }
  if (current) messages.push({ text: text.slice(current.start, current.end), ...current });
  return { headerType, separators, controlId, sendingApplication: value(3), sendingFacility: value(4), messages };
}

/**
 * The answer to a batch: BHS (ours, BHS-12 = the batch answered), each ACK, BTS with the count.
 * A batch that came in a file (FHS) is answered in one (FHS ... FTS).
 */
export function buildBatchAck(o: { batch: SplitBatch; acks: string[]; ours: AckIdentity; now?: Date; controlId: string }): string {
  const now = formatV2Timestamp(o.now ?? new Date());
  const header = (type: 'FHS' | 'BHS') => new SegmentWriter(type)
    .set(3, o.ours.application).set(4, o.ours.facility)
    .set(5, o.batch.sendingApplication).set(6, o.batch.sendingFacility)
    .set(7, now).set(11, o.controlId).set(12, o.batch.controlId);
  const out: string[] = [];
  if (o.batch.headerType === 'FHS') out.push(header('FHS').toString());
  out.push(header('BHS').toString(), ...o.acks, new SegmentWriter('BTS').set(1, String(o.acks.length)).toString());
  if (o.batch.headerType === 'FHS') out.push(new SegmentWriter('FTS').set(1, '1').toString());
  return out.join('\r');
}
