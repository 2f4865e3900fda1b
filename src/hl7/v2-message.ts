/**
 * Parsing with hl7v2, and reading values by position. hl7v2's default dictionaries "decode"
 * dates and numbers (a month-precision date comes back as the 1st of the month, `00` seconds are
 * dropped, `007` becomes 7), which would invent clinical data, so messages are parsed with copies
 * of the dictionaries that keep every value exactly as sent; conversions.ts interprets them.
 * @see HL7 v2.5.1 chapter 2.7 (message construction rules)
 */
import { decodeHexEscapes, DEFAULT_CHARSET, locate, type Charset } from './charset.ts';
import { createRequire } from 'node:module';
import type { HL7Dictionary, HL7Message, HL7Repetition, HL7Segment } from 'hl7v2';

/** Where a value sits in a message: ERR-2 (v2.5+) / ERR-1 (v2.3, v2.4) location. */
export interface V2Location {
  segment: string;
  /** 1-based occurrence of this segment type in the message. */
  sequence: number;
  field?: number;
  /** 1-based, as ERL-4. */
  repetition?: number;
  component?: number;
  subComponent?: number;
}

/** The message could not be parsed at all (table 0357 code 100 or 102). */
export class V2ParseError extends Error {
  constructor(message: string, readonly code: 100 | 102, readonly location?: V2Location) {
    super(message);
    this.name = 'V2ParseError';
  }
}

type AnyDef = { decode?: unknown; encode?: unknown; fields?: Record<string, AnyDef> };

function stripCodecs<T extends Record<string, AnyDef>>(defs: T): T {
  const out: Record<string, AnyDef> = {};
  for (const [k, d] of Object.entries(defs)) {
    const { decode: _d, encode: _e, ...rest } = d;
    out[k] = rest.fields ? { ...rest, fields: stripCodecs(rest.fields) } : rest;
  }
  return out as T;
}

type Hl7v2 = typeof import('hl7v2');
let hl7v2: { lib: Hl7v2; verbatim: Record<string, HL7Dictionary> } | undefined;

/**
 * hl7v2 and its dictionaries, loaded when the first message is parsed: loading every version's
 * dictionary takes 1-3 s and ~50 MB on a small machine, which an instance with no HL7 feed should
 * not pay at start (measured: ready in 1.5 s and 83 MB RSS without it, 2.5-3 s and 130 MB with).
 * The first message of a feed waits for it once. Node 20.19+ loads the ESM package synchronously.
 * The dictionaries have no value decoding: built once, shared (they are never mutated).
 */
function library(): { lib: Hl7v2; verbatim: Record<string, HL7Dictionary> } {
  if (!hl7v2) {
    const lib = createRequire(import.meta.url)('hl7v2') as Hl7v2;
    const verbatim = Object.fromEntries(
      Object.entries(lib.dictionaries).map(([v, d]) => [
        v,
        new lib.HL7Dictionary({ version: d.version, messages: d.messages, types: stripCodecs(d.types as never), segments: stripCodecs(d.segments as never) }),
      ]),
    );
    hl7v2 = { lib, verbatim };
  }
  return hl7v2;
}

/** One repetition of a field, read as plain (unescaped) text. */
export class V2Rep {
  constructor(private readonly rep: HL7Repetition, private readonly subSeparator: string, /** 0-based position in the field. */ readonly index = 0) {}

  /**
   * Component `component` (1-based), sub-component `sub` if given. hl7v2's dictionaries decide
   * whether a component is split into sub-components; both shapes are read the same way here.
   */
  get(component = 1, sub?: number): string | undefined {
    // A mapping reads the same components again (each row's conditions, then its value): read once.
    if (sub !== undefined && sub >= 1024) return this.readComponent(component, sub);
    const at = component * 1024 + (sub ?? 0);
    if (this.read.has(at)) return this.read.get(at);
    const v = this.readComponent(component, sub);
    this.read.set(at, v);
    return v;
  }

  private readonly read = new Map<number, string | undefined>();

  private readComponent(component: number, sub: number | undefined): string | undefined {
    const comp = this.rep.components?.[component - 1];
    if (!comp) return undefined;
    let v: string | undefined;
    if (comp.isPrimitive) {
      v = asText(comp.getValue());
      if (v !== undefined && sub !== undefined) v = v.split(this.subSeparator)[sub - 1];
    } else v = asText(comp.getValue(sub ?? 1));
    return v === '' ? undefined : v;
  }

  isEmpty(): boolean {
    return this.rep.isEmpty();
  }
}

/** One segment with its occurrence number among segments of the same type. */
export class V2Segment {
  constructor(readonly seg: HL7Segment, readonly type: string, readonly sequence: number, readonly position: number, private readonly subSeparator: string) {}

  private readonly repCache = new Map<number, V2Rep[]>();

  /** The repetitions of field `n` (empty array when the field is empty). Read-only views, cached. */
  reps(n: number): V2Rep[] {
    let reps = this.repCache.get(n);
    if (!reps) {
      const f = this.seg.fields[n - 1];
      reps = f ? f.repetitions.map((r, i) => new V2Rep(r, this.subSeparator, i)).filter((r) => !r.isEmpty()) : [];
      this.repCache.set(n, reps);
    }
    return reps;
  }

  /** Component of the first repetition of field `n`. */
  get(n: number, component = 1, sub?: number): string | undefined {
    return this.reps(n)[0]?.get(component, sub);
  }
}

/** A parsed message: hl7v2's model plus positional reads. */
export class V2Message {
  readonly segments: V2Segment[];
  /** The segments of each type, in message order (a mapping asks for them by type, row after row). */
  private readonly byType = new Map<string, V2Segment[]>();

  private constructor(readonly hl7: HL7Message) {
    this.segments = hl7.segments.map((s, i) => {
      let same = this.byType.get(s.segmentType);
      if (!same) this.byType.set(s.segmentType, (same = []));
      const seg = new V2Segment(s, s.segmentType, same.length + 1, i, hl7.subComponentSeparator);
      same.push(seg);
      return seg;
    });
  }

  /**
   * Parses ER7 text (segments separated by CR, CRLF or LF). Never throws anything but V2ParseError.
   * @see HL7 v2.5.1 section 2.7
   */
  static parse(text: string, options: { charset?: Charset } = {}): V2Message {
    let normalised = normaliseText(text);
    if (!normalised.startsWith('MSH')) throw new V2ParseError('The message does not start with an MSH segment', 100, { segment: 'MSH', sequence: 1 });
    // \Xhh..\ is hexadecimal data in the message's own character set, not always UTF-8.
    const charset = options.charset ?? DEFAULT_CHARSET;
    const hex = decodeHexEscapes(normalised, charset);
    if ('badOffset' in hex) {
      const l = locate(normalised, hex.badOffset);
      throw new V2ParseError(`A \\X..\\ escape in ${l.segment}${l.field ? `-${l.field}` : ''} is not valid ${charset} (the character set of the message)`, 102, l);
    }
    normalised = hex.text;
    let hl7: HL7Message;
    try {
      const { lib, verbatim } = library();
      hl7 = lib.HL7Message.parse(normalised, { dictionaries: verbatim });
    } catch (e) {
      // hl7v2 reports positions; its message text may quote data, so only the position is kept.
      const err = e as { segmentType?: string; fieldPosition?: number };
      throw new V2ParseError('The message could not be parsed', 102, err.segmentType ? { segment: err.segmentType, sequence: 1, field: err.fieldPosition } : undefined);
    }
    for (const s of hl7.segments) {
      if (!/^[A-Z][A-Z0-9]{2}$/.test(s.segmentType)) throw new V2ParseError('A segment has an invalid segment id', 100);
    }
    return new V2Message(hl7);
  }

  get header(): V2Segment {
    return this.segments[0];
  }

  all(type: string): readonly V2Segment[] {
    return this.byType.get(type) ?? [];
  }

  first(type: string): V2Segment | undefined {
    return this.byType.get(type)?.[0];
  }
}

function asText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined; // `""` (explicit null) reads as absent
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return String(v);
}

/**
 * Line endings to CR; formatting escapes (\.br\, \H\, ...) that hl7v2 does not know become a
 * newline hex escape or nothing, so text fields read as plain text.
 */
function normaliseText(text: string): string {
  let t = text.replace(/^[\s\x0b]+/, '').replace(/[\x1c\s]+$/, '').replace(/\r\n|\n/g, '\r');
  const esc = t.startsWith('MSH') ? t[6] : '\\';
  if (esc && !/[\r\sA-Za-z0-9]/.test(esc)) {
    const e = esc.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    t = t
      .replace(new RegExp(`${e}\\.(?:br|sp)${e}`, 'g'), `${esc}X0A${esc}`)
      .replace(new RegExp(`${e}(?:H|N|\\.(?:fi|nf|ce|in[+-]?\\d*|ti[+-]?\\d*|sk[+-]?\\d*))${e}`, 'g'), '');
  }
  return t;
}
