import type { NextFunction, Request, Response } from 'express';
import { FhirError } from '../fhir/errors.js';

/**
 * Deepest nesting of a body we accept. Real FHIR resources stay far below it (a Questionnaire nested
 * ten items deep inside a Bundle is about 30 levels); the bound keeps every recursive walk of a
 * resource (validation, reference rewriting, serialisation) safe from stack exhaustion.
 */
export const MAX_JSON_DEPTH = 100;

/** Depth of a parsed JSON value, found without recursion. */
export function jsonDepth(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > max) max = depth;
    if (max > MAX_JSON_DEPTH) return max;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return max;
}

export function limitJsonDepth(req: Request, _res: Response, next: NextFunction): void {
  if (req.body !== undefined && jsonDepth(req.body) > MAX_JSON_DEPTH) {
    return next(new FhirError(400, 'structure', `The body is nested more than ${MAX_JSON_DEPTH} levels deep`));
  }
  next();
}
