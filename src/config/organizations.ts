import { referenceTarget } from '../fhir/index-values.js';
import { writeIfChanged } from '../store/server-resources.js';
import type { Store, StoreTx } from '../store/store.js';
import type { Deployment } from './deployment.js';

export const ODS_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';
/** Published BaRS messages spell the ODS system with a lower-case "id"; both name the same codes. */
export const ODS_SYSTEM_LOWER_CASE = 'https://fhir.nhs.uk/id/ods-organization-code';
export const ODS_SYSTEMS: readonly string[] = [ODS_SYSTEM, ODS_SYSTEM_LOWER_CASE];

/**
 * The ODS code a reference names: a logical reference by ODS identifier, an Organization (its ODS
 * identifier, else its id, which for configured organisations is the code), or the organisation of a
 * PractitionerRole. Undefined when it names none, or something not stored.
 */
export async function organisationOf(ref: fhir4.Reference | undefined, tx: StoreTx, baseUrl: string, depth = 0): Promise<string | undefined> {
  if (!ref) return undefined;
  if (ref.identifier && ODS_SYSTEMS.includes(ref.identifier.system ?? '') && ref.identifier.value) return ref.identifier.value;
  const [type = '', id = ''] = (ref.reference ? referenceTarget(ref.reference, baseUrl) ?? '' : '').split('/');
  const stored = type === 'Organization' || type === 'PractitionerRole' ? await tx.read(type, id) : undefined;
  if (!stored) return undefined;
  if (type === 'Organization') {
    return (stored.resource as fhir4.Organization).identifier?.find((i) => ODS_SYSTEMS.includes(i.system ?? ''))?.value ?? id;
  }
  const org = (stored.resource as fhir4.PractitionerRole).organization;
  return depth === 0 ? organisationOf(org, tx, baseUrl, 1) : undefined;
}

/** A literal reference to a configured organisation, with its ODS code as identifier. */
export function organizationReference(ods: string): fhir4.Reference {
  return { reference: `Organization/${ods}`, identifier: { system: ODS_SYSTEM, value: ods } };
}

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
      if (await writeIfChanged(tx, organizationResource(org))) await tx.grant('Organization', org.ods, [org.ods]);
    }
  });
}
