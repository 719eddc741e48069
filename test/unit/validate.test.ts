import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FhirError, type Issue } from '../../src/fhir/errors.js';
import { resourceTypes } from '../../src/fhir/registry.js';
import { validateResource } from '../../src/fhir/validate.js';

/** The FhirError a body is refused with. */
function refusal(body: unknown, type: string, id?: string): FhirError {
  try {
    validateResource(body, type, id);
  } catch (e) {
    if (e instanceof FhirError) return e;
    throw e;
  }
  throw new Error(`${JSON.stringify(body)} was accepted as a ${type}`);
}
const shape = (e: FhirError) => ({ status: e.status, issues: e.issues.map((i: Issue) => [i.code, i.expression]) });

/** The smallest valid resource of each registered type (its 1.. elements and required bindings). */
const minimal: Record<string, Record<string, unknown>> = {
  Patient: { resourceType: 'Patient' },
  Organization: { resourceType: 'Organization' },
  Practitioner: { resourceType: 'Practitioner' },
  PractitionerRole: { resourceType: 'PractitionerRole' },
  ServiceRequest: { resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: 'Patient/p' } },
  Task: { resourceType: 'Task', status: 'requested', intent: 'order' },
  Consent: { resourceType: 'Consent', status: 'active', scope: { text: 'treatment' }, category: [{ text: 'consent' }] },
  Questionnaire: { resourceType: 'Questionnaire', status: 'active' },
  QuestionnaireResponse: { resourceType: 'QuestionnaireResponse', status: 'completed' },
  Observation: { resourceType: 'Observation', status: 'final', code: { text: 'score' } },
  Communication: { resourceType: 'Communication', status: 'completed' },
  Provenance: { resourceType: 'Provenance' },
  AuditEvent: { resourceType: 'AuditEvent' },
  Measure: { resourceType: 'Measure', status: 'active' },
  Subscription: { resourceType: 'Subscription', status: 'requested', reason: 'told of changes', criteria: 'Task?owner=Organization/SP001', channel: { type: 'rest-hook' } },
  MeasureReport: { resourceType: 'MeasureReport', status: 'complete', type: 'summary', measure: 'https://signpost.health/fhir/Measure/sp', period: { start: '2026-01-01' } },
};

describe('validateResource: valid resources pass unchanged', () => {
  it('covers every registered type', () => {
    expect(Object.keys(minimal).sort()).toEqual(resourceTypes.map((d) => d.type).sort());
  });

  it.each(Object.entries(minimal))('%s', (type, body) => {
    expect(validateResource(body, type)).toBe(body);
  });

  it('accepts an id of 64 characters of A-Z a-z 0-9 - . and the id the URL names', () => {
    const id = `${'a'.repeat(60)}-.Z9`;
    expect(validateResource({ resourceType: 'Patient', id }, 'Patient', id)).toEqual({ resourceType: 'Patient', id });
  });

  it('accepts primitive extensions, unknown elements and references by identifier', () => {
    const body = {
      resourceType: 'Patient', birthDate: '1970', _birthDate: { extension: [{ url: 'http://x', valueString: 'y' }] },
      managingOrganization: { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A81001' } }, futureElement: 1,
    };
    expect(validateResource(body, 'Patient')).toBe(body);
  });
});

describe('validateResource: the body and its identity', () => {
  it.each<[string, unknown]>([['null', null], ['an array', [{ resourceType: 'Patient' }]], ['a string', 'Patient'], ['a number', 5], ['true', true], ['undefined', undefined]])(
    '%s is not a resource', (_what, body) => {
      expect(shape(refusal(body, 'Patient'))).toEqual({ status: 400, issues: [['structure', undefined]] });
    });

  it.each<[string, unknown]>([['another type', 'Task'], ['no resourceType', undefined], ['a lower-case type', 'patient'], ['a non-string', 5]])(
    'resourceType: %s', (_what, resourceType) => {
      expect(shape(refusal({ resourceType }, 'Patient'))).toEqual({ status: 400, issues: [['invalid', ['resourceType']]] });
    });

  it('answers 404 not-supported for a type this server does not serve', () => {
    expect(shape(refusal({ resourceType: 'Bundle' }, 'Bundle'))).toEqual({ status: 404, issues: [['not-supported', undefined]] });
  });

  it.each<[string, unknown]>([['empty', ''], ['a space', 'a b'], ['65 characters', 'x'.repeat(65)], ['an underscore', 'a_b'], ['a slash', 'a/b'], ['a number', 5], ['null', null], ['unicode', 'é']])(
    'id: %s', (_what, id) => {
      expect(shape(refusal({ resourceType: 'Patient', id }, 'Patient'))).toEqual({ status: 400, issues: [['value', ['Patient.id']]] });
    });

  it.each<[string, Record<string, unknown>]>([['another id', { id: 'x' }], ['no id', {}]])('on update, %s than the URL is refused', (_what, extra) => {
    expect(shape(refusal({ resourceType: 'Patient', ...extra }, 'Patient', 'y'))).toEqual({ status: 400, issues: [['invalid', ['Patient.id']]] });
  });
});

describe('validateResource: FHIR JSON rules (R4 json.html), each at its FHIRPath', () => {
  it.each<[string, Record<string, unknown>, string, string]>([
    ['null', { name: [{ given: ['A', null] }] }, 'structure', 'Patient.name[0].given[1]'],
    ['a top-level null', { gender: null }, 'structure', 'Patient.gender'],
    ['an empty string', { birthDate: '' }, 'structure', 'Patient.birthDate'],
    ['an empty array', { name: [] }, 'structure', 'Patient.name'],
    ['an empty object', { name: [{}] }, 'structure', 'Patient.name[0]'],
    ['a nested empty object', { telecom: [{ period: {} }] }, 'structure', 'Patient.telecom[0].period'],
    ['a non-string reference', { managingOrganization: { reference: 5 } }, 'structure', 'Patient.managingOrganization.reference'],
    ['a null reference', { generalPractitioner: [{ reference: null }] }, 'structure', 'Patient.generalPractitioner[0].reference'],
    ['an object reference', { link: [{ other: { reference: { id: 'x' } } }] }, 'structure', 'Patient.link[0].other.reference'],
    ['contained resources', { contained: [{ resourceType: 'Organization', id: 'o' }] }, 'not-supported', 'Patient.contained'],
    ['null inside an extension', { extension: [{ url: 'http://x', valueString: null }] }, 'structure', 'Patient.extension[0].valueString'],
    ['an empty primitive extension', { _birthDate: {} }, 'structure', 'Patient._birthDate'],
  ])('%s', (_what, extra, code, expression) => {
    expect(shape(refusal({ resourceType: 'Patient', ...extra }, 'Patient'))).toEqual({ status: 400, issues: [[code, [expression]]] });
  });

  it('reports every problem in one answer, in document order', () => {
    const e = refusal({ resourceType: 'Patient', name: [], birthDate: '', contained: [{ resourceType: 'Patient' }], managingOrganization: { reference: 5 } }, 'Patient');
    expect(shape(e)).toEqual({
      status: 400,
      issues: [['structure', ['Patient.name']], ['structure', ['Patient.birthDate']], ['not-supported', ['Patient.contained']], ['structure', ['Patient.managingOrganization.reference']]],
    });
    expect(e.issues.map((i) => i.diagnostics)).toEqual([
      'Patient.name: empty arrays are not allowed',
      'Patient.birthDate: empty strings are not allowed',
      'Patient.contained: contained resources are not accepted; send them as their own resources',
      'Patient.managingOrganization.reference: a reference must be a string',
    ]);
  });

  it('stops at 20 issues', () => {
    const e = refusal({ resourceType: 'Patient', name: Array.from({ length: 30 }, () => null) }, 'Patient');
    expect(e.issues).toHaveLength(20);
    expect(e.issues[19]?.expression).toEqual(['Patient.name[19]']);
  });
});

describe('validateResource: required elements and bindings of the R4 types', () => {
  const without = (type: string, ...keys: string[]) => Object.fromEntries(Object.entries(minimal[type]!).filter(([k]) => !keys.includes(k)));

  // A missing 1.. element is 'required' at its FHIRPath (whether it is a code, an object or a string).
  it.each<[string, string]>([
    ['ServiceRequest', 'status'], ['ServiceRequest', 'intent'], ['ServiceRequest', 'subject'],
    ['Task', 'status'], ['Task', 'intent'],
    ['Consent', 'status'], ['Consent', 'scope'], ['Consent', 'category'],
    ['Questionnaire', 'status'], ['QuestionnaireResponse', 'status'],
    ['Observation', 'status'], ['Observation', 'code'],
    ['Communication', 'status'], ['Measure', 'status'],
    ['MeasureReport', 'status'], ['MeasureReport', 'type'], ['MeasureReport', 'measure'], ['MeasureReport', 'period'],
  ])('%s.%s missing', (type, element) => {
    expect(shape(refusal(without(type, element), type))).toEqual({ status: 400, issues: [['required', [`${type}.${element}`]]] });
  });

  it('reports every missing element of a resource together', () => {
    expect(refusal({ resourceType: 'Task' }, 'Task').issues.map((i) => i.expression)).toEqual([['Task.status'], ['Task.intent']]);
  });

  // A present element with a wrong value is not 'required': the FHIRPath names it.
  it.each<[string, Record<string, unknown>, string]>([
    ['Task', { status: 'done' }, 'Task.status'],
    ['Task', { status: 5 }, 'Task.status'],
    ['Task', { status: 'REQUESTED' }, 'Task.status'],
    ['Task', { intent: ['order'] }, 'Task.intent'],
    ['ServiceRequest', { intent: 'referral' }, 'ServiceRequest.intent'],
    ['ServiceRequest', { subject: 'Patient/p' }, 'ServiceRequest.subject'],
    ['ServiceRequest', { subject: [{ reference: 'Patient/p' }] }, 'ServiceRequest.subject'],
    ['Consent', { category: { text: 'x' } }, 'Consent.category'],
    ['Consent', { scope: 'x' }, 'Consent.scope'],
    ['Observation', { status: 'done' }, 'Observation.status'],
    ['MeasureReport', { measure: 5 }, 'MeasureReport.measure'],
    ['MeasureReport', { type: 'detail' }, 'MeasureReport.type'],
    ['Patient', { gender: 'F' }, 'Patient.gender'],
  ])('%s with %j', (type, change, expression) => {
    const e = refusal({ ...minimal[type], ...change }, type);
    expect(e.status).toBe(400);
    expect(e.issues.map((i) => i.expression)).toEqual([[expression]]);
    expect(e.issues[0]?.code).not.toBe('required');
  });

  it('checks JSON rules before required elements (an empty category is one issue, at Consent.category)', () => {
    expect(shape(refusal({ ...minimal.Consent, category: [] }, 'Consent'))).toEqual({ status: 400, issues: [['structure', ['Consent.category']]] });
  });
});

describe('validateResource: any JSON is accepted or refused with a FhirError (property)', () => {
  it.each(resourceTypes.map((d) => d.type))('%s', (type) => {
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 })).map((o) => ({ ...o, resourceType: type })),
      fc.dictionary(fc.constantFrom('status', 'intent', 'subject', 'code', 'id', 'contained', 'category', 'scope', 'measure', 'period', 'gender', 'reference'), fc.jsonValue({ maxDepth: 2 }))
        .map((o) => ({ ...minimal[type], ...o })),
    );
    fc.assert(fc.property(body, (b) => {
      try {
        expect(validateResource(b, type)).toBe(b);
      } catch (e) {
        if (!(e instanceof FhirError)) throw e;
        expect([400, 404]).toContain(e.status);
        for (const i of e.issues) expect(i.diagnostics).not.toBe('');
      }
    }), { seed: 20_260_214, numRuns: 150 });
  });
});
