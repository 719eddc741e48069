import { z } from 'zod';
import { FhirError, fhirPath, zodToFhirError, type Issue } from './errors.js';
import { resourceTypeDef } from './registry.js';
import { CONTROL_CHARACTER_RULE, hasControlCharacter } from './text.js';

export const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

const code = (values: readonly [string, ...string[]]) => z.enum(values);
const ref = z.looseObject({ reference: z.string().optional(), identifier: z.looseObject({}).optional(), display: z.string().optional() });
const concept = z.looseObject({});

/**
 * Required elements (cardinality 1..) and required-binding codes of the R4 types we store
 * (http://hl7.org/fhir/R4/<type>.html). Everything else passes through; deeper rules live with the
 * domain that needs them.
 */
const typeRules: Record<string, z.ZodType> = {
  ServiceRequest: z.looseObject({
    status: code(['draft', 'active', 'on-hold', 'revoked', 'completed', 'entered-in-error', 'unknown']),
    intent: code(['proposal', 'plan', 'directive', 'order', 'original-order', 'reflex-order', 'filler-order', 'instance-order', 'option']),
    subject: ref,
  }),
  Task: z.looseObject({
    status: code(['draft', 'requested', 'received', 'accepted', 'rejected', 'ready', 'cancelled', 'in-progress', 'on-hold', 'failed', 'completed', 'entered-in-error']),
    intent: code(['unknown', 'proposal', 'plan', 'order', 'original-order', 'reflex-order', 'filler-order', 'instance-order', 'option']),
  }),
  Consent: z.looseObject({
    status: code(['draft', 'proposed', 'active', 'rejected', 'inactive', 'entered-in-error']),
    scope: concept,
    category: z.array(concept).min(1),
  }),
  Questionnaire: z.looseObject({ status: code(['draft', 'active', 'retired', 'unknown']) }),
  QuestionnaireResponse: z.looseObject({ status: code(['in-progress', 'completed', 'amended', 'entered-in-error', 'stopped']) }),
  Observation: z.looseObject({
    status: code(['registered', 'preliminary', 'final', 'amended', 'corrected', 'cancelled', 'entered-in-error', 'unknown']),
    code: concept,
  }),
  Communication: z.looseObject({
    status: code(['preparation', 'in-progress', 'not-done', 'on-hold', 'stopped', 'completed', 'entered-in-error', 'unknown']),
  }),
  Measure: z.looseObject({ status: code(['draft', 'active', 'retired', 'unknown']) }),
  Subscription: z.looseObject({
    status: code(['requested', 'active', 'error', 'off']),
    reason: z.string(),
    criteria: z.string(),
    channel: z.looseObject({ type: code(['rest-hook', 'websocket', 'email', 'sms', 'message']) }),
  }),
  MeasureReport: z.looseObject({
    status: code(['complete', 'pending', 'error']),
    type: code(['individual', 'subject-list', 'summary', 'data-collection']),
    measure: z.string(),
    period: z.looseObject({}),
  }),
  Patient: z.looseObject({ gender: code(['male', 'female', 'other', 'unknown']).optional() }),
  Organization: z.looseObject({}),
  Practitioner: z.looseObject({}),
  PractitionerRole: z.looseObject({}),
};

/**
 * FHIR JSON rules every element obeys (http://hl7.org/fhir/R4/json.html): no nulls, no empty strings,
 * arrays or objects, and Reference.reference is a string. Collected rather than thrown one at a time.
 */
function checkJsonShape(value: unknown, path: (string | number)[], root: string, issues: Issue[]): void {
  if (issues.length >= 20) return;
  const at = () => fhirPath(root, path);
  if (value === null) {
    issues.push({ code: 'structure', diagnostics: `${at()}: null is not allowed in FHIR JSON; leave the element out`, expression: [at()] });
  } else if (typeof value === 'number' && !Number.isFinite(value)) {
    issues.push({ code: 'value', diagnostics: `${at()}: the number is out of range`, expression: [at()] });
  } else if (typeof value === 'string') {
    if (value.trim() === '') issues.push({ code: 'structure', diagnostics: `${at()}: empty strings are not allowed`, expression: [at()] });
    else if (hasControlCharacter(value)) issues.push({ code: 'value', diagnostics: `${at()}: ${CONTROL_CHARACTER_RULE}`, expression: [at()] });
  } else if (Array.isArray(value)) {
    if (value.length === 0) issues.push({ code: 'structure', diagnostics: `${at()}: empty arrays are not allowed`, expression: [at()] });
    value.forEach((v, i) => checkJsonShape(v, [...path, i], root, issues));
  } else if (typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) issues.push({ code: 'structure', diagnostics: `${at()}: empty objects are not allowed`, expression: [at()] });
    for (const [k, v] of entries) {
      if (hasControlCharacter(k)) {
        issues.push({ code: 'structure', diagnostics: `${at()}: an element name with a control character is not FHIR`, expression: [at()] });
      } else if (k === 'reference' && typeof v !== 'string') {
        issues.push({ code: 'structure', diagnostics: `${fhirPath(root, [...path, k])}: a reference must be a string`, expression: [fhirPath(root, [...path, k])] });
      } else if (path.length === 0 && k === 'contained') {
        issues.push({ code: 'not-supported', diagnostics: `${root}.contained: contained resources are not accepted; send them as their own resources`, expression: [`${root}.contained`] });
      } else checkJsonShape(v, [...path, k], root, issues);
    }
  }
}

/**
 * Boundary validation of a resource body for `expectedType` (and `expectedId` on update). Returns the
 * body typed as a resource; throws a 400 FhirError listing what is wrong, with FHIRPath expressions.
 */
export function validateResource(body: unknown, expectedType: string, expectedId?: string): fhir4.Resource {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new FhirError(400, 'structure', `The body must be a JSON object: a FHIR ${expectedType} resource`);
  }
  const res = body as Record<string, unknown>;
  if (res.resourceType !== expectedType) {
    throw new FhirError(400, 'invalid', `resourceType is ${JSON.stringify(res.resourceType)} but this URL takes a ${expectedType}`, 'resourceType');
  }
  if (!resourceTypeDef(expectedType)) throw new FhirError(404, 'not-supported', `Resource type ${expectedType} is not supported`);
  if (res.id !== undefined && (typeof res.id !== 'string' || !ID_PATTERN.test(res.id))) {
    throw new FhirError(400, 'value', `${expectedType}.id must be 1-64 characters of A-Z, a-z, 0-9, '-' and '.'`, `${expectedType}.id`);
  }
  if (expectedId !== undefined && res.id !== expectedId) {
    throw new FhirError(400, 'invalid', `${expectedType}.id (${JSON.stringify(res.id)}) must equal the id in the URL (${expectedId})`, `${expectedType}.id`);
  }
  const issues: Issue[] = [];
  checkJsonShape(res, [], expectedType, issues);
  if (issues.length > 0) throw FhirError.many(400, issues);
  const rules = typeRules[expectedType];
  const parsed = rules?.safeParse(res, { reportInput: true });
  if (parsed && !parsed.success) throw zodToFhirError(parsed.error, expectedType);
  return res as unknown as fhir4.Resource;
}
