import type { Store } from '../store/store.js';
import type { Deployment } from './deployment.js';

export const ODS_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';

/** The Organization resource of a configured organisation: its id is its ODS code. */
export function organizationResource(org: Deployment['organizations'][number]): fhir4.Organization & { id: string } {
  return {
    resourceType: 'Organization',
    id: org.ods,
    identifier: [{ system: ODS_SYSTEM, value: org.ods }],
    active: true,
    name: org.name,
  };
}

/**
 * Makes the directory match the config at start-up: each configured organisation exists as an
 * Organization, rewritten only when its config changed (so versions mean changes).
 */
export async function materialiseOrganizations(store: Store, deployment: Deployment): Promise<void> {
  await store.transaction(async (tx) => {
    for (const org of deployment.organizations) {
      const wanted = organizationResource(org);
      const current = await tx.read('Organization', org.ods);
      const { meta: _meta, ...currentContent } = (current?.resource ?? {}) as fhir4.Organization;
      if (current && JSON.stringify(currentContent) === JSON.stringify(wanted)) continue;
      await tx.write(wanted, { method: current ? 'PUT' : 'POST' });
      await tx.grant('Organization', org.ods, [org.ods]);
    }
  });
}
