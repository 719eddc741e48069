import type { ZodError, ZodType } from 'zod';
import { FhirError, type IssueCode } from '../fhir/errors.js';
import { CONTROL_CHARACTER_RULE, controlCharacterPath } from '../fhir/text.js';

/**
 * One thing at fault: a field of the request body, as an RFC 6901 JSON Pointer in URI-fragment form
 * (`#/patient/nhsNumber`; `#` is the whole body), a request header or a query parameter.
 */
export interface FieldError {
  pointer?: string;
  header?: string;
  /** A query parameter. */
  parameter?: string;
  detail: string;
}

/** RFC 9457 problem details, with the `errors` extension member DESIGN.md defines for the JSON API. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
}

export const PROBLEM_MEDIA_TYPE = 'application/problem+json';

/** Problem types are named after the FHIR issue type the same refusal has on /fhir (documented in INTEGRATION.md). */
const PROBLEM_TYPE_BASE = 'https://signpost.health/problems/';

/** What a refusal of the JSON API is: thrown by its routes, answered by its error handler. */
export class ProblemError extends Error {
  constructor(readonly problem: Problem, readonly headers: Record<string, string> = {}) {
    super(problem.detail);
  }
}

// Titles: short, the same for every occurrence of the type (RFC 9457 §3.1.3).
const TITLES: Partial<Record<IssueCode, string>> = {
  invalid: 'The request is not valid',
  structure: 'The request body is not well formed',
  required: 'A required field is missing',
  value: 'A value is not valid',
  'code-invalid': 'A code is not one this service knows',
  login: 'Authentication is needed',
  forbidden: 'Not allowed for this client',
  'not-supported': 'Not supported',
  duplicate: 'Already exists',
  'not-found': 'Not found',
  conflict: 'The referral has changed since it was read',
  'business-rule': 'A rule of the referral workflow does not allow this',
  'too-costly': 'Too large',
  throttled: 'Too many requests',
  exception: 'The service failed',
};

function problemOf(status: number, code: IssueCode, detail: string, errors: FieldError[]): Problem {
  return {
    type: `${PROBLEM_TYPE_BASE}${code}`,
    title: TITLES[code] ?? 'The request could not be completed',
    status,
    detail,
    ...(errors.length ? { errors } : {}),
  };
}

/** An RFC 6901 pointer (URI-fragment form) to `path` within the request body. */
export function pointerTo(path: readonly PropertyKey[]): string {
  return `#${path.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')}`;
}

/** The body as `schema` reads it, or a 400 naming every field at fault. */
export function parseBody<T>(schema: ZodType<T>, body: unknown): T {
  const control = controlCharacterPath(body);
  if (control) {
    const pointer = pointerTo(control);
    throw new ProblemError(problemOf(400, 'value', `${pointer}: ${CONTROL_CHARACTER_RULE}`, [{ pointer, detail: CONTROL_CHARACTER_RULE }]));
  }
  // reportInput: an issue then says whether anything was there (nothing means a required field is missing).
  const parsed = schema.safeParse(body, { reportInput: true });
  if (!parsed.success) throw problemFromZod(parsed.error);
  return parsed.data;
}

/** A body that does not match its schema (parsed with reportInput): one error per field, each with its pointer. */
export function problemFromZod(err: ZodError, status = 400): ProblemError {
  const errors = err.issues.slice(0, 20).map((i) => ({ pointer: pointerTo(i.path), detail: i.message }));
  const code: IssueCode = err.issues.every((i) => 'input' in i && i.input === undefined) ? 'required' : 'invalid';
  const detail = errors.length === 1 ? `${errors[0]!.pointer}: ${errors[0]!.detail}` : `${errors.length} fields are not valid`;
  return new ProblemError(problemOf(status, code, detail, errors));
}

/**
 * Where a FHIR error points, as the JSON API's client sees it: the body field it came from, a header,
 * or undefined for the request as a whole.
 */
export type ExpressionMapper = (expression: string) => Omit<FieldError, 'detail'> | undefined;

/** Request headers as expressions name them (the FHIR layer checks If-Match at Task.meta.versionId). */
const HEADER_EXPRESSIONS: Record<string, string> = { 'Task.meta.versionId': 'If-Match', 'If-Match': 'If-Match', 'Idempotency-Key': 'Idempotency-Key' };

/**
 * A refusal of the FHIR core, as problem details: the same status, the issue type as the problem type,
 * and each issue's FHIRPath translated to the JSON field it came from.
 */
export function problemFromFhir(err: FhirError, mapper: ExpressionMapper = () => undefined): ProblemError {
  const errors: FieldError[] = err.issues.map((issue) => {
    const expression = issue.expression?.[0];
    const header = expression === undefined ? undefined : HEADER_EXPRESSIONS[expression];
    const where = header ? { header } : expression === undefined ? undefined : mapper(expression);
    return { ...(where ?? { pointer: '#' }), detail: plain(issue.diagnostics) };
  });
  const first = err.issues[0]!;
  return new ProblemError(problemOf(err.status, first.code, plain(first.diagnostics), errors), err.headers);
}

/** A JSON client sent no Bundle: the entry a transaction's error names means nothing to it. */
const plain = (diagnostics: string): string => diagnostics.replace(/^Bundle\.entry\[\d+\]: /, '');

/** Any other refusal: a status and what to say. */
export function problem(status: number, code: IssueCode, detail: string, errors: FieldError[] = []): ProblemError {
  return new ProblemError(problemOf(status, code, detail, errors));
}
