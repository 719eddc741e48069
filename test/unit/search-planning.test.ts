import { describe, expect, it } from 'vitest';
import { searchPlanning } from '../../src/store/sql/search-sql.js';
import type { Filter, SearchQuery } from '../../src/store/store.js';

const search = (type: string, ...filters: Filter[]): SearchQuery => ({ type, sort: 'default', count: 50, filters });
const granted: Filter = { kind: 'granted', org: 'SP001' };
const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const nhsNumbers = (...codes: string[]): Filter => ({ kind: 'token', param: 'identifier', values: codes.map((code) => ({ system: NHS, code })) });
const nhsNumber = nhsNumbers('9000000009');

describe('how PostgreSQL plans a search (search-sql.ts searchPlanning)', () => {
  it('prepares lookups by identity once: ids, one identifier, one url, with or without other filters', () => {
    expect(searchPlanning(search('Patient', { kind: 'id', ids: ['a', 'b'] }))).toBe('prepared');
    expect(searchPlanning(search('Patient', nhsNumber, granted))).toBe('prepared');
    expect(searchPlanning(search('Questionnaire', { kind: 'token', param: 'url', values: [{ code: 'https://signpost.health/fhir/Questionnaire/swemwbs' }] }))).toBe('prepared');
  });

  it('plans every other search with its values: the best plan depends on how many rows each value matches', () => {
    const owner: Filter = { kind: 'reference', param: 'owner', targets: ['Organization/SP001'] };
    const requested: Filter = { kind: 'token', param: 'status', values: [{ code: 'requested' }] };
    expect(searchPlanning(search('Task', owner, requested))).toBe('per-values');
    expect(searchPlanning(search('Task', owner, requested, granted))).toBe('per-values');
    expect(searchPlanning(search('Task', requested))).toBe('per-values');
    expect(searchPlanning(search('Task'))).toBe('per-values');
    // Several identifiers may name many resources, and a negated identifier names nearly all.
    expect(searchPlanning(search('Patient', nhsNumbers('9000000009', '9000000017')))).toBe('per-values');
    expect(searchPlanning(search('Patient', { kind: 'token', param: 'identifier', values: [{ system: NHS, code: '9000000009' }], not: true }))).toBe('per-values');
  });
});
