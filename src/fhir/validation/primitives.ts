/**
 * FHIR R4 primitive types in JSON: the JSON type each needs and its value regex
 * (https://hl7.org/fhir/R4/datatypes.html#primitive). The regexes are the R4 ones, anchored;
 * where an R4 regex backtracks badly on large input (base64Binary, markdown) or relies on
 * Java's ASCII-only `\s` (string), an equivalent linear check is used instead.
 */

const YEAR = '([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)';
const MONTH = '(0[1-9]|1[0-2])';
const DAY = '(0[1-9]|[1-2][0-9]|3[0-1])';
const TIME = '([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?';
const ZONE = '(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))';

const REGEX: Record<string, RegExp> = {
  code: /^[^\s]+(\s[^\s]+)*$/,
  id: /^[A-Za-z0-9\-.]{1,64}$/,
  uri: /^\S*$/,
  url: /^\S*$/,
  canonical: /^\S*$/,
  oid: /^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/,
  uuid: /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  date: new RegExp(`^${YEAR}(-${MONTH}(-${DAY})?)?$`),
  dateTime: new RegExp(`^${YEAR}(-${MONTH}(-${DAY}(T${TIME}${ZONE})?)?)?$`),
  // Unlike dateTime, an instant is always a full timestamp with a zone.
  instant: new RegExp(`^${YEAR}-${MONTH}-${DAY}T${TIME}${ZONE}$`),
  time: new RegExp(`^${TIME}$`),
};

/** C0 controls other than tab, LF and CR: R4 says strings SHOULD NOT hold them, and PostgreSQL text cannot hold NUL. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/;
/** FHIR: "strings SHALL NOT exceed 1MB". base64Binary is exempt (Binary.data carries files). */
const MAX_STRING = 1024 * 1024;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

const NUMBER_TYPES: Record<string, number> = { integer: INT32_MIN, unsignedInt: 0, positiveInt: 1 };

/** The primitive types this module knows; a type outside this set is complex. */
export const PRIMITIVE_TYPES: ReadonlySet<string> = new Set([
  'boolean', 'integer', 'unsignedInt', 'positiveInt', 'decimal', 'string', 'markdown', 'xhtml',
  'base64Binary', 'code', 'id', 'uri', 'url', 'canonical', 'oid', 'uuid', 'date', 'dateTime',
  'instant', 'time',
]);

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The R4 regex accepts 2024-02-31; a real calendar does not. */
function checkCalendar(value: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
  if (m && Number(m[3]) > daysInMonth(Number(m[1]), Number(m[2]))) return `${m[0]} is not a calendar date`;
  return undefined;
}

function isBase64Char(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47; // A-Z a-z 0-9 + /
}

/**
 * base64 with optional whitespace, as a loop: a regex over multi-megabyte Binary.data
 * overflows V8's backtracking stack.
 */
function isBase64(value: string): boolean {
  let chars = 0;
  let padding = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) continue; // space, tab, LF, CR
    if (c === 61) padding++; // '='
    else if (padding > 0 || !isBase64Char(c)) return false;
    chars++;
  }
  return chars > 0 && chars % 4 === 0 && padding <= 2;
}

function checkText(value: string): string | undefined {
  if (value.length > MAX_STRING) return 'is longer than 1 MB';
  if (!/\S/.test(value)) return 'is empty or only whitespace';
  if (CONTROL.test(value)) return 'contains a control character';
  return undefined;
}

function checkString(type: string, value: string): string | undefined {
  if (value.length === 0) return 'is an empty string (FHIR JSON forbids empty values)';
  switch (type) {
    case 'string':
    case 'markdown':
      return checkText(value);
    case 'xhtml':
      return /^\s*<div[\s>]/.test(value) ? undefined : 'must be an XHTML <div> element';
    case 'base64Binary':
      return isBase64(value) ? undefined : 'is not valid base64';
    default: {
      if (value.length > MAX_STRING) return 'is longer than 1 MB';
      const regex = REGEX[type];
      if (regex && !regex.test(value)) return `is not a valid ${type}`;
      if (type === 'date' || type === 'dateTime' || type === 'instant') return checkCalendar(value);
      return undefined;
    }
  }
}

/**
 * Checks one primitive JSON value against its FHIR type.
 * Returns a message fragment (to follow the element name), or undefined when valid.
 */
export function checkPrimitive(type: string, value: unknown): string | undefined {
  if (type === 'boolean') return typeof value === 'boolean' ? undefined : 'must be a JSON boolean';
  if (type === 'decimal') {
    return typeof value === 'number' && Number.isFinite(value) ? undefined : 'must be a JSON number';
  }
  const min = NUMBER_TYPES[type];
  if (min !== undefined) {
    if (typeof value !== 'number' || !Number.isInteger(value)) return `must be a JSON integer (${type})`;
    if (value < min || value > INT32_MAX) return `is out of range for ${type}`;
    return undefined;
  }
  if (typeof value !== 'string') return `must be a JSON string (${type})`;
  return checkString(type, value);
}
