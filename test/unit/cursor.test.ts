import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, type PageCursor } from '../../src/fhir/cursor.js';
import { FhirError } from '../../src/fhir/errors.js';
import type { SortOrder } from '../../src/store/store.js';

const SORTS: SortOrder[] = ['default', '_lastUpdated', '-_lastUpdated'];
const b64 = (text: string) => Buffer.from(text).toString('base64url');

function refusal(text: string, sort: SortOrder): FhirError {
  try {
    decodeCursor(text, sort);
  } catch (e) {
    if (e instanceof FhirError) return e;
    throw e;
  }
  throw new Error(`cursor ${text} was accepted`);
}

describe('paging cursors', () => {
  it.each<[SortOrder, PageCursor]>([
    ['default', { asOf: 1, key: 1, rid: 1 }],
    ['_lastUpdated', { asOf: 1_771_061_415_123_456, key: 1_771_061_415_000_000, rid: 42 }],
    ['-_lastUpdated', { asOf: 0, key: 0, rid: 0 }],
    ['default', { asOf: Number.MAX_SAFE_INTEGER, key: Number.MAX_SAFE_INTEGER, rid: Number.MAX_SAFE_INTEGER }],
    ['_lastUpdated', { asOf: -1, key: -1_000_000, rid: -5 }],
  ])('round-trips %s %j', (sort, cursor) => {
    const text = encodeCursor(sort, cursor);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/); // safe in a URL as it stands
    expect(decodeCursor(text, sort)).toEqual(cursor);
  });

  it('round-trips any safe integers under any sort (property)', () => {
    fc.assert(fc.property(fc.constantFrom(...SORTS), fc.maxSafeInteger(), fc.maxSafeInteger(), fc.maxSafeInteger(), (sort, asOf, key, rid) => {
      expect(decodeCursor(encodeCursor(sort, { asOf, key, rid }), sort)).toEqual({ asOf, key, rid });
    }), { seed: 20_260_214 });
  });

  it.each(SORTS.flatMap((a) => SORTS.filter((b) => b !== a).map((b) => [a, b] as const)))('a %s cursor is refused for a %s search', (made, used) => {
    const e = refusal(encodeCursor(made, { asOf: 1, key: 1, rid: 1 }), used);
    expect([e.status, e.issues[0]?.code, e.issues[0]?.expression]).toEqual([400, 'invalid', ['_cursor']]);
  });

  it.each<[string, string]>([
    ['empty', ''],
    ['not base64url', '!!!'],
    ['not JSON', b64('{')],
    ['JSON null', b64('null')],
    ['a number', b64('5')],
    ['an array', b64('[]')],
    ['raw JSON, not encoded', '{"s":"default","t":1,"k":1,"r":1}'],
    ['no rid', b64('{"s":"default","t":1,"k":1}')],
    ['no key', b64('{"s":"default","t":1,"r":1}')],
    ['no instant', b64('{"s":"default","k":1,"r":1}')],
    ['a fractional key', b64('{"s":"default","t":1,"k":1.5,"r":1}')],
    ['a string key', b64('{"s":"default","t":1,"k":"1","r":1}')],
    ['an unsafe rid', b64(`{"s":"default","t":1,"k":1,"r":${2 ** 53}}`)],
    ['an infinite key', b64('{"s":"default","t":1,"k":1e400,"r":1}')],
    ['no sort', b64('{"t":1,"k":1,"r":1}')],
  ])('refuses %s with 400 at _cursor', (_what, text) => {
    const e = refusal(text, 'default');
    expect([e.status, e.issues[0]?.code, e.issues[0]?.expression]).toEqual([400, 'invalid', ['_cursor']]);
  });

  it('refuses any other text with a 400 FhirError, never another exception (property)', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.jsonValue().map((v) => b64(JSON.stringify(v)))), fc.constantFrom(...SORTS), (text, sort) => {
      try {
        const c = decodeCursor(text, sort);
        expect([c.asOf, c.key, c.rid].every(Number.isSafeInteger)).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(FhirError);
        expect((e as FhirError).status).toBe(400);
      }
    }), { seed: 20_260_214, numRuns: 500 });
  });
});
