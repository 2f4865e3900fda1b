/** The sample messages (test/fixtures/hl7) and helpers to derive scenario variants from them. */
import { readFileSync } from 'node:fs';

const FIXTURES = new URL('../../fixtures/hl7/', import.meta.url);

/** A shared sample (copied unchanged from the project's samples/ into test/fixtures/hl7), as on the wire (CR-separated). */
export const sample = (name: 'REF_I12-v251-inpatient-urgent' | 'REF_I12-v24-outpatient-minimal' | 'REF_I12-v23-enhanced-ack'): string =>
  readFileSync(new URL(`${name}.hl7`, FIXTURES), 'utf8');

/** A file from test/fixtures/hl7. */
export const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
export const fixtureJson = (name: string): unknown => JSON.parse(fixture(name));

const segments = (text: string) => text.split('\r').filter(Boolean);

/** Replaces field `n` of the `occurrence`-th segment `type` (MSH-n counts the field separator as MSH-1). */
export function setField(text: string, type: string, n: number, value: string, occurrence = 1): string {
  let seen = 0;
  return segments(text)
    .map((line) => {
      if (!line.startsWith(`${type}|`) || ++seen !== occurrence) return line;
      const parts = line.split('|');
      const index = type === 'MSH' ? n - 1 : n;
      while (parts.length <= index) parts.push('');
      parts[index] = value;
      return parts.join('|');
    })
    .join('\r') + '\r';
}

/** Removes every segment of `type`. */
export const dropSegments = (text: string, type: string): string => segments(text).filter((l) => !l.startsWith(`${type}|`)).join('\r') + '\r';

/** Appends segment lines. */
export const addSegments = (text: string, ...lines: string[]): string => [...segments(text), ...lines].join('\r') + '\r';

/** Field `n` of the first segment `type` of an ER7 text (MSH counted as in the standard). */
export function field(text: string, type: string, n: number, occurrence = 1): string | undefined {
  const line = text.split(/\r/).filter((l) => l.startsWith(`${type}|`))[occurrence - 1];
  return line?.split('|')[type === 'MSH' ? n - 1 : n];
}
