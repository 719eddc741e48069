import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/fhir/cursor.js';
import { FhirError } from '../../src/fhir/errors.js';
import { parseDateRange } from '../../src/fhir/instant.js';
import { resourceTypes } from '../../src/fhir/registry.js';
import { DEFAULT_COUNT, MAX_COUNT, parseSearch } from '../../src/fhir/search-params.js';

const BASE = 'http://signpost.test';
const parse = (type: string, qs: string, lenient = false) => parseSearch(type, new URLSearchParams(qs), { lenient, baseUrl: BASE });

/** The FhirError a search is refused with. */
function refusal(type: string, qs: string, lenient = false): FhirError {
  try {
    parse(type, qs, lenient);
  } catch (e) {
    if (e instanceof FhirError) return e;
    throw e;
  }
  throw new Error(`${type}?${qs} was accepted`);
}

const range = (text: string) => parseDateRange(text)!;

describe('parseSearch: filters', () => {
  it.each<[string, string, unknown]>([
    // token: system|code, |code, code, system|
    ['Task', 'status=requested', { kind: 'token', param: 'status', values: [{ code: 'requested' }] }],
    ['Patient', 'identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919', { kind: 'token', param: 'identifier', values: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', code: '9434765919' }] }],
    ['Patient', 'identifier=|9434765919', { kind: 'token', param: 'identifier', values: [{ system: null, code: '9434765919' }] }],
    ['Patient', 'identifier=https://fuzz.example/x|', { kind: 'token', param: 'identifier', values: [{ system: 'https://fuzz.example/x' }] }],
    ['Patient', 'identifier=a|b|c', { kind: 'token', param: 'identifier', values: [{ system: 'a', code: 'b|c' }] }],
    ['Task', 'status=requested,accepted', { kind: 'token', param: 'status', values: [{ code: 'requested' }, { code: 'accepted' }] }],
    ['Task', 'status:not=completed', { kind: 'token', param: 'status', values: [{ code: 'completed' }], not: true }],
    ['Task', 'business-status=http://x|new', { kind: 'token', param: 'business-status', values: [{ system: 'http://x', code: 'new' }] }],
    // reference: Type/id, id (every target type), Type modifier, absolute under our base, versioned
    ['Task', 'owner=Organization/o1', { kind: 'reference', param: 'owner', targets: ['Organization/o1'] }],
    ['Task', 'owner=o1', { kind: 'reference', param: 'owner', targets: ['Organization/o1', 'Practitioner/o1', 'PractitionerRole/o1'] }],
    ['Task', 'owner:Organization=o1', { kind: 'reference', param: 'owner', targets: ['Organization/o1'] }],
    ['Task', 'owner:Organization=Organization/o1', { kind: 'reference', param: 'owner', targets: ['Organization/o1'] }],
    ['Task', `patient=${BASE}/fhir/Patient/p1`, { kind: 'reference', param: 'patient', targets: ['Patient/p1'] }],
    ['Task', 'patient=Patient/p1/_history/2', { kind: 'reference', param: 'patient', targets: ['Patient/p1'] }],
    ['Task', 'focus=ServiceRequest/a,Task/b', { kind: 'reference', param: 'focus', targets: ['ServiceRequest/a', 'Task/b'] }],
    ['Provenance', 'target=Task/t1', { kind: 'reference', param: 'target', targets: ['Task/t1'] }],
    // date: default prefix eq, precision from the text
    ['Task', 'authored-on=2026-01-02', { kind: 'date', param: 'authored-on', prefix: 'eq', range: range('2026-01-02') }],
    ['Task', 'authored-on=ge2026-01', { kind: 'date', param: 'authored-on', prefix: 'ge', range: range('2026-01') }],
    ['AuditEvent', 'date=lt2026-01-02T10:00:00Z', { kind: 'date', param: 'date', prefix: 'lt', range: range('2026-01-02T10:00:00Z') }],
    ['Task', '_lastUpdated=gt2026-01-01T10:00:00.123456Z', { kind: 'lastUpdated', prefix: 'gt', range: range('2026-01-01T10:00:00.123456Z') }],
    // string: case- and accent-insensitive prefix
    ['Organization', 'name=Rivérside', { kind: 'string', param: 'name', values: ['riverside'], exact: false }],
    ['Organization', 'name=a,B', { kind: 'string', param: 'name', values: ['a', 'b'], exact: false }],
    // :missing on every kind of parameter
    ['Task', 'status:missing=true', { kind: 'missing', param: 'status', index: 'token', missing: true }],
    ['Task', 'owner:missing=false', { kind: 'missing', param: 'owner', index: 'reference', missing: false }],
    ['Task', 'authored-on:missing=true', { kind: 'missing', param: 'authored-on', index: 'date', missing: true }],
    ['Organization', 'name:missing=true', { kind: 'missing', param: 'name', index: 'string', missing: true }],
    // _id
    ['Task', '_id=a,b-1.c', { kind: 'id', ids: ['a', 'b-1.c'] }],
  ])('%s?%s', (type, qs, filter) => {
    expect(parse(type, qs).query.filters).toEqual([filter]);
  });

  it.each(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'])('date prefix %s', (prefix) => {
    expect(parse('Task', `authored-on=${prefix}2026-03-04`).query.filters).toEqual([
      { kind: 'date', param: 'authored-on', prefix, range: range('2026-03-04') },
    ]);
  });

  it('ANDs repeated parameters and keeps their order', () => {
    expect(parse('Task', 'status=a&owner=Organization/o&status=b').query.filters).toEqual([
      { kind: 'token', param: 'status', values: [{ code: 'a' }] },
      { kind: 'reference', param: 'owner', targets: ['Organization/o'] },
      { kind: 'token', param: 'status', values: [{ code: 'b' }] },
    ]);
  });
});

describe('parseSearch: comma and backslash escaping (R4 search.html#escaping)', () => {
  it.each<[string, string, unknown[]]>([
    ['Task', 'status=a\\,b,c', [{ code: 'a,b' }, { code: 'c' }]],
    ['Task', 'status=a\\\\,b', [{ code: 'a\\' }, { code: 'b' }]],
    ['Task', 'status=a\\', [{ code: 'a\\' }]],
    ['Task', 'status=\\,', [{ code: ',' }]],
    ['Patient', 'identifier=sys|a\\,b', [{ system: 'sys', code: 'a,b' }]],
    // An escaped '|' is part of the code, not the system separator.
    ['Patient', 'identifier=a\\|b', [{ code: 'a|b' }]],
    ['Patient', 'identifier=sys\\|x|code', [{ system: 'sys|x', code: 'code' }]],
  ])('%s?%s', (type, qs, values) => {
    expect(parse(type, qs).query.filters).toEqual([{ kind: 'token', param: type === 'Task' ? 'status' : 'identifier', values }]);
  });

  it('splits reference alternatives on unescaped commas only', () => {
    expect(parse('Task', 'owner=Organization/a,Organization/b').query.filters).toEqual([{ kind: 'reference', param: 'owner', targets: ['Organization/a', 'Organization/b'] }]);
  });
});

describe('parseSearch: result parameters', () => {
  it.each<[string, number, string | undefined]>([
    ['', DEFAULT_COUNT, undefined],
    ['_count=0', 0, '0'],
    ['_count=10', 10, '10'],
    ['_count=010', 10, '10'],
    [`_count=${MAX_COUNT}`, MAX_COUNT, String(MAX_COUNT)],
    [`_count=${MAX_COUNT + 1}`, MAX_COUNT, String(MAX_COUNT)],
    ['_count=99999999999999999999', MAX_COUNT, String(MAX_COUNT)],
  ])('%s → count %i (echoed as %s: clamped, never refused for being large)', (qs, count, echoed) => {
    const parsed = parse('Task', qs);
    expect(parsed.query.count).toBe(count);
    expect(parsed.echo.find(([k]) => k === '_count')?.[1]).toBe(echoed);
  });

  it.each(['-1', '1.5', 'abc', '', '1e3', ' 1', '0x10', '+5'])('_count=%s is refused', (v) => {
    const e = refusal('Task', `_count=${encodeURIComponent(v)}`);
    expect([e.status, e.issues[0]?.code, e.issues[0]?.expression]).toEqual([400, 'invalid', ['_count']]);
  });

  it.each<[string, string]>([['_sort=_lastUpdated', '_lastUpdated'], ['_sort=-_lastUpdated', '-_lastUpdated'], ['', 'default']])('%s sorts %s', (qs, sort) => {
    expect(parse('Task', qs).query.sort).toBe(sort);
  });

  it.each(['status', '_id', '-_id', '', '_lastUpdated,_id', '_LASTUPDATED', '--_lastUpdated'])('_sort=%s is not supported', (v) => {
    const e = refusal('Task', `_sort=${v}`);
    expect([e.status, e.issues[0]?.code, e.issues[0]?.expression]).toEqual([400, 'not-supported', ['_sort']]);
  });

  it.each<[string, boolean, boolean]>([
    ['_total=accurate', true, false], ['_total=none', false, false], ['_total=estimate', false, false],
    ['_summary=count', true, true], ['_summary=false', false, false], ['', false, false],
  ])('%s → total %s, summaryCount %s', (qs, total, summaryCount) => {
    const parsed = parse('Task', qs);
    expect([parsed.query.total, parsed.summaryCount]).toEqual([total, summaryCount]);
  });

  it.each<[string, number, string, string[]]>([
    ['_total=bogus', 400, 'invalid', ['_total']],
    ['_summary=true', 400, 'not-supported', ['_summary']],
    ['_summary=text', 400, 'not-supported', ['_summary']],
  ])('%s is refused', (qs, status, code, expression) => {
    const e = refusal('Task', qs);
    expect([e.status, e.issues[0]?.code, e.issues[0]?.expression]).toEqual([status, code, expression]);
  });

  it('ignores _format (negotiated by the HTTP layer) and leaves it out of the links', () => {
    const parsed = parse('Task', '_format=json&status=a');
    expect(parsed.echo).toEqual([['status', 'a']]);
  });

  it('echoes what it understood, in order, for the self and next links', () => {
    expect(parse('Task', 'status=requested&_count=5000&_sort=-_lastUpdated&_include=Task:owner').echo).toEqual([
      ['status', 'requested'], ['_count', String(MAX_COUNT)], ['_sort', '-_lastUpdated'], ['_include', 'Task:owner'],
    ]);
  });
});

describe('parseSearch: _include and _revinclude', () => {
  it.each<[string, string, unknown[], unknown[]]>([
    ['Task', '_include=Task:owner', [{ sourceType: 'Task', param: 'owner' }], []],
    ['Task', '_include=Task:owner:Organization', [{ sourceType: 'Task', param: 'owner', targetType: 'Organization' }], []],
    ['Task', '_include=Task:focus&_include=Task:patient', [{ sourceType: 'Task', param: 'focus' }, { sourceType: 'Task', param: 'patient' }], []],
    ['Task', '_revinclude=Provenance:target', [], [{ sourceType: 'Provenance', param: 'target' }]],
    ['ServiceRequest', '_revinclude=Task:focus:ServiceRequest', [], [{ sourceType: 'Task', param: 'focus', targetType: 'ServiceRequest' }]],
    ['Task', '_revinclude=Task:part-of', [], [{ sourceType: 'Task', param: 'part-of' }]],
  ])('%s?%s', (type, qs, includes, revincludes) => {
    const parsed = parse(type, qs);
    expect([parsed.includes, parsed.revincludes]).toEqual([includes, revincludes]);
  });

  it.each<[string, string, number, string, string]>([
    ['Task', '_include=ServiceRequest:patient', 400, 'invalid', '_include'],
    ['Task', '_include=*', 400, 'not-supported', '_include'],
    ['Task', '_include=Task:*', 400, 'invalid', '_include'],
    ['Task', '_include=Task', 400, 'invalid', '_include'],
    ['Task', '_include=Task:status', 400, 'invalid', '_include'],
    ['Task', '_include=Task:nope', 400, 'invalid', '_include'],
    ['Task', '_include=Task:owner:Foo', 400, 'invalid', '_include'],
    ['Task', '_include=Task:owner:Organization:x', 400, 'not-supported', '_include'],
    ['Task', '_include:iterate=Task:owner', 400, 'not-supported', '_include:iterate'],
    ['Task', '_revinclude=Task:foo', 400, 'invalid', '_revinclude'],
    ['Task', '_revinclude=Foo:bar', 400, 'invalid', '_revinclude'],
    ['Task', '_revinclude:iterate=Provenance:target', 400, 'not-supported', '_revinclude:iterate'],
  ])('%s?%s is refused', (type, qs, status, code, expression) => {
    const e = refusal(type, qs);
    expect([e.status, e.issues[0]?.code, e.issues[0]?.expression]).toEqual([status, code, [expression]]);
  });
});

describe('parseSearch: refusals name the parameter at fault', () => {
  it.each<[string, string, number, string, string]>([
    ['Task', 'foo=bar', 400, 'not-supported', 'foo'],
    ['Task', 'status:foo:bar=x', 400, 'not-supported', 'status:foo:bar'],
    ['Task', 'status:text=x', 400, 'not-supported', 'status:text'],
    ['Task', 'status:missing=yes', 400, 'invalid', 'status:missing'],
    ['Task', 'status=', 400, 'invalid', 'status'],
    ['Task', 'status=a,', 400, 'invalid', 'status'],
    ['Patient', 'identifier=|', 400, 'invalid', 'identifier'],
    ['Task', 'owner:identifier=x|y', 400, 'not-supported', 'owner:identifier'],
    ['Task', 'owner:Organization=Practitioner/x', 400, 'invalid', 'owner:Organization'],
    ['Task', 'owner=Organization/', 400, 'invalid', 'owner'],
    ['Task', 'owner=http://elsewhere.example/fhir/Organization/1', 400, 'invalid', 'owner'],
    ['Task', 'owner=urn:uuid:1', 400, 'invalid', 'owner'],
    ['Provenance', 'target=t1', 400, 'invalid', 'target'],
    ['Task', 'authored-on=2026-02-30', 400, 'invalid', 'authored-on'],
    ['Task', 'authored-on=xx2026', 400, 'invalid', 'authored-on'],
    ['Task', 'authored-on=eq', 400, 'invalid', 'authored-on'],
    ['Task', 'authored-on=2026,2027', 400, 'not-supported', 'authored-on'],
    ['Task', 'authored-on:exact=2026', 400, 'not-supported', 'authored-on:exact'],
    ['Organization', 'name:contains=x', 400, 'not-supported', 'name:contains'],
    ['Task', '_id=a b', 400, 'invalid', '_id'],
    ['Task', '_id=', 400, 'invalid', '_id'],
    ['Task', `_id=${'x'.repeat(65)}`, 400, 'invalid', '_id'],
    ['Task', '_id:not=a', 400, 'invalid', '_id:not'],
    ['Task', '_lastUpdated=gt2026-13-01', 400, 'invalid', '_lastUpdated'],
    ['Task', '_lastUpdated:missing=true', 400, 'not-supported', '_lastUpdated:missing'],
    ['Task', '_cursor=garbage', 400, 'invalid', '_cursor'],
  ])('%s?%s', (type, qs, status, code, expression) => {
    const e = refusal(type, qs);
    expect([e.status, e.issues[0]?.code, e.issues[0]?.expression]).toEqual([status, code, [expression]]);
  });

  it('lists the supported parameters for an unknown one', () => {
    expect(refusal('Task', 'foo=bar').issues[0]?.diagnostics).toBe(
      "Unknown search parameter 'foo' for Task (supported: identifier, status, business-status, owner, focus, based-on, patient, part-of, authored-on)");
  });

  it('names an empty parameter name with a non-empty expression', () => {
    const e = refusal('Patient', '=x');
    expect(e.issues[0]?.expression?.every((x) => x.length > 0)).toBe(true);
  });

  it.each<[string, string]>([
    ['Organization', 'name:exact=Rivérside'],
    ['Organization', 'name:exact=RIVERSIDE'],
  ])('%s?%s matches exactly: case and accents kept (R4 search.html#string)', (type, qs) => {
    const value = new URLSearchParams(qs).get('name:exact');
    expect(parse(type, qs).query.filters).toEqual([{ kind: 'string', param: 'name', values: [value], exact: true }]);
  });
});

describe('parseSearch: Prefer: handling=lenient', () => {
  it('drops unknown parameters (and from the links) instead of refusing', () => {
    const parsed = parse('Task', 'foo=bar&status=requested&status:x:y=z', true);
    expect(parsed.query.filters).toEqual([{ kind: 'token', param: 'status', values: [{ code: 'requested' }] }]);
    expect(parsed.echo).toEqual([['status', 'requested']]);
  });

  it.each(['_count=abc', 'status=', '_sort=status', 'authored-on=2026-02-30', '_include=Task:nope', 'status:text=x'])('still refuses a known parameter with a bad value: %s', (qs) => {
    expect(refusal('Task', qs, true).status).toBe(400);
  });
});

describe('parseSearch: paging cursors', () => {
  it('decodes a cursor of the same sort, whatever the order of _cursor and _sort', () => {
    const cursor = encodeCursor('_lastUpdated', { asOf: 1_770_000_000_000_001, key: 1_770_000_000_000_000, rid: 42 });
    expect(parse('Task', `_cursor=${cursor}&_sort=_lastUpdated`).query.after).toMatchObject({ key: 1_770_000_000_000_000, rid: 42 });
    expect(parse('Task', `_sort=_lastUpdated&_cursor=${cursor}`).query.after).toMatchObject({ key: 1_770_000_000_000_000, rid: 42 });
  });

  it('leaves the cursor out of the echo (the next link adds its own)', () => {
    const cursor = encodeCursor('default', { asOf: 7, key: 7, rid: 7 });
    expect(parse('Task', `status=a&_cursor=${cursor}`).echo).toEqual([['status', 'a']]);
  });

  it.each([
    ['a cursor of another sort', encodeCursor('_lastUpdated', { asOf: 1, key: 1, rid: 1 })],
    ['not base64url JSON', '!!!'],
    ['empty', ''],
  ])('refuses %s', (_what, cursor) => {
    const e = refusal('Task', `_cursor=${encodeURIComponent(cursor)}`);
    expect([e.status, e.issues[0]?.code, e.issues[0]?.expression]).toEqual([400, 'invalid', ['_cursor']]);
  });
});

describe('parseSearch: any query string is either parsed or refused with a 4xx FhirError (property)', () => {
  const names = [...new Set(resourceTypes.flatMap((d) => d.params.map((p) => p.name)))];
  const key = fc.oneof(
    fc.constantFrom(...names, '_id', '_lastUpdated', '_count', '_sort', '_include', '_revinclude', '_total', '_summary', '_cursor', '_format'),
    fc.tuple(fc.constantFrom(...names, '_id', '_include'), fc.constantFrom('missing', 'not', 'exact', 'Patient', 'x', '')).map(([n, m]) => `${n}:${m}`),
    fc.string({ maxLength: 8 }),
  );
  const value = fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom('|', 'a|', '|a', 'ge2026', 'Patient/1', 'Task:owner', '\\', ',', 'true'));
  it.each(resourceTypes.map((d) => d.type))('%s', (type) => {
    fc.assert(fc.property(fc.array(fc.tuple(key, value), { maxLength: 5 }), fc.boolean(), (params, lenient) => {
      try {
        parseSearch(type, new URLSearchParams(params), { lenient, baseUrl: BASE });
      } catch (e) {
        if (!(e instanceof FhirError) || e.status < 400 || e.status >= 500) throw e;
      }
    }), { seed: 20_260_214, numRuns: 200 });
  });
});
