import { describe, expect, it } from 'vitest';
import { roleScopes } from '../../src/auth/role-rights.js';
import { allows, formatScopes, narrowScopes, parseScopes, type Permission, type Scope } from '../../src/auth/scopes.js';
import { ROLES } from '../../src/config/deployment.js';

/** Scopes as plain `Type.letters` strings in cruds order, so expectations read like scope strings. */
const plain = (scopes: readonly Scope[] | undefined) => scopes && formatScopes(scopes).split(' ').filter(Boolean).map((s) => s.slice('system/'.length));
const scopes = (text: string): Scope[] => {
  const parsed = parseScopes(text);
  if (!parsed) throw new Error(`test scope ${text} does not parse`);
  return parsed;
};

describe('parseScopes', () => {
  it.each<[string, string[]]>([
    ['', []],
    ['   ', []],
    ['system/Task.rus', ['Task.rus']],
    ['system/Task.c system/Patient.rs', ['Task.c', 'Patient.rs']],
    ['system/Task.r \t\n system/Task.s', ['Task.r', 'Task.s']],
    ['system/*.cruds', ['*.cruds']],
    ['system/*.rs', ['*.rs']],
    // SMART v1 suffixes map to their v2 letters.
    ['system/*.read', ['*.rs']],
    ['system/Task.read', ['Task.rs']],
    ['system/Task.write', ['Task.cud']],
    ['system/Task.*', ['Task.cruds']],
    ['system/*.*', ['*.cruds']],
    ['system/QuestionnaireResponse.d', ['QuestionnaireResponse.d']],
  ])('reads %j', (text, expected) => {
    expect(plain(parseScopes(text))).toEqual(expected);
  });

  it.each([
    'system/Task.sr', // v2 letters must be in cruds order
    'system/Task.rr', // ... without repeats
    'system/Task.', // no permissions
    'system/Task.x',
    'system/Task.readwrite',
    'system/task.rs', // resource types start upper-case
    'system/Task',
    'patient/Task.rs', // only system-level scopes: there is no patient or user context
    'user/*.read',
    'system/Task.rs?status=requested', // granular (query) scopes are not supported
    'openid',
    'launch/patient',
    'system/Task.rs openid', // one bad token spoils the string
    'System/Task.rs',
    'system//Task.rs',
  ])('refuses %j', (text) => {
    expect(parseScopes(text)).toBeUndefined();
  });
});

describe('formatScopes', () => {
  it.each<[Scope[], string]>([
    [[], ''],
    [[{ type: 'Task', permissions: new Set<Permission>(['s', 'u', 'r']) }], 'system/Task.rus'],
    [[{ type: '*', permissions: new Set<Permission>(['d', 'c', 's', 'u', 'r']) }], 'system/*.cruds'],
    [[{ type: 'Task', permissions: new Set<Permission>(['r']) }, { type: 'Patient', permissions: new Set<Permission>(['c']) }],
      'system/Task.r system/Patient.c'],
  ])('writes %j as %j', (input, expected) => {
    expect(formatScopes(input)).toBe(expected);
  });

  it.each(['system/Task.rus', 'system/*.cruds system/Patient.r', 'system/Observation.s'])('round-trips %j', (text) => {
    expect(formatScopes(scopes(text))).toBe(text);
  });
});

describe('narrowScopes', () => {
  const role = scopes('system/Task.rus system/Patient.rs');
  it.each<[string, string | undefined, string[]]>([
    ['no request: everything the role has', undefined, ['Task.rus', 'Patient.rs']],
    ['an empty request: everything the role has', '', ['Task.rus', 'Patient.rs']],
    ['a subset', 'system/Task.r', ['Task.r']],
    ['more than the role: cut down to it', 'system/Task.cruds', ['Task.rus']],
    ['wildcard type', 'system/*.rs', ['Task.rs', 'Patient.rs']],
    ['wildcard everything', 'system/*.*', ['Task.rus', 'Patient.rs']],
    ['v1 read', 'system/*.read', ['Task.rs', 'Patient.rs']],
    ['v1 write on a type', 'system/Task.write', ['Task.u']],
    ['requests combine per type', 'system/Task.r system/Task.u', ['Task.ru']],
    ['wildcard and type combine', 'system/*.s system/Task.r', ['Task.rs', 'Patient.s']],
    ['a type the role lacks', 'system/Observation.rs', []],
    ['permissions the role lacks', 'system/Task.cd system/Patient.u', []],
    ['partly outside the role', 'system/Observation.rs system/Patient.r', ['Patient.r']],
  ])('%s', (_name, requested, expected) => {
    expect(plain(narrowScopes(role, requested === undefined ? undefined : scopes(requested)))).toEqual(expected);
  });

  it('never grants more than the role, whatever is asked', () => {
    for (const r of ROLES) {
      const most = roleScopes(r);
      for (const p of ['c', 'r', 'u', 'd', 's'] as const) {
        for (const type of ['Task', 'Patient', 'AuditEvent', 'MeasureReport', 'Organization', 'Nonexistent']) {
          const granted = narrowScopes(most, scopes(`system/*.cruds system/${type}.cruds`));
          expect(allows(granted, type, p), `${r} ${type}.${p}`).toBe(allows(most, type, p));
        }
      }
    }
  });
});

describe('allows', () => {
  it.each<[string, string, Permission, boolean]>([
    ['system/Task.rs', 'Task', 'r', true],
    ['system/Task.rs', 'Task', 's', true],
    ['system/Task.rs', 'Task', 'u', false],
    ['system/Task.rs', 'Patient', 'r', false],
    ['system/*.rs', 'Patient', 'r', true],
    ['system/*.rs', 'Patient', 'c', false],
    ['system/*.r system/Task.c', 'Task', 'c', true],
    ['system/*.r system/Task.c', 'Patient', 'c', false],
    ['system/*.write', 'Observation', 'd', true],
    ['', 'Task', 'r', false],
  ])('%j allows %s.%s: %s', (text, type, permission, expected) => {
    expect(allows(scopes(text), type, permission)).toBe(expected);
  });
});
