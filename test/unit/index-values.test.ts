import { describe, expect, it } from 'vitest';
import { indexEntries, normaliseString, referenceTarget, valuesAt, type IndexEntries } from '../../src/fhir/index-values.js';
import { parseDateRange } from '../../src/fhir/instant.js';

const BASE = 'http://signpost.test';
const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const range = (text: string) => parseDateRange(text)!;
/** Index rows in a canonical order, so that tables need not follow the registry's order. */
const canonical = (idx: IndexEntries) => Object.fromEntries(Object.entries(idx).map(([k, rows]) => [k, [...(rows as unknown[])].map((r) => JSON.stringify(r)).sort()]));
const rows = (idx: Partial<IndexEntries>): ReturnType<typeof canonical> =>
  canonical({ tokens: [], references: [], dates: [], strings: [], uniqueIdentifiers: [], ...idx });

describe('valuesAt', () => {
  it.each<[string, unknown, string, unknown[]]>([
    ['an object path', { a: { b: 1 } }, 'a.b', [1]],
    ['a deep path', { a: { b: { c: 'x' } } }, 'a.b.c', ['x']],
    ['arrays at any step, flattened', { a: [{ b: [1, 2] }, { b: 3 }] }, 'a.b', [1, 2, 3]],
    ['falsy values kept', { a: [{ b: false }, { b: 0 }] }, 'a.b', [false, 0]],
    ['a missing element', { a: {} }, 'a.b', []],
    ['null skipped', { a: { b: null } }, 'a.b', []],
    ['a primitive in the way', { a: 1 }, 'a.b', []],
    ['an array root is not walked', [{ a: 1 }], 'a', []],
    ['a null root', null, 'a', []],
    ['a string root', 'abc', 'length', []],
    ['the whole element', { a: { b: 1 } }, 'a', [{ b: 1 }]],
  ])('%s', (_what, root, path, expected) => {
    expect(valuesAt(root, path)).toEqual(expected);
  });
});

describe('referenceTarget', () => {
  it.each<[string, string | undefined]>([
    ['Patient/1', 'Patient/1'],
    ['Patient/a-b.C9', 'Patient/a-b.C9'],
    ['Patient/1/_history/3', 'Patient/1'],
    [`${BASE}/fhir/Patient/1`, 'Patient/1'],
    [`${BASE}/fhir/Patient/1/_history/2`, 'Patient/1'],
    [`PractitionerRole/${'x'.repeat(64)}`, `PractitionerRole/${'x'.repeat(64)}`],
    [`Patient/${'x'.repeat(65)}`, undefined],
    ['http://elsewhere.example/fhir/Patient/1', undefined],
    [`${BASE}/Patient/1`, undefined],
    ['urn:uuid:6f1c4a4e-0000-4000-8000-000000000000', undefined],
    ['#contained', undefined],
    ['patient/1', undefined],
    ['Patient/', undefined],
    ['Patient', undefined],
    ['/Patient/1', undefined],
    ['Patient/1/2', undefined],
    ['Patient/1/_history/', undefined],
    ['Patient/a b', undefined],
    ['Patient?identifier=x|1', undefined],
    ['', undefined],
  ])('%s → %s', (reference, target) => {
    expect(referenceTarget(reference, BASE)).toBe(target);
  });
});

describe('normaliseString', () => {
  it.each([['Rivérside', 'riverside'], ['ÅNGSTRÖM', 'angstrom'], ['Zoë O\u0301', 'zoe o'], ['plain', 'plain']])('%s → %s', (s, n) => {
    expect(normaliseString(s)).toBe(n);
  });
});

describe('indexEntries', () => {
  it('Patient: identifiers as tokens; NHS numbers (only) as unique identifiers, once each', () => {
    const idx = indexEntries({
      resourceType: 'Patient',
      identifier: [
        { system: NHS, value: '9434765919' }, { system: NHS, value: '9434765919' }, { system: 'https://local.example/mrn', value: 'M1' },
        { value: 'no-system' }, { system: NHS, value: '' }, { system: 'https://x' },
      ],
    } as fhir4.Patient, BASE);
    expect(canonical(idx)).toEqual(rows({
      tokens: [
        // One row per (param, value), however often the value is repeated.
        { param: 'identifier', system: NHS, code: '9434765919' },
        { param: 'identifier', system: 'https://local.example/mrn', code: 'M1' }, { param: 'identifier', system: null, code: 'no-system' },
      ],
      uniqueIdentifiers: [{ system: NHS, value: '9434765919' }],
    }));
  });

  it('Task: status, business status, every reference we can follow, and authoredOn as a day range', () => {
    const idx = indexEntries({
      resourceType: 'Task', status: 'requested', intent: 'order',
      businessStatus: { coding: [{ system: 'http://x', code: 'new' }, { display: 'no code' }], text: 'New' },
      owner: { reference: 'Organization/o1' },
      focus: { reference: `${BASE}/fhir/ServiceRequest/sr1` },
      basedOn: [{ reference: 'ServiceRequest/sr1/_history/2' }, { reference: 'urn:uuid:6f1c4a4e-0000-4000-8000-000000000000' }],
      for: { reference: 'Patient/p1', display: 'A' },
      partOf: [{ reference: 'http://elsewhere.example/fhir/Task/t0' }, { identifier: { value: 'x' } }],
      requester: { reference: 'Organization/not-a-search-param' },
      authoredOn: '2026-01-02',
    } as fhir4.Task, BASE);
    expect(canonical(idx)).toEqual(rows({
      tokens: [{ param: 'status', system: null, code: 'requested' }, { param: 'business-status', system: 'http://x', code: 'new' }],
      references: [
        { param: 'owner', target: 'Organization/o1' }, { param: 'focus', target: 'ServiceRequest/sr1' },
        { param: 'based-on', target: 'ServiceRequest/sr1' }, { param: 'patient', target: 'Patient/p1' },
      ],
      dates: [{ param: 'authored-on', ...range('2026-01-02') }],
    }));
  });

  it('ServiceRequest: business identifiers of every system are unique', () => {
    const idx = indexEntries({
      resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: 'Patient/p' },
      identifier: [{ system: 'https://a.example', value: '1' }, { system: 'https://b.example', value: '2' }, { value: 'no-system' }],
    } as fhir4.ServiceRequest, BASE);
    expect(idx.uniqueIdentifiers).toEqual([{ system: 'https://a.example', value: '1' }, { system: 'https://b.example', value: '2' }]);
  });

  it('Organization: name and aliases as normalised strings, ODS code unique', () => {
    const idx = indexEntries({
      resourceType: 'Organization', name: 'Rivérside Surgery', alias: ['RS', 'Rivers'],
      identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A81001' }],
    } as fhir4.Organization, BASE);
    expect(canonical(idx)).toEqual(rows({
      tokens: [{ param: 'identifier', system: 'https://fhir.nhs.uk/Id/ods-organization-code', code: 'A81001' }],
      strings: [
        { param: 'name', value: 'riverside surgery', exact: 'Rivérside Surgery' },
        { param: 'name', value: 'rs', exact: 'RS' },
        { param: 'name', value: 'rivers', exact: 'Rivers' },
      ],
      uniqueIdentifiers: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A81001' }],
    }));
  });

  it.each<[string, fhir4.Period | undefined, { lo: number; hi: number } | undefined]>([
    ['a closed period', { start: '2026-01-01', end: '2026-03-31' }, { lo: range('2026-01-01').lo, hi: range('2026-03-31').hi }],
    ['an open end', { start: '2026-01' }, { lo: range('2026-01').lo, hi: Number.MAX_SAFE_INTEGER }],
    ['an open start', { end: '2026' }, { lo: Number.MIN_SAFE_INTEGER, hi: range('2026').hi }],
    ['a start that is not a date', { start: '2026-02-30', end: '2026-03-31' }, undefined],
    ['no bounds', undefined, undefined],
  ])('MeasureReport period: %s', (_what, period, expected) => {
    const idx = indexEntries({ resourceType: 'MeasureReport', status: 'complete', type: 'summary', measure: 'https://m', ...(period ? { period } : {}) } as fhir4.MeasureReport, BASE);
    expect(idx.dates).toEqual(expected ? [{ param: 'period', ...expected }] : []);
    expect(idx.tokens).toEqual([{ param: 'measure', system: null, code: 'https://m' }]);
  });

  it('AuditEvent: entity.what feeds both patient and entity; agent.who feeds agent; recorded is the date', () => {
    const idx = indexEntries({
      resourceType: 'AuditEvent', recorded: '2026-01-02T10:00:00.123456Z',
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
      subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }], outcome: '0',
      agent: [{ who: { reference: 'Organization/o1' }, requestor: true }],
      entity: [{ what: { reference: 'Patient/p1' } }, { what: { reference: 'Task/t1' } }],
      source: { observer: { display: 'Signpost' } },
    } as fhir4.AuditEvent, BASE);
    expect(canonical(idx)).toEqual(rows({
      tokens: [
        { param: 'type', system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
        { param: 'subtype', system: 'http://hl7.org/fhir/restful-interaction', code: 'read' },
        { param: 'outcome', system: null, code: '0' },
      ],
      references: [
        { param: 'patient', target: 'Patient/p1' }, { param: 'patient', target: 'Task/t1' },
        { param: 'entity', target: 'Patient/p1' }, { param: 'entity', target: 'Task/t1' }, { param: 'agent', target: 'Organization/o1' },
      ],
      dates: [{ param: 'date', ...range('2026-01-02T10:00:00.123456Z') }],
    }));
  });

  it('Observation: every coding of the code, none for a text-only concept', () => {
    const coded = indexEntries({
      resourceType: 'Observation', status: 'final',
      code: { coding: [{ system: 'http://snomed.info/sct', code: '885541000000103' }, { system: 'http://loinc.org', code: '1-1' }] },
    } as fhir4.Observation, BASE);
    expect(coded.tokens).toEqual([
      { param: 'code', system: 'http://snomed.info/sct', code: '885541000000103' }, { param: 'code', system: 'http://loinc.org', code: '1-1' },
    ]);
    expect(indexEntries({ resourceType: 'Observation', status: 'final', code: { text: 'mood' } } as fhir4.Observation, BASE).tokens).toEqual([]);
  });

  it('Questionnaire: the canonical url and the status as tokens', () => {
    expect(indexEntries({ resourceType: 'Questionnaire', status: 'active', url: 'https://signpost.health/fhir/Questionnaire/ons4' } as fhir4.Questionnaire, BASE).tokens)
      .toEqual([{ param: 'url', system: null, code: 'https://signpost.health/fhir/Questionnaire/ons4' }, { param: 'status', system: null, code: 'active' }]);
  });

  it('indexes nothing for a type the server does not serve', () => {
    expect(canonical(indexEntries({ resourceType: 'Binary', contentType: 'text/plain' } as fhir4.Binary, BASE))).toEqual(rows({}));
  });
});
