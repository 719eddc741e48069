import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FhirError } from '../../src/fhir/errors.js';
import { pointerTo, problemFromFhir, problemFromZod } from '../../src/json-api/problem.js';

describe('JSON API problem details', () => {
  it('writes RFC 6901 pointers in URI-fragment form, escaping ~ and /', () => {
    expect(pointerTo([])).toBe('#');
    expect(pointerTo(['patient', 'name', 'given', 0])).toBe('#/patient/name/given/0');
    expect(pointerTo(['a/b', '~x'])).toBe('#/a~1b/~0x');
  });

  it('gives every zod issue its pointer, and calls missing fields "required"', () => {
    const schema = z.object({ a: z.string(), b: z.object({ c: z.number() }) }).strict();
    const missing = problemFromZod(schema.safeParse({ b: {} }, { reportInput: true }).error!).problem;
    expect(missing).toMatchObject({ status: 400, type: 'https://signpost.health/problems/required' });
    expect(missing.errors!.map((e) => e.pointer)).toEqual(['#/a', '#/b/c']);
    const wrong = problemFromZod(schema.safeParse({ a: 1, b: { c: 2 } }, { reportInput: true }).error!).problem;
    expect(wrong.type).toBe('https://signpost.health/problems/invalid');
    expect(wrong.detail).toMatch(/^#\/a: /);
  });

  it('keeps a FHIR refusal\'s status, headers and issue type, and maps each expression to a field, a header or the whole body', () => {
    const err = FhirError.many(422, [
      { code: 'business-rule', diagnostics: 'cannot move from completed', expression: ['Task.status'] },
      { code: 'conflict', diagnostics: 'stale', expression: ['Task.meta.versionId'] },
      { code: 'invalid', diagnostics: 'elsewhere', expression: ['Task.note'] },
    ]);
    const p = problemFromFhir(err, (e) => (e === 'Task.status' ? { pointer: '#/status' } : undefined)).problem;
    expect(p).toMatchObject({ status: 422, type: 'https://signpost.health/problems/business-rule', detail: 'cannot move from completed' });
    expect(p.errors).toEqual([
      { pointer: '#/status', detail: 'cannot move from completed' },
      { header: 'If-Match', detail: 'stale' },
      { pointer: '#', detail: 'elsewhere' },
    ]);
    const withHeaders = problemFromFhir(new FhirError(401, 'login', 'no token', undefined, { 'WWW-Authenticate': 'Bearer' }));
    expect(withHeaders.headers).toEqual({ 'WWW-Authenticate': 'Bearer' });
  });
});
