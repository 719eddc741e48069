import { describe, expect, it } from 'vitest';
import { listCursor, nextCursor } from '../../src/json-api/list-cursor.js';
import { ProblemError } from '../../src/json-api/problem.js';
import type { Stored } from '../../src/store/store.js';

const task = (id: string, lastUpdated: number): Stored => ({ type: 'Task', id, version: 1, lastUpdated, method: 'POST', resource: { resourceType: 'Task', id, meta: { versionId: '1', lastUpdated: '' } } });

describe('the referral list cursor', () => {
  it('starts at the beginning, and reads back what it wrote', () => {
    expect(listCursor(undefined)).toMatchObject({ from: 0, seen: [] });
    const c = nextCursor(listCursor(undefined), [task('a', 5), task('b', 9), task('c', 9)]);
    expect(c).toMatchObject({ from: 9, seen: ['b', 'c'] });
    expect(listCursor(c.encoded)).toEqual(c);
  });

  it('stays where it was after an empty page, and adds to what was seen when a page ends at the same instant', () => {
    const c = nextCursor(listCursor(undefined), [task('a', 9)]);
    expect(nextCursor(c, [])).toBe(c);
    expect(nextCursor(c, [task('b', 9)])).toMatchObject({ from: 9, seen: ['a', 'b'] });
    expect(nextCursor(c, [task('b', 9), task('d', 12)])).toMatchObject({ from: 12, seen: ['d'] });
  });

  it('refuses anything it did not give out, as a 400 naming the parameter', () => {
    for (const bad of ['', 'x', Buffer.from('{"f":-1,"s":[]}').toString('base64url'), Buffer.from('{"f":1,"s":[2]}').toString('base64url'), ['a'], 'a'.repeat(5000)]) {
      try {
        listCursor(bad);
        expect.unreachable(`accepted ${String(bad).slice(0, 20)}`);
      } catch (e) {
        expect(e).toBeInstanceOf(ProblemError);
        expect((e as ProblemError).problem).toMatchObject({ status: 400, errors: [{ parameter: 'after' }] });
      }
    }
  });
});
