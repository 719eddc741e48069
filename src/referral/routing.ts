import type { Deployment } from '../config/deployment.js';
import { FhirError } from '../fhir/errors.js';

/**
 * The social-prescribing service a referral goes to: the performer it names, when that is a configured
 * service; otherwise the route configured for the referring practice.
 */
export function routeReferral(deployment: Deployment, practice: string, performer: string | undefined): string {
  const service = (ods: string) => deployment.organizations.some((o) => o.ods === ods && o.kind === 'sp-service');
  if (performer !== undefined) {
    if (service(performer)) return performer;
    throw new FhirError(422, 'business-rule', `The performer ${performer} is not a social prescribing service configured here`, 'ServiceRequest.performer[0]');
  }
  const route = deployment.routes.find((r) => r.practice === practice);
  if (!route) {
    throw new FhirError(422, 'business-rule', `No social prescribing service is configured for practice ${practice}; name one as performer or ask the operator to add a route`, 'ServiceRequest.performer');
  }
  return route.service;
}
