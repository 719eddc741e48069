import type { Micros } from '../fhir/instant.js';
import type { Stored } from '../store/store.js';
import { problem } from './problem.js';

/**
 * Where a reader of the referral list got to: the last-change instant of the last referral it was given,
 * and which referrals it was given at exactly that instant. The next page starts at that instant (not
 * after it), leaving out only those: a Task written in the same commit as the last one given (several
 * versions may share an instant) is not skipped. Opaque to clients: base64url JSON.
 */
export interface ListCursor {
  from: Micros;
  seen: string[];
  encoded: string;
}

const encode = (from: Micros, seen: string[]): ListCursor =>
  ({ from, seen, encoded: Buffer.from(JSON.stringify({ f: from, s: seen })).toString('base64url') });

/** The cursor an `after` parameter carries; no parameter starts from the beginning. */
export function listCursor(after: unknown): ListCursor {
  if (after === undefined) return encode(0, []);
  try {
    if (typeof after !== 'string' || after.length > 4096) throw new Error('not a cursor');
    const { f, s } = JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) as { f: unknown; s: unknown };
    if (!Number.isSafeInteger(f) || (f as number) < 0 || !Array.isArray(s) || !s.every((x) => typeof x === 'string')) throw new Error('not a cursor');
    return encode(f as number, s as string[]);
  } catch {
    throw problem(400, 'value', 'after= is not a cursor this API gave out: pass the next of a page unchanged',
      [{ parameter: 'after', detail: 'not a cursor from this API' }]);
  }
}

/** The cursor of a reader who has been given every change before `from` (the bench starts its pollers there). */
export const listCursorAt = (from: Micros): string => encode(from, []).encoded;

/** The cursor after a page: where the page ended, or where it started when the page was empty. */
export function nextCursor(from: ListCursor, page: readonly Stored[]): ListCursor {
  const last = page.at(-1);
  if (!last) return from;
  const at = last.lastUpdated;
  const sameInstant = page.filter((t) => t.lastUpdated === at).map((t) => t.id);
  return encode(at, at === from.from ? [...from.seen, ...sameInstant] : sameInstant);
}
