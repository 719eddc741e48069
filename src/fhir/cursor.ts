import type { Cursor, SortOrder } from '../store/store.js';
import { FhirError } from './errors.js';

/**
 * Paging cursors are opaque to clients: base64url of the sort they belong to and the keyset position
 * where the previous page ended. Keyset paging means a page never skips or repeats a resource because
 * others were inserted meanwhile.
 */
export function encodeCursor(sort: SortOrder, c: Cursor): string {
  return Buffer.from(JSON.stringify({ s: sort, k: c.key, r: c.rid })).toString('base64url');
}

export function decodeCursor(text: string, sort: SortOrder): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const p = parsed as { s?: unknown; k?: unknown; r?: unknown } | undefined;
  if (!p || p.s !== sort || !Number.isSafeInteger(p.k) || !Number.isSafeInteger(p.r)) {
    throw new FhirError(400, 'invalid', 'The paging cursor is not valid for this search; start again from the first page', '_cursor');
  }
  return { key: p.k as number, rid: p.r as number };
}
