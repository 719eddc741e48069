/**
 * Time as the store keeps it: integer microseconds since the Unix epoch. meta.lastUpdated is rendered
 * with six fractional digits so that a poller echoing it back names exactly one point in commit order.
 */
export type Micros = number;

export function formatInstant(us: Micros): string {
  const ms = Math.floor(us / 1000);
  const frac = us - ms * 1000;
  // toISOString ends in ".mmmZ": the microseconds go before the Z (every audited request formats one).
  return `${new Date(ms).toISOString().slice(0, -1)}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
}

/** An inclusive range of microseconds: what a FHIR date/dateTime/instant of some precision covers. */
export interface MicroRange {
  lo: Micros;
  hi: Micros;
}

// FHIR R4 dateTime/instant lexical form (http://hl7.org/fhir/R4/datatypes.html#dateTime).
// Zones as FHIR allows them: Z, or ±hh:mm up to 14:00.
const DATE_TIME =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00))?)?)?)?$/;

/** Milliseconds since the epoch of a UTC date and time; unlike Date.UTC, years 0-99 are not shifted to 19xx. */
function utcMs(year: number, month0: number, day: number, h = 0, mi = 0, s = 0): number {
  const d = new Date(Date.UTC(2000, month0, day, h, mi, s));
  d.setUTCFullYear(year, month0, day);
  return d.getTime();
}

/**
 * Parses a FHIR date, dateTime or instant into the range it denotes, or undefined when it is not one.
 * A time without a zone is read as UTC (the server's zone), as the FHIR search page allows.
 */
export function parseDateRange(text: string): MicroRange | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  if (year < 1) return undefined;
  const month = mo === undefined ? 1 : Number(mo);
  const day = d === undefined ? 1 : Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || (s !== undefined && Number(s) > 59))) return undefined;
  if (h !== undefined && s === undefined && mi === undefined) return undefined;
  let offsetMin = 0;
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    offsetMin = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  }
  const baseMs = utcMs(year, month - 1, day, Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0)) - offsetMin * 60_000;
  const fracUs = frac === undefined ? 0 : Math.floor(Number(frac.padEnd(6, '0').slice(0, 6)));
  const lo = baseMs * 1000 + fracUs;
  let spanUs: number;
  if (mo === undefined) spanUs = (utcMs(year + 1, 0, 1) - utcMs(year, 0, 1)) * 1000;
  else if (d === undefined) spanUs = daysIn(year, month) * 86_400_000_000;
  else if (h === undefined) spanUs = 86_400_000_000;
  else if (s === undefined) spanUs = 60_000_000;
  else if (frac === undefined) spanUs = 1_000_000;
  else spanUs = 10 ** Math.max(0, 6 - frac.length);
  return { lo, hi: lo + Math.max(1, spanUs) - 1 };
}

function daysIn(year: number, month: number): number {
  return new Date(utcMs(year, month, 0)).getUTCDate();
}

/**
 * A clock that never runs backwards and never repeats: each call returns a strictly larger value than
 * the one before, so values taken in commit order are ordered as the commits were.
 */
export class MonotonicClock {
  constructor(private last: Micros = 0) {}
  next(): Micros {
    const now = Date.now() * 1000;
    this.last = now > this.last ? now : this.last + 1;
    return this.last;
  }
  /** The last value handed out: everything stamped so far is at or before it. */
  current(): Micros {
    return this.last;
  }
  observe(seen: Micros): void {
    if (seen > this.last) this.last = seen;
  }
}
