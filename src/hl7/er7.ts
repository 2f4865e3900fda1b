/**
 * A small ER7 (pipe-and-hat) writer and header reader. Outbound messages and ACKs are built here
 * rather than with hl7v2's serialiser because that one rewrites timestamps and leaves header
 * fields empty, and an ACK header must echo exactly what was received.
 * @see HL7 v2.5.1 chapter 2.7 (message construction rules) and 2.7.4 (escape sequences)
 */

export interface Separators {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subComponent: string;
}

/** The separators every outbound message uses: `|^~\&`. */
export const DEFAULT_SEPARATORS: Separators = { field: '|', component: '^', repetition: '~', escape: '\\', subComponent: '&' };

/** Escapes one leaf value (HL7 2.7.4); line breaks become `\.br\` so text keeps its paragraphs. */
export function escapeEr7(value: string, sep: Separators = DEFAULT_SEPARATORS): string {
  const e = sep.escape;
  let out = '';
  for (const ch of value.replace(/\r\n/g, '\n')) {
    if (ch === e) out += `${e}E${e}`;
    else if (ch === sep.field) out += `${e}F${e}`;
    else if (ch === sep.component) out += `${e}S${e}`;
    else if (ch === sep.repetition) out += `${e}R${e}`;
    else if (ch === sep.subComponent) out += `${e}T${e}`;
    else if (ch === '\n' || ch === '\r') out += `${e}.br${e}`;
    else if (ch < ' ') out += `${e}X${ch.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}${e}`;
    else out += ch;
  }
  return out;
}

/** Undoes the delimiter escapes (\F\ \S\ \T\ \R\ \E\); other escapes are left as sent. */
export function unescapeEr7(value: string, sep: Separators = DEFAULT_SEPARATORS): string {
  const e = sep.escape;
  if (!value.includes(e)) return value;
  const map: Record<string, string> = { F: sep.field, S: sep.component, T: sep.subComponent, R: sep.repetition, E: e };
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === e && value[i + 2] === e && map[value[i + 1]] !== undefined) {
      out += map[value[i + 1]];
      i += 2;
    } else out += ch;
  }
  return out;
}

/** Segments whose fields 1 and 2 are the separators (MSH, and the batch headers FHS, BHS). */
const HEADER_SEGMENTS = new Set(['MSH', 'FHS', 'BHS']);

/** field → repetition → component → sub-component; leaves are stored already escaped. */
type FieldData = string[][][];

/** Builds one segment by position; always written with the default separators. */
export class SegmentWriter {
  private readonly fields: (FieldData | undefined)[] = [];

  constructor(readonly type: string) {
    if (!/^[A-Z][A-Z0-9]{2}$/.test(type)) throw new Error(`invalid segment id ${type}`);
  }

  /**
   * Sets one leaf from plain text. `field` is the HL7 sequence number (MSH-3 is field 3); `rep`
   * is 0-based, `component` and `sub` 1-based, as in the standard's notation.
   */
  set(field: number, value: string | undefined, rep = 0, component = 1, sub = 1): this {
    if (value === undefined || value === '') return this;
    return this.setEncoded(field, escapeEr7(value), rep, component, sub);
  }

  /** Sets one leaf that is already escaped (echoing a received value verbatim). */
  setEncoded(field: number, encoded: string | undefined, rep = 0, component = 1, sub = 1): this {
    if (encoded === undefined || encoded === '') return this;
    if (HEADER_SEGMENTS.has(this.type) && field < 3) throw new Error(`${this.type}-1 and ${this.type}-2 are fixed`);
    const f = (this.fields[field] ??= []);
    const r = (f[rep] ??= []);
    const c = (r[component - 1] ??= []);
    c[sub - 1] = encoded;
    return this;
  }

  /** Copies a whole received field (its leaves as sent, re-delimited with the default separators). */
  copyField(field: number, leaves: string[][][] | undefined): this {
    leaves?.forEach((r, ri) => r.forEach((c, ci) => c.forEach((s, si) => this.setEncoded(field, s, ri, ci + 1, si + 1))));
    return this;
  }

  toString(): string {
    const sep = DEFAULT_SEPARATORS;
    const encoded: string[] = [];
    const header = HEADER_SEGMENTS.has(this.type);
    for (let i = header ? 3 : 1; i < this.fields.length; i++) {
      const f = this.fields[i] ?? [];
      encoded.push(trimJoin(Array.from(f, (r) => trimJoin(Array.from(r ?? [], (c) => trimJoin(Array.from(c ?? [], (s) => s ?? ''), sep.subComponent)), sep.component)), sep.repetition));
    }
    while (encoded.length > 0 && encoded[encoded.length - 1] === '') encoded.pop();
    const head = header ? `${this.type}${sep.field}${sep.component}${sep.repetition}${sep.escape}${sep.subComponent}` : this.type;
    return encoded.length === 0 ? head : `${head}${sep.field}${encoded.join(sep.field)}`;
  }
}

/** Joins and drops trailing empty parts, so `A^^` is written `A` (HL7 2.7.5: trailing delimiters may be omitted). */
function trimJoin(parts: string[], delimiter: string): string {
  let end = parts.length;
  while (end > 0 && parts[end - 1] === '') end--;
  return parts.slice(0, end).join(delimiter);
}

/** Joins segments with the HL7 segment terminator (CR); no trailing CR (the MLLP writer adds one). */
export function joinSegments(segments: (SegmentWriter | string)[]): string {
  return segments.map((s) => s.toString()).join('\r');
}

/** An HL7 TS/DTM value in UTC, to the second: `YYYYMMDDHHMMSS+0000`. */
export function formatV2Timestamp(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(date.getUTCFullYear(), 4)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}+0000`;
}

/** The MSH of a received message, read with plain string splitting so it works even when the rest does not parse. */
export interface ReceivedHeader {
  separators: Separators;
  /** Raw leaves of each MSH field by sequence number (MSH-3 at index 3), as sent (escaped). */
  raw: (string[][][] | undefined)[];
  /** Plain text of component `c` (sub-component 1) of the first repetition of MSH-`field`. */
  get(field: number, component?: number): string | undefined;
}

/**
 * Reads the first segment as an MSH; undefined when the text does not start with one.
 * @see HL7 v2.5.1 section 2.14.9 (MSH)
 */
export function readHeader(text: string): ReceivedHeader | undefined {
  const start = text.replace(/^[\s\x0b]+/, '');
  if (!start.startsWith('MSH') || start.length < 8) return undefined;
  const fieldSep = start[3];
  const enc = start.slice(4, 8);
  if (/[\r\n\sA-Za-z0-9]/.test(fieldSep) || enc.includes(fieldSep)) return undefined;
  const separators: Separators = {
    field: fieldSep,
    component: enc[0],
    repetition: enc[1],
    escape: enc[2],
    subComponent: enc[3],
  };
  if (new Set(Object.values(separators)).size !== 5) return undefined;
  const line = start.split(/\r\n|\r|\n/, 1)[0];
  const parts = line.split(fieldSep);
  const raw: (string[][][] | undefined)[] = [];
  // parts[0] is "MSH", parts[1] the encoding characters: MSH-3 is parts[2].
  for (let i = 2; i < parts.length; i++) {
    raw[i + 1] = parts[i].split(separators.repetition).map((r) => r.split(separators.component).map((c) => c.split(separators.subComponent)));
  }
  return {
    separators,
    raw,
    get(field, component = 1) {
      const v = raw[field]?.[0]?.[component - 1]?.[0];
      return v ? unescapeEr7(v, separators) : undefined;
    },
  };
}
