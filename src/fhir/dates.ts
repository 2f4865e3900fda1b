/** FHIR date, dateTime and instant values as inclusive UTC ranges of their precision. */

const DATE_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

export interface DateRange { low: string; high: string }

/** The range a FHIR date/dateTime/instant covers, or undefined if it is not one. */
export function dateRange(value: string): DateRange | undefined {
  const m = DATE_RE.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const year = Number(y);
  const month = mo ? Number(mo) : undefined;
  if (month !== undefined && (month < 1 || month > 12)) return undefined;
  if (d && (Number(d) < 1 || Number(d) > 31)) return undefined;
  if (h === undefined) {
    const startMonth = month ?? 1;
    const endMonth = month ?? 12;
    const startDay = d ? Number(d) : 1;
    const endDay = d ? Number(d) : new Date(Date.UTC(year, endMonth, 0)).getUTCDate();
    const low = Date.UTC(year, startMonth - 1, startDay);
    const high = Date.UTC(year, endMonth - 1, endDay, 23, 59, 59, 999);
    return valid(low, high);
  }
  const offset = tz && tz !== 'Z' ? (tz[0] === '-' ? -1 : 1) * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6))) : 0;
  const base = Date.UTC(year, (month ?? 1) - 1, Number(d), Number(h), Number(mi), s ? Number(s) : 0) - offset * 60_000;
  if (s === undefined) return valid(base, base + 59_999);
  if (frac === undefined) return valid(base, base + 999);
  const ms = Math.floor(Number(frac) * 1000);
  return valid(base + ms, base + ms);
}

function valid(low: number, high: number): DateRange | undefined {
  if (!Number.isFinite(low) || !Number.isFinite(high)) return undefined;
  return { low: new Date(low).toISOString(), high: new Date(high).toISOString() };
}
