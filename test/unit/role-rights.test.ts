import { describe, expect, it } from 'vitest';
import { DIRECTORY_TYPES, roleScopes } from '../../src/auth/role-rights.js';
import { formatScopes } from '../../src/auth/scopes.js';
import { ROLES, type Role } from '../../src/config/deployment.js';
import { resourceTypes } from '../../src/fhir/registry.js';

/**
 * The most each role's token can carry, per resource type, as SMART v2 letters (c create, r read,
 * u update, s search). Derived from DESIGN.md "Roles"; the directory and definition types (Organization,
 * Questionnaire, Measure) are readable by every authenticated client. Where DESIGN.md is silent the
 * code's choice is kept and marked "silent"; where the code disagrees with DESIGN.md, DESIGN.md is kept
 * and the line is marked "DESIGN.md".
 */
const DIRECTORY = { Organization: 'rs', Questionnaire: 'rs', Measure: 'rs' };
const EXPECTED: Record<Role, Record<string, string>> = {
  referrer: {
    ...DIRECTORY,
    Patient: 'crus', // DESIGN.md: creates and reads; u beyond it on purpose (correcting contact details)
    Consent: 'crus', // as for Patient; u records a withdrawn consent
    ServiceRequest: 'crus', // create referrals; revoke its own (an update)
    Practitioner: 'crus', // silent: a requester may be a Practitioner(Role) of the practice
    PractitionerRole: 'crus', // silent
    Task: 'rus', // u: as the requester, only to mark the Task entered-in-error (issue 5)
    QuestionnaireResponse: 'rs',
    Observation: 'rs',
    Communication: 'rs', // flows back to it
    Provenance: 'rs',
  },
  'link-worker': {
    ...DIRECTORY,
    Task: 'crus', // move its Tasks through the workflow; hand on (a new child Task)
    ServiceRequest: 'rs',
    Patient: 'rs',
    Consent: 'rs',
    Practitioner: 'rs', // silent
    PractitionerRole: 'rs', // silent
    QuestionnaireResponse: 'crus', // record outcomes (r, u silent)
    Observation: 'rs', // silent: scored by the server from the outcomes it records
    Communication: 'crs', // silent
    Provenance: 'rs', // silent
    Subscription: 'crus', // issue 9: told when its own organisation's Tasks change
  },
  'community-asset': {
    ...DIRECTORY,
    Task: 'rus', // only Tasks owned by its organisation (u silent: it moves the hand-on Task on)
    Patient: 'rs', // minimised
    Subscription: 'crus', // issue 9, as for link workers
  },
  auditor: Object.fromEntries(resourceTypes.map((d) => [d.type, 'rs'])), // read everything, write nothing
  commissioner: { ...DIRECTORY, MeasureReport: 'rs' }, // aggregate reports only
  // Never a client's: the gateway's own jobs write every type but the server-written ones.
  gateway: Object.fromEntries(resourceTypes.map((d) => [d.type, d.readOnly ? 'rs' : 'crus'])),
};

/** A role's scopes as `{ Type: letters }`, letters in cruds order. */
function rightsOf(role: Role): Record<string, string> {
  return Object.fromEntries(formatScopes(roleScopes(role)).split(' ').map((s) => {
    const [type = '', letters = ''] = s.slice('system/'.length).split('.');
    return [type, letters];
  }));
}

/** Every caller's role: the clients', and the gateway's own. */
const ALL_ROLES: Role[] = [...ROLES, 'gateway'];

describe('roleScopes', () => {
  it('knows every role', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...ALL_ROLES].sort());
  });

  it.each(ALL_ROLES.flatMap((role) => Object.entries(EXPECTED[role]).map(([type, letters]) => [role, type, letters] as const)))(
    '%s: %s.%s', (role, type, letters) => {
      expect(rightsOf(role)[type] ?? '(none)').toBe(letters);
    },
  );

  it.each(ALL_ROLES)('%s holds nothing beyond the table', (role) => {
    expect(Object.keys(rightsOf(role)).filter((type) => !(type in EXPECTED[role]))).toEqual([]);
  });

  it.each(ALL_ROLES)('%s may never delete, nor write AuditEvent or Provenance', (role) => {
    const rights = rightsOf(role);
    expect(Object.entries(rights).filter(([, letters]) => letters.includes('d'))).toEqual([]);
    expect(rights.AuditEvent ?? '').not.toMatch(/[cu]/);
    expect(rights.Provenance ?? '').not.toMatch(/[cu]/);
  });

  it.each(ALL_ROLES)('%s may read and search every directory type', (role) => {
    for (const type of DIRECTORY_TYPES) expect(rightsOf(role)[type]).toMatch(/r.*s/);
  });

  it('only the auditor reads AuditEvents; the commissioner sees no patient-level type', () => {
    expect(ROLES.filter((role) => rightsOf(role).AuditEvent)).toEqual(['auditor']);
    const patientLevel = ['Patient', 'Consent', 'ServiceRequest', 'Task', 'QuestionnaireResponse', 'Observation', 'Communication', 'Provenance', 'AuditEvent'];
    expect(patientLevel.filter((type) => rightsOf('commissioner')[type])).toEqual([]);
  });

  it('returns a fresh list each time, so a caller cannot widen a role by changing it', () => {
    const first = roleScopes('community-asset');
    (first[0]!.permissions as Set<string>).add('c');
    first.push({ type: 'ServiceRequest', permissions: new Set(['r']) });
    expect(rightsOf('community-asset')).toEqual(EXPECTED['community-asset']);
  });
});
