import type { Request, Response } from 'express';
import type { Caller, FhirContext, FhirResult } from '../fhir/interaction.js';
import type { StoreTx } from '../store/store.js';
import type { ApiOperation } from './openapi.js';
import type { ExpressionMapper } from './problem.js';

/** An operation of the JSON API with the FHIR interaction it is audited as. */
export interface Route extends ApiOperation {
  audit: { subtype: string; type: string };
  /** Answers the call; `self` is this route (what its interaction is audited as). */
  handler: (req: Request, res: Response, self: Route) => Promise<void>;
}

/**
 * What the route modules share: the FHIR context, and `run`, which runs a function as the caller in
 * one audited transaction of the core and turns a refusal of the core into problem details whose
 * pointers `mapper` finds.
 */
export interface RouteKit {
  ctx: FhirContext;
  run(req: Request, res: Response, route: Route, mapper: ExpressionMapper, fn: (tx: StoreTx) => Promise<FhirResult>): Promise<FhirResult>;
  caller(res: Response): Caller;
}

export const AUTH_REFUSALS = { 401: 'No valid access token', 403: 'The client\'s role may not do this' };

/** What a call read or wrote, as the result its AuditEvent lists. */
export const collection = (resources: fhir4.Resource[]): fhir4.Bundle => ({
  resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })),
});
