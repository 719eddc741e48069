import { referenceTarget, valuesAt } from '../fhir/index-values.js';
import { organisationOf } from '../config/organizations.js';
import type { Stored, StoreTx } from '../store/store.js';
import { heldForConsent } from '../workflow/consent-hold.js';
import { isOpen } from '../workflow/task-states.js';


/**
 * Who may see what, derived from the references a resource carries (DESIGN.md "Roles"):
 * - parties: the organisations a resource names as responsible (owner, requester, performer, recipient);
 * - inherits: a resource that flows back for a request (an outcome, a message, a provenance record, a
 *   child Task) is seen by whoever sees that request;
 * - shares: the Patient, Consent and request a Task or referral is about are seen by whoever sees it.
 * Plus the organisation of the client that wrote it. Grants only grow (a past party keeps its view),
 * but for one case: a community group loses sight of a patient whose consent lapsed (consent-hold.ts).
 */
const PARTIES: Record<string, string[]> = {
  Task: ['owner', 'requester'],
  ServiceRequest: ['requester', 'performer'],
  Communication: ['recipient', 'sender'],
  Consent: ['organization'],
  PractitionerRole: ['organization'],
};
const INHERITS: Record<string, string[]> = {
  QuestionnaireResponse: ['basedOn'],
  Observation: ['basedOn', 'derivedFrom'],
  Communication: ['basedOn'],
  Task: ['partOf'],
  Provenance: ['target'],
};
const SHARES: Record<string, string[]> = {
  ServiceRequest: ['subject', 'supportingInfo'],
  Task: ['for', 'focus', 'basedOn'],
};

function handOnShares(task: fhir4.Task): string[] {
  return isOpen(task.status) && !heldForConsent(task) ? ['for'] : [];
}

function targets(resource: fhir4.Resource, paths: string[] | undefined, baseUrl: string): string[] {
  return (paths ?? []).flatMap((path) => valuesAt(resource, path)).flatMap((v) => {
    const ref = (v as { reference?: unknown }).reference;
    const t = typeof ref === 'string' ? referenceTarget(ref, baseUrl) : undefined;
    return t ? [t] : [];
  });
}

/**
 * The references through which a write links a resource into others' visibility (shares and inherits),
 * with the FHIRPath of each. A writer must see what it newly links to: otherwise naming another
 * organisation's patient would open it to the writer, and naming another service's referral would
 * attach the writer's data to it.
 */
export function linkedReferences(resource: fhir4.Resource, baseUrl: string): { target: string; path: string }[] {
  const type = resource.resourceType;
  return [...(SHARES[type] ?? []), ...(INHERITS[type] ?? [])].flatMap((path) =>
    targets(resource, [path], baseUrl).map((target) => ({ target, path: `${type}.${path}` })));
}

/**
 * Applies the grant rules after `stored` was written by a client of organisation `writer`, using the
 * unguarded transaction (grants are the policy's own bookkeeping). Returns the organisations granted.
 */
export async function applyGrants(tx: StoreTx, stored: Stored, writer: string, baseUrl: string): Promise<string[]> {
  const r = stored.resource;
  const orgs = new Set<string>([writer]);
  for (const t of targets(r, PARTIES[stored.type], baseUrl)) {
    const ods = await organisationOf({ reference: t }, tx, baseUrl);
    if (ods) orgs.add(ods);
  }
  for (const t of targets(r, INHERITS[stored.type], baseUrl)) {
    const [type = '', id = ''] = t.split('/');
    for (const org of await tx.grantsOf(type, id)) orgs.add(org);
  }
  const granted = [...orgs];
  await tx.grant(stored.type, stored.id, granted);
  // A hand-on Task (part of another) opens only its patient to the community group that owns it, and
  // only while the group works it with consent in force: the referral it is about stays with the
  // service and the practice, and a group whose view was revoked (consent-hold.ts) is not given it back
  // by its next change to the Task.
  const shares = stored.type === 'Task' && (r as fhir4.Task).partOf?.length ? handOnShares(r as fhir4.Task) : SHARES[stored.type];
  for (const t of targets(r, shares, baseUrl)) {
    const [type = '', id = ''] = t.split('/');
    if (await tx.read(type, id)) await tx.grant(type, id, granted);
  }
  return granted;
}
