import type { Role } from '../config/deployment.js';
import { resourceTypes } from '../fhir/registry.js';
import type { Permission, Scope } from './scopes.js';

/**
 * What each role may do, per resource type, before organisation scoping (DESIGN.md "Roles"). The
 * letters are SMART v2 permissions: c create, r read, u update (and patch), s search (and history).
 * Nobody deletes. Which instances a role sees is decided by grants (see access-policy.ts).
 */
const RIGHTS: Record<Role, Record<string, string>> = {
  // Updating Patient and Consent goes beyond DESIGN.md's list on purpose: a practice must be able to
  // correct contact details and to record that a patient withdrew consent. Its Task update is only
  // the requester's one change, entered-in-error (workflow/task-rules.ts).
  referrer: {
    Patient: 'crus', Consent: 'crus', ServiceRequest: 'crus', Practitioner: 'crus', PractitionerRole: 'crus',
    Task: 'rus', QuestionnaireResponse: 'rs', Observation: 'rs', Communication: 'rs', Provenance: 'rs',
  },
  'link-worker': {
    Task: 'crus', ServiceRequest: 'rs', Patient: 'rs', Consent: 'rs', Practitioner: 'rs', PractitionerRole: 'rs',
    QuestionnaireResponse: 'crus', Observation: 'rs', Communication: 'crs', Provenance: 'rs', Subscription: 'crus',
  },
  // A community group sees its own Tasks and a minimised Patient, nothing clinical; it may be told
  // when its Tasks change (a Subscription on its own organisation's Tasks).
  'community-asset': { Task: 'rus', Patient: 'rs', Subscription: 'crus' },
  auditor: Object.fromEntries(resourceTypes.map((d) => [d.type, 'rs'])),
  commissioner: { MeasureReport: 'rs' },
  // The gateway on its own account: it writes what its jobs decide (a Task put on hold, a subscription
  // in error), never the server-written types, and never deletes.
  gateway: Object.fromEntries(resourceTypes.map((d) => [d.type, d.readOnly ? 'rs' : 'crus'])),
};

/** Directory and definition resources: every authenticated client may read them, unscoped. */
export const DIRECTORY_TYPES: ReadonlySet<string> = new Set(['Organization', 'Questionnaire', 'Measure']);

/** The scopes a role can hold at most: what a token request is narrowed to. */
export function roleScopes(role: Role): Scope[] {
  const rights: Record<string, string> = { ...RIGHTS[role] };
  for (const type of DIRECTORY_TYPES) rights[type] = [...new Set(`${rights[type] ?? ''}rs`)].join('');
  return Object.entries(rights).map(([type, letters]) => ({ type, permissions: new Set([...letters] as Permission[]) }));
}
