/**
 * Where received bytes become text (HL7 v2.5.1 2.15.9 character sets, MSH-18): decoding in the
 * declared character set, refusing what is not valid in it, and telling a message whose segment
 * separators were lost. Used by the receiver before any header rule runs.
 */
import type { AckError } from './ack.ts';
import { charsetNamed, decodeV2, DEFAULT_CHARSET, type Charset } from './charset.ts';
import { readHeader, type ReceivedHeader } from './er7.ts';

/** A decoding problem found where bytes became text, answered after the header rules. */
export type DecodeProblem = { code: 102 | 103; text: string; location: AckError['location'] };

/** Segment ids a referral carries: seen inside a line, they mean the segment separators were lost. */
const KNOWN_SEGMENTS = /(?:EVN|PID|PD1|RF1|PRD|CTD|NK1|PV1|PV2|DG1|DRG|PR1|OBR|OBX|NTE|AL1|GT1|IN1|IN2|ACC|AUT|RGS|AIS|Z[A-Z0-9]{2})/;

/**
 * True when a whole message came as one line although it has more than an MSH: what `curl --data`
 * (which drops CR and LF from a file) makes of a message.
 */
export function separatorsMissing(text: string, h: ReceivedHeader): boolean {
  const body = text.replace(/^[\s\x0b\ufeff]+/, '').replace(/[\x1c\s]+$/, '');
  if (/[\r\n]/.test(body)) return false;
  const sep = h.separators.field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`${KNOWN_SEGMENTS.source}${sep}`).test(body.slice(8));
}

/** Bytes → text in the declared set (or `charsetOverride`, from an HTTP Content-Type); text input is checked against MSH-18 (its \\X..\\ escapes decode in it). */
export function decodeInput(input: string | Buffer, opts: { charset?: string }): { text: string; charset: Charset; problem?: DecodeProblem } {
  if (typeof input === 'string') {
    const h = readHeader(input);
    const declared = opts.charset?.trim() || h?.get(18);
    const charset = declared ? charsetNamed(declared) : DEFAULT_CHARSET;
    if (!charset) return { text: input, charset: DEFAULT_CHARSET, problem: unknownCharset(declared!, opts.charset?.trim() ? 'Content-Type' : 'MSH-18') };
    return { text: input, charset };
  }
  const r = decodeV2(input, opts.charset);
  if (r.ok) return { text: r.text, charset: r.charset };
  if (r.reason === 'unknown') return { text: r.text, charset: DEFAULT_CHARSET, problem: unknownCharset(r.name, r.from) };
  const l = r.location;
  const where = l.field === undefined ? l.segment : `${l.segment}-${l.field}`;
  return { text: r.text, charset: r.charset, problem: { code: 102, text: `${where} holds bytes that are not valid ${r.charset} (the character set ${opts.charset ? 'of the Content-Type' : 'MSH-18 declares, UTF-8 when empty'}): nothing was stored`, location: l } };
}

function unknownCharset(name: string, from: 'MSH-18' | 'Content-Type'): DecodeProblem {
  const known = 'ASCII, 8859/1, 8859/15, UNICODE UTF-8, CP1252';
  return { code: 103, text: `Character set '${name}' (${from}) is not supported (${known}): nothing was stored`, location: from === 'MSH-18' ? { segment: 'MSH', sequence: 1, field: 18 } : undefined };
}
