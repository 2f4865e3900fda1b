/**
 * Where bytes become text: the character set a message declares (MSH-18, or a `charset` parameter
 * on an HTTP Content-Type, which wins), strict decoding (a byte that is not valid in that set is
 * reported with the segment and field it sits in, never turned into U+FFFD), and `\Xhh..\` escapes
 * decoded in the same set.
 * @see HL7 v2.5.1 section 2.14.9.18 (MSH-18, table 0211), 2.7.4 (escape sequences), mappings/README.md
 */
import type { V2Location } from './v2-message.ts';

/** The character sets accepted, by canonical name. */
export type Charset = 'ASCII' | '8859/1' | '8859/15' | 'UTF-8' | 'CP1252';

/** When MSH-18 is empty: UTF-8 (ASCII is a subset; most UK feeds that do not declare a set send UTF-8). */
export const DEFAULT_CHARSET: Charset = 'UTF-8';

/** MSH-18 values (table 0211 and what Windows PAS send) and HTTP charset labels → the set. */
const NAMES: Record<string, Charset> = {
  'ASCII': 'ASCII', 'US-ASCII': 'ASCII',
  '8859/1': '8859/1', 'ISO-8859-1': '8859/1', 'ISO8859-1': '8859/1', 'ISO_8859-1': '8859/1', 'LATIN1': '8859/1', 'LATIN-1': '8859/1',
  '8859/15': '8859/15', 'ISO-8859-15': '8859/15', 'ISO8859-15': '8859/15', 'LATIN-9': '8859/15', 'LATIN9': '8859/15',
  'UNICODE UTF-8': 'UTF-8', 'UTF-8': 'UTF-8', 'UTF8': 'UTF-8',
  'CP1252': 'CP1252', 'WINDOWS-1252': 'CP1252', 'WIN1252': 'CP1252', 'CP-1252': 'CP1252',
};

/** The set a declared name means; undefined for an unknown name. */
export function charsetNamed(name: string): Charset | undefined {
  return NAMES[name.trim().toUpperCase()];
}

/** Bytes CP1252 leaves undefined. */
const CP1252_UNDEFINED = new Set([0x81, 0x8d, 0x8f, 0x90, 0x9d]);

/**
 * The bytes where CP1252 and ISO 8859-15 differ from Latin-1, as tables of our own: Node's
 * TextDecoder without full ICU drops such bytes silently, which is exactly the damage refused here.
 */
const CP1252_HIGH: Record<number, number> = {
  0x80: 0x20ac, 0x82: 0x201a, 0x83: 0x0192, 0x84: 0x201e, 0x85: 0x2026, 0x86: 0x2020, 0x87: 0x2021, 0x88: 0x02c6,
  0x89: 0x2030, 0x8a: 0x0160, 0x8b: 0x2039, 0x8c: 0x0152, 0x8e: 0x017d, 0x91: 0x2018, 0x92: 0x2019, 0x93: 0x201c,
  0x94: 0x201d, 0x95: 0x2022, 0x96: 0x2013, 0x97: 0x2014, 0x98: 0x02dc, 0x99: 0x2122, 0x9a: 0x0161, 0x9b: 0x203a,
  0x9c: 0x0153, 0x9e: 0x017e, 0x9f: 0x0178,
};
const LATIN9_DIFF: Record<number, number> = { 0xa4: 0x20ac, 0xa6: 0x0160, 0xa8: 0x0161, 0xb4: 0x017d, 0xb8: 0x017e, 0xbc: 0x0152, 0xbd: 0x0153, 0xbe: 0x0178 };

function decodeSingleByte(data: Buffer, table: Record<number, number>): string {
  let out = '';
  for (let i = 0; i < data.length; i += 8192) {
    const chunk = data.subarray(i, i + 8192);
    out += String.fromCharCode(...Array.from(chunk, (b) => table[b] ?? b));
  }
  return out;
}

/** Decodes bytes strictly; the offset of the first byte that is not valid in the set, or the text. */
export function decodeStrict(data: Buffer, charset: Charset): { text: string } | { badOffset: number } {
  switch (charset) {
    case 'ASCII': {
      const i = data.findIndex((b) => b > 0x7f);
      return i >= 0 ? { badOffset: i } : { text: data.toString('latin1') };
    }
    case '8859/1':
    case '8859/15': {
      // 0x80-0x9F are C1 control codes, never text: they mean the sender wrote another set (CP1252).
      const i = data.findIndex((b) => b >= 0x80 && b <= 0x9f);
      if (i >= 0) return { badOffset: i };
      return { text: charset === '8859/1' ? data.toString('latin1') : decodeSingleByte(data, LATIN9_DIFF) };
    }
    case 'CP1252': {
      const i = data.findIndex((b) => CP1252_UNDEFINED.has(b));
      return i >= 0 ? { badOffset: i } : { text: decodeSingleByte(data, CP1252_HIGH) };
    }
    case 'UTF-8': {
      try {
        return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(data) };
      } catch {
        return { badOffset: firstInvalidUtf8(data) };
      }
    }
  }
}

function firstInvalidUtf8(data: Buffer): number {
  let i = 0;
  while (i < data.length) {
    const b = data[i];
    const n = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (i + k >= data.length || (data[i + k] & 0xc0) !== 0x80) return i;
    // Overlongs, surrogates and values past U+10FFFF.
    if (n > 0) {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(i, i + n + 1));
      } catch {
        return i;
      }
    }
    i += n + 1;
  }
  return Math.max(0, data.length - 1);
}

/** What the first line says about itself: MSH-18 (first repetition, first component), read from raw bytes. */
export function declaredCharset(head: string): string | undefined {
  const start = head.replace(/^[\s\x0b\ufeff]+/, '').replace(/^\u00ef\u00bb\u00bf/, '');
  const m = /^(?:MSH|FHS|BHS)/.exec(start);
  if (!m) return undefined;
  // In a batch the set of the first message's MSH applies (FHS/BHS have no MSH-18).
  const at = start.startsWith('MSH') ? 0 : start.search(/[\r\n]MSH/) + 1;
  if (at < 0 || (at === 0 && !start.startsWith('MSH'))) return undefined;
  const line = start.slice(at).split(/\r\n|\r|\n/, 1)[0];
  const sep = line[3];
  if (!sep) return undefined;
  const value = line.split(sep)[17];
  const rep = value?.split(line[5] ?? '~')[0]?.split(line[4] ?? '^')[0]?.trim();
  return rep || undefined;
}

export type DecodeResult =
  | { ok: true; text: string; charset: Charset }
  /** MSH-18 (or the Content-Type charset) names a set we do not read. */
  | { ok: false; reason: 'unknown'; name: string; text: string; from: 'MSH-18' | 'Content-Type' }
  /** A byte is not valid in the set: where it is. */
  | { ok: false; reason: 'invalid'; charset: Charset; location: V2Location; text: string };

/**
 * Bytes → text by the declared set: `override` (an HTTP charset parameter) wins over MSH-18;
 * with neither, UTF-8. A leading UTF-8 BOM is dropped. On failure `text` is still given (read as
 * Latin-1, lossless for the ASCII header) so the refusal can echo the header.
 */
export function decodeV2(data: Buffer, override?: string): DecodeResult {
  const latin = data.toString('latin1');
  let bytes = data;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
  const name = override?.trim() || declaredCharset(latin);
  const charset = name ? charsetNamed(name) : DEFAULT_CHARSET;
  if (!charset) return { ok: false, reason: 'unknown', name: name!, text: latin, from: override?.trim() ? 'Content-Type' : 'MSH-18' };
  const r = decodeStrict(bytes, charset);
  if ('text' in r) return { ok: true, text: r.text, charset };
  return { ok: false, reason: 'invalid', charset, location: locate(bytes.toString('latin1'), r.badOffset), text: latin };
}

/**
 * The segment, field, repetition and component an offset of ER7 text falls in (separators from
 * the nearest MSH/FHS/BHS; `|^~\&` before any).
 */
export function locate(text: string, offset: number): V2Location {
  const lineStart = Math.max(text.lastIndexOf('\r', offset - 1), text.lastIndexOf('\n', offset - 1)) + 1;
  const before = text.slice(0, lineStart).split(/\r\n|\r|\n/).filter((l) => l.length >= 3);
  const line = text.slice(lineStart).split(/\r|\n/, 1)[0];
  const segment = line.slice(0, 3);
  const header = [...before, line].reverse().find((l) => /^(MSH|FHS|BHS)/.test(l) && l.length >= 8);
  const fieldSep = header?.[3] ?? '|';
  const [component, repetition] = [header?.[4] ?? '^', header?.[5] ?? '~'];
  const sequence = before.filter((l) => l.startsWith(segment)).length + 1;
  const upto = line.slice(0, offset - lineStart);
  const fields = upto.split(fieldSep);
  const isHeader = /^(MSH|FHS|BHS)$/.test(segment);
  const field = fields.length - 1 + (isHeader ? 1 : 0);
  if (field < 1) return { segment, sequence };
  const reps = fields[fields.length - 1].split(repetition);
  const comps = reps[reps.length - 1].split(component);
  return { segment, sequence, field, repetition: reps.length, component: comps.length };
}

/**
 * Decodes `\Xhh..\` escapes in `charset` (HL7 2.7.4: hexadecimal data in the message's set), so
 * the parser, which would read them as UTF-8, never sees them. A decoded delimiter or control
 * character stays escaped. Returns the offset of an escape whose bytes are not valid in the set.
 */
export function decodeHexEscapes(text: string, charset: Charset): { text: string } | { badOffset: number } {
  if (!text.startsWith('MSH') || text.length < 8) return { text };
  const [field, component, repetition, escape, sub] = [text[3], text[4], text[5], text[6], text[7]];
  if (!escape || /[\r\sA-Za-z0-9]/.test(escape)) return { text };
  const e = escape.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const names: Record<string, string> = { [field]: 'F', [component]: 'S', [repetition]: 'R', [escape]: 'E', [sub]: 'T' };
  const re = new RegExp(`${e}X((?:[0-9A-Fa-f]{2})+)${e}`, 'g');
  let bad: number | undefined;
  const out = text.replace(re, (whole, hex: string, offset: number) => {
    if (bad !== undefined) return whole;
    const r = decodeStrict(Buffer.from(hex, 'hex'), charset);
    if (!('text' in r)) {
      bad = offset;
      return whole;
    }
    let s = '';
    for (const ch of r.text) {
      if (names[ch]) s += `${escape}${names[ch]}${escape}`;
      else if (ch < ' ' || ch === '\x7f') s += `${escape}X${ch.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}${escape}`;
      else s += ch;
    }
    return s;
  });
  return bad === undefined ? { text: out } : { badOffset: bad };
}

const encoders = new Map<Charset, Map<string, number>>();
/** Char → byte of a single-byte set (built once from the decoder). */
function encoderOf(charset: '8859/15' | 'CP1252'): Map<string, number> {
  let m = encoders.get(charset);
  if (!m) {
    const table = charset === 'CP1252' ? CP1252_HIGH : LATIN9_DIFF;
    m = new Map();
    for (let b = 0; b < 256; b++) {
      if (charset === 'CP1252' && CP1252_UNDEFINED.has(b)) continue;
      if (charset === '8859/15' && b >= 0x80 && b <= 0x9f) continue;
      m.set(String.fromCharCode(table[b] ?? b), b);
    }
    encoders.set(charset, m);
  }
  return m;
}

/**
 * Text → bytes in the set its own MSH-18 declares (UTF-8 when empty or unknown). A character the
 * set cannot hold is written as `?`: what we send is our own ACK text, never stored data.
 */
export function encodeV2(text: string): Buffer {
  const name = declaredCharset(text);
  const charset = (name && charsetNamed(name)) || DEFAULT_CHARSET;
  if (charset === 'UTF-8') return Buffer.from(text, 'utf8');
  const bytes: number[] = [];
  const table = charset === '8859/15' || charset === 'CP1252' ? encoderOf(charset) : undefined;
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (table) bytes.push(table.get(ch) ?? 0x3f);
    else bytes.push(code < (charset === 'ASCII' ? 0x80 : 0x100) ? code : 0x3f);
  }
  return Buffer.from(bytes);
}
