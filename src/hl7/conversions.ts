/**
 * Data-type conversions named by the mapping files (mappings/*.json, "type"). Each takes the
 * value as sent and returns the target value, or a table 0357 error. Keeping them here, small and
 * named, is what lets a mapping row stay pure data.
 * @see HL7 v2.5.1 chapter 2A (data types)
 */
import { ESO_BASE } from '../fhir/eso-urls.ts';
import { isValidNhsNumber, normaliseNhsNumber } from '../fhir/uk-core.ts';
import type { V2Rep } from './v2-message.ts';

/** A vocabulary from a mapping file: a v2 table (or text prefixes) mapped to target codes. */
export interface Vocabulary {
  description: string;
  table?: string;
  match: 'exact' | 'prefix';
  map: Record<string, string | boolean | null>;
  /** What a value not in `map` does: an error (table 0357 code 103), the default, or nothing. */
  unknown: 'error' | 'default' | 'omit';
  default?: string | boolean;
}

export type Converted = { ok: true; value: unknown } | { ok: false; code: 101 | 102 | 103; text: string };

export interface ConvertInput {
  /** The (joined) text value. */
  value: string;
  /** The repetition it came from, for composite types (XTN, ED). */
  rep?: V2Rep;
  vocabulary?: Vocabulary;
  /** What the value is called in error texts: the source path, e.g. "PID-7". */
  label: string;
  /** IANA zone for timestamps sent without an offset (HL7 TS defaults to the sender's local time). */
  timeZone: string;
}

const ok = (value: unknown): Converted => ({ ok: true, value });
const bad = (code: 101 | 102 | 103, text: string): Converted => ({ ok: false, code, text });

/** The NHS number's OID (an assigning authority's universal id). */
export const NHS_OID = '2.16.840.1.113883.2.1.4.1';

/** Whitespace-free base64, padded; undefined when it is not base64 (bad characters, '=' inside, a length no encoder makes). */
export function strictBase64(data: string): string | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 === 1) return undefined;
  const padded = data.replace(/=+$/, '').padEnd(Math.ceil(data.replace(/=+$/, '').length / 4) * 4, '=');
  if (padded.length === 0 || Buffer.from(padded, 'base64').toString('base64') !== padded) return undefined;
  return padded;
}

/** YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ] (HL7 DTM / TS component 1). */
const TS = /^(\d{4})(\d{2})?(\d{2})?(?:(\d{2})(\d{2})?(?:(\d{2})(?:\.(\d{1,4}))?)?)?([+-]\d{4})?$/;

/** Inbound conversions (v2 text → EsoRequestInput value). */
export const inbound: Record<string, (input: ConvertInput) => Converted> = {
  string: ({ value }) => ok(value.trim() || undefined),
  /** Free text: keeps line breaks, trims each end. */
  text: ({ value }) => ok(value.replace(/[ \t]+\n/g, '\n').trim() || undefined),
  upper: ({ value }) => ok(value.trim().toUpperCase() || undefined),
  /** A referral id is unique only within its sender: MSH-4 (an ODS code) names the identifier system. */
  referralSystem: ({ value }) => ok(value.trim() ? `${ESO_BASE}/Id/referral/${value.trim().toUpperCase()}` : undefined),
  /** DT (or the date part of a TS): needs day precision; YYYY-MM-DD. */
  date: ({ value, label }) => {
    const m = TS.exec(value.trim());
    if (!m || !m[3] || !validDate(m[1], m[2], m[3])) return bad(102, `${label} must be a date with day precision (YYYYMMDD)`);
    return ok(`${m[1]}-${m[2]}-${m[3]}`);
  },
  /** TS/DTM: ISO 8601 with an offset; date-only values stay dates. */
  dateTime: ({ value, label, timeZone }) => {
    const m = TS.exec(value.trim());
    if (!m || !m[3] || !validDate(m[1], m[2], m[3])) return bad(102, `${label} must be a timestamp with at least day precision`);
    const date = `${m[1]}-${m[2]}-${m[3]}`;
    if (!m[4]) return ok(date);
    const hh = Number(m[4]), mi = Number(m[5] ?? '0'), ss = Number(m[6] ?? '0');
    if (hh > 23 || mi > 59 || ss > 59) return bad(102, `${label} has an invalid time`);
    const time = `${m[4]}:${m[5] ?? '00'}:${m[6] ?? '00'}`;
    const offset = m[8] ? `${m[8].slice(0, 3)}:${m[8].slice(3)}` : zoneOffset(date, time, timeZone);
    return ok(`${date}T${time}${offset}`);
  },
  code: ({ value, vocabulary, label }) => lookup(value.trim(), vocabulary, label),
  boolean: ({ value, vocabulary, label }) => lookup(value.trim().toUpperCase(), vocabulary, label),
  /** PID-3.1 with identifier type NH: ten digits with a valid modulus-11 check digit. */
  nhsNumber: ({ value, label }) => {
    const n = normaliseNhsNumber(value);
    if (!/^\d{10}$/.test(n)) return bad(102, `${label}: an NHS number is 10 digits`);
    if (!isValidNhsNumber(n)) return bad(102, `${label}: the NHS number check digit is wrong`);
    return ok(n);
  },
  /** An organisation (ODS) code: trimmed, upper case. */
  odsCode: ({ value, label }) => {
    const v = value.trim().toUpperCase();
    return /^[A-Z0-9]{3,10}$/.test(v) ? ok(v) : bad(102, `${label} is not an ODS code`);
  },
  /** XTN repetition → { system, value }: e-mail when XTN-3 is Internet, else a phone number. */
  telecom: ({ rep }) => {
    if (!rep) return ok(undefined);
    const equipment = rep.get(3)?.toUpperCase();
    const address = rep.get(4)?.trim();
    if ((equipment === 'INTERNET' || equipment === 'X.400') && address) return ok({ system: 'email', value: address });
    const composed = [rep.get(5) ? `+${rep.get(5)}` : undefined, rep.get(6), rep.get(7)].filter(Boolean).join(' ');
    const phone = (rep.get(1) ?? rep.get(12) ?? composed).trim();
    return ok(phone ? { system: 'phone', value: phone } : undefined);
  },
  /**
   * ED data (component 5) by its encoding (component 4, table 0299), as base64. A document that
   * cannot be read is an error, never dropped: data in the wrong component, bad base64 or hex,
   * an unknown encoding.
   */
  edData: ({ rep, label }) => {
    if (!rep) return bad(101, `${label} is empty: an encapsulated document (ED) needs its data in component 5`);
    const raw = rep.get(5);
    const data = raw?.replace(/\s+/g, '');
    if (!data) {
      // A sender that left out ED-1 (source application) shifts every component one to the left.
      const shifted = [1, 2, 3, 4].find((c) => (rep.get(c)?.replace(/\s+/g, '').length ?? 0) > 16);
      return bad(shifted ? 102 : 101, shifted
        ? `${label}: the document data is in component ${shifted}, not 5 (ED is source^type^subtype^encoding^data): components out of place`
        : `${label}.5 (the document data) is empty: the encapsulated document cannot be read`);
    }
    const encoding = (rep.get(4) ?? '').toUpperCase();
    if (encoding === 'BASE64') {
      const b = strictBase64(data);
      return b ? ok(b) : bad(102, `${label}.5 is not valid base64 (ED-4 says Base64): the document cannot be read`);
    }
    if (encoding === 'HEX') return /^([0-9A-Fa-f]{2})+$/.test(data) ? ok(Buffer.from(data, 'hex').toString('base64')) : bad(102, `${label}.5 is not valid hex (ED-4 says Hex)`);
    if (encoding === 'A') return ok(Buffer.from(raw ?? '', 'utf8').toString('base64'));
    if (!encoding) return bad(101, `${label}.4 (encoding: Base64, Hex or A, table 0299) is empty: the document cannot be read`);
    return bad(103, `${label}.4: encoding '${encoding}' is not one of Base64, Hex, A (table 0299)`);
  },
  /**
   * "type/subtype" from ED-2/ED-3 or RP-3/RP-4: a v2 type code (AP, IM, ... table 0191) or a MIME
   * top-level type. An unknown type is an error (the document would be stored as something it is not).
   */
  mimeType: ({ value, vocabulary, label }) => {
    const [type = '', subtype = ''] = value.includes('/') ? value.split('/') : [value, ''];
    if (!type.trim()) return ok('application/octet-stream');
    const t = vocabulary?.map[type.trim().toUpperCase()] ?? type.trim().toLowerCase();
    if (typeof t !== 'string' || !/^(application|image|text|audio|video|multipart|model)$/.test(t)) {
      return bad(103, `${label}: type of data '${type.trim()}' is not known (table 0191, e.g. AP, IM, TX, or a MIME type such as application)`);
    }
    if (!subtype.trim()) return ok(t === 'text' ? 'text/plain' : 'application/octet-stream');
    const sub = subtype.trim().toLowerCase();
    if (!/^[a-z0-9][a-z0-9!#$&^_.+-]*$/.test(sub)) return bad(102, `${label}: subtype '${subtype.trim()}' is not a MIME subtype`);
    return ok(`${t}/${sub}`);
  },
  /**
   * A CX repetition (PID-3) → { system, value, type?, assigner?, oid? }: the NHS number by its
   * authority, an authority with an OID as urn:oid, any other authority's namespace under ours.
   */
  identifier: ({ rep }) => {
    const value = rep?.get(1)?.trim();
    if (!rep || !value) return ok(undefined);
    const namespace = rep.get(4, 1)?.trim();
    const universal = rep.get(4, 2)?.trim();
    const type = rep.get(5)?.trim().toUpperCase();
    const isNhs = [namespace, universal].some((v) => v?.toUpperCase() === 'NHS' || v === NHS_OID);
    if (isNhs) return ok({ system: 'https://fhir.nhs.uk/Id/nhs-number', value: normaliseNhsNumber(value), ...(type ? { type } : {}) });
    const system = universal && /^[0-2](\.\d+)+$/.test(universal)
      ? `urn:oid:${universal}`
      : `${ESO_BASE}/Id/local-patient-identifier/${encodeURIComponent((namespace || 'UNKNOWN').toUpperCase())}`;
    return ok({ system, value, ...(type ? { type } : {}), ...(namespace ? { assigner: namespace } : {}) });
  },
  /** An XPN repetition → { family, given?, prefix?, use }: the name type (component 7, table 0200) via the vocabulary. */
  personName: ({ rep, vocabulary, label }) => {
    const family = rep?.get(1, 1)?.trim() ?? rep?.get(1)?.trim();
    if (!rep || !family) return ok(undefined);
    const given = [rep.get(2), rep.get(3)].map((g) => g?.trim()).filter((g): g is string => !!g);
    const prefix = rep.get(5)?.trim();
    const code = rep.get(7)?.trim() ?? '';
    const use = code ? lookup(code, vocabulary, `${label}.7`) : ok(undefined);
    if (!use.ok) return use;
    return ok({ family, ...(given.length ? { given } : {}), ...(prefix ? { prefix: [prefix] } : {}), ...(use.value ? { use: use.value } : {}) });
  },
  /**
   * A CE/CWE repetition whose code is not in the vocabulary (an unlisted code, or words such as
   * "Grandmother" in component 1): its text (component 2, else component 1), kept as sent.
   */
  unlistedText: ({ rep, vocabulary }) => {
    const code = rep?.get(1)?.trim() ?? '';
    const text = rep?.get(2)?.trim();
    if (!code && !text) return ok(undefined);
    const listed = Object.keys(vocabulary?.map ?? {}).some((k) => k.toUpperCase() === code.toUpperCase());
    return ok(listed ? undefined : (text || code));
  },
  url: ({ value, label }) => {
    try {
      return ok(new URL(value.trim()).toString());
    } catch {
      return bad(102, `${label} is not a URL`);
    }
  },
  /** The code of the first vocabulary prefix the text starts with (e.g. "Family question:" → family). */
  prefixCode: ({ value, vocabulary, label }) => {
    const hit = matchPrefix(value, vocabulary);
    return hit ? ok(hit[1]) : lookup('', vocabulary && { ...vocabulary, unknown: 'default' }, label);
  },
  /** The text without the vocabulary prefix it starts with. */
  stripPrefix: ({ value, vocabulary }) => {
    const hit = matchPrefix(value, vocabulary);
    return ok((hit ? value.trimStart().slice(hit[0].length) : value).trim() || undefined);
  },
};

function matchPrefix(value: string, vocabulary: Vocabulary | undefined): [string, unknown] | undefined {
  const t = value.trimStart().toLowerCase();
  return Object.entries(vocabulary?.map ?? {}).find(([prefix]) => t.startsWith(prefix.toLowerCase()));
}

function lookup(code: string, vocabulary: Vocabulary | undefined, label: string): Converted {
  if (!vocabulary) return bad(103, `${label}: no vocabulary configured`);
  const key = Object.keys(vocabulary.map).find((k) => k.toUpperCase() === code.toUpperCase());
  if (key !== undefined) return ok(vocabulary.map[key] ?? undefined);
  if (vocabulary.unknown === 'default') return ok(vocabulary.default);
  if (vocabulary.unknown === 'omit') return ok(undefined);
  return bad(103, `${label}: '${code}' is not a known value${vocabulary.table ? ` of ${vocabulary.table}` : ''}`);
}

function validDate(y: string, m: string | undefined, d: string | undefined): boolean {
  const date = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
  return date.getUTCFullYear() === Number(y) && date.getUTCMonth() === Number(m) - 1 && date.getUTCDate() === Number(d);
}

/** The UTC offset ("+01:00") of a wall-clock time in `timeZone` (British Summer Time aware). */
export function zoneOffset(date: string, time: string, timeZone: string): string {
  const asUtc = Date.parse(`${date}T${time}Z`);
  const offsetAt = (instant: number) => {
    const name = new Intl.DateTimeFormat('en-GB', { timeZone, timeZoneName: 'longOffset' }).formatToParts(instant).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
    const m = /GMT([+-])(\d{2}):?(\d{2})?/.exec(name);
    return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? '0')) : 0;
  };
  // Two passes: the offset at the guessed instant, then at the corrected one (DST edges).
  const minutes = offsetAt(asUtc - offsetAt(asUtc) * 60_000);
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** Adds days to a YYYY-MM-DD date (for "until = message date + 90 days" fallbacks). */
export function addDays(isoDate: string, days: number): string {
  const d = new Date(`${isoDate.slice(0, 10)}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Outbound conversions (event value → v2 leaf text). */
export const outbound: Record<string, (value: unknown, vocabulary: Vocabulary | undefined, label: string) => string | undefined> = {
  string: (v) => (v === undefined || v === null || v === '' ? undefined : String(v)),
  /** FHIR date/dateTime → HL7 DT (YYYYMMDD). */
  v2Date: (v) => (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v) ? v.slice(0, 10).replace(/-/g, '') : undefined),
  /** FHIR dateTime/instant → HL7 DTM with its offset (YYYYMMDDHHMMSS+ZZZZ). */
  v2DateTime: (v) => {
    if (typeof v !== 'string') return undefined;
    const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:\d{2}))?$/.exec(v);
    if (!m) return undefined;
    if (!m[4]) return `${m[1]}${m[2]}${m[3]}`;
    const tz = m[7] === 'Z' ? '+0000' : m[7].replace(':', '');
    return `${m[1]}${m[2]}${m[3]}${m[4]}${m[5]}${m[6] ?? '00'}${tz}`;
  },
  code: (v, vocabulary, label) => {
    if (v === undefined || v === null) return undefined;
    const hit = vocabulary?.map[String(v)];
    if (typeof hit === 'string') return hit;
    if (vocabulary?.unknown === 'default' && typeof vocabulary.default === 'string') return vocabulary.default;
    if (vocabulary?.unknown === 'omit') return undefined;
    throw new Error(`${label}: no v2 code for '${String(v)}'`);
  },
  /** MIME type → its major part (ED-2 / RP-3), as the samples send it ("application"). */
  mimeMajor: (v) => (typeof v === 'string' && v.includes('/') ? v.split('/')[0] : undefined),
  /** MIME type → its subtype (ED-3 / RP-4), as the samples send it ("pdf"). */
  mimeMinor: (v) => (typeof v === 'string' && v.includes('/') ? v.split('/')[1].split(';')[0].trim() : undefined),
  /** A Patient identifier → CX-4.1 (assigning authority namespace): NHS, the sender's own authority as it sent it, or none for an OID. */
  cxAuthority: (v) => {
    const id = asIdentifier(v);
    if (!id) return undefined;
    if (id.system === NHS_SYSTEM) return 'NHS';
    if (id.assigner?.display) return id.assigner.display;
    const local = `${ESO_BASE}/Id/local-patient-identifier/`;
    return id.system?.startsWith(local) ? decodeURIComponent(id.system.slice(local.length)) : undefined;
  },
  /** A Patient identifier → CX-4.2 (universal id): the OID of a urn:oid system. */
  cxAuthorityOid: (v) => oidOf(asIdentifier(v)),
  /** A Patient identifier → CX-4.3 (universal id type): ISO with an OID. */
  cxAuthorityType: (v) => (oidOf(asIdentifier(v)) ? 'ISO' : undefined),
  /** A Patient identifier → CX-5 (identifier type, table 0203): as the sender typed it; NH for the NHS number. */
  cxType: (v) => {
    const id = asIdentifier(v);
    const sent = id?.type?.coding?.find((c) => c.system === V2_0203)?.code;
    return sent ?? (id?.system === NHS_SYSTEM ? 'NH' : undefined);
  },
  /** Whitespace-free base64. */
  base64: (v) => (typeof v === 'string' && v ? v.replace(/\s+/g, '') : undefined),
};

const NHS_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
type IdentifierLike = { system?: string; value?: string; type?: { coding?: { system?: string; code?: string }[] }; assigner?: { display?: string } };
const asIdentifier = (v: unknown): IdentifierLike | undefined => (v !== null && typeof v === 'object' ? (v as IdentifierLike) : undefined);
const oidOf = (id: IdentifierLike | undefined): string | undefined => (id?.system?.startsWith('urn:oid:') ? id.system.slice(8) : undefined);
