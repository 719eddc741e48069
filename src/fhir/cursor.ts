import type { Cursor, SortOrder } from '../store/store.js';
import type { Micros } from './instant.js';
import { FhirError } from './errors.js';

/**
 * Paging cursors are opaque to clients: base64url of the sort they belong to, the instant the search
 * reads the data at, and the keyset position where the previous page ended. Every page reads the same
 * instant in the same order, so writes meanwhile never make a page skip or repeat a resource.
 */
export interface PageCursor extends Cursor {
  asOf: Micros;
}

export function encodeCursor(sort: SortOrder, c: PageCursor): string {
  return Buffer.from(JSON.stringify({ s: sort, t: c.asOf, k: c.key, r: c.rid })).toString('base64url');
}

export function decodeCursor(text: string, sort: SortOrder): PageCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const p = parsed as { s?: unknown; t?: unknown; k?: unknown; r?: unknown } | undefined;
  if (!p || p.s !== sort || !Number.isSafeInteger(p.t) || !Number.isSafeInteger(p.k) || !Number.isSafeInteger(p.r)) {
    throw new FhirError(400, 'invalid', 'The paging cursor is not valid for this search; start again from the first page', '_cursor');
  }
  return { asOf: p.t as number, key: p.k as number, rid: p.r as number };
}
