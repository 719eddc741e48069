import type { ZodError } from 'zod';

/** FHIR issue-type codes we raise (http://hl7.org/fhir/R4/valueset-issue-type.html). */
export type IssueCode =
  | 'invalid' | 'structure' | 'required' | 'value' | 'invariant' | 'code-invalid' | 'security' | 'login' | 'forbidden'
  | 'processing' | 'not-supported' | 'duplicate' | 'multiple-matches' | 'not-found' | 'conflict'
  | 'too-costly' | 'business-rule' | 'exception' | 'timeout' | 'throttled' | 'informational' | 'deleted';

export interface Issue {
  code: IssueCode;
  diagnostics: string;
  expression?: string[];
  severity?: 'fatal' | 'error' | 'warning' | 'information';
}

/**
 * The one error type of the FHIR layer: every refusal is thrown as a FhirError and turned into an
 * OperationOutcome by one middleware, so no route formats errors of its own.
 */
export class FhirError extends Error {
  readonly issues: Issue[];
  constructor(
    readonly status: number,
    code: IssueCode,
    diagnostics: string,
    expression?: string | string[],
    readonly headers: Record<string, string> = {},
  ) {
    super(diagnostics);
    const expr = expression === undefined ? undefined : Array.isArray(expression) ? expression : [expression];
    this.issues = [{ code, diagnostics, ...(expr ? { expression: expr } : {}) }];
  }

  /** Several problems found in one input, reported together. */
  static many(status: number, issues: Issue[]): FhirError {
    const first = issues[0] ?? { code: 'invalid' as const, diagnostics: 'Invalid input' };
    const err = new FhirError(status, first.code, first.diagnostics, first.expression);
    err.issues.splice(0, 1, ...issues);
    return err;
  }
}

export function operationOutcome(issues: Issue[]): fhir4.OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((i) => ({
      severity: i.severity ?? 'error',
      code: i.code,
      diagnostics: i.diagnostics,
      ...(i.expression ? { expression: i.expression } : {}),
    })),
  };
}

/** Turns a zod path into a FHIRPath expression rooted at `root`: ['subject','reference'] → Root.subject.reference. */
export function fhirPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}

export function zodToFhirError(err: ZodError, root: string, status = 400): FhirError {
  return FhirError.many(
    status,
    err.issues.slice(0, 20).map((i) => ({
      // With reportInput, zod says what it found: nothing at all means a required element is missing.
      code: 'input' in i && i.input === undefined ? 'required' : 'structure',
      diagnostics: `${fhirPath(root, i.path)}: ${i.message}`,
      expression: [fhirPath(root, i.path)],
    })),
  );
}
