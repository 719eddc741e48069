import { FhirError } from '../fhir/errors.js';
import type { Caller } from '../fhir/interaction.js';
import { DIRECTORY_TYPES, roleScopes } from './role-rights.js';
import { allows, type Permission, type Scope } from './scopes.js';
import type { Role } from '../config/deployment.js';

export type Access = 'read' | 'search' | 'create' | 'update';

const PERMISSION: Record<Access, Permission> = { read: 'r', search: 's', create: 'c', update: 'u' };
const roleScopeCache = new Map<Role, Scope[]>();

function scopesOfRole(role: Role): Scope[] {
  let s = roleScopeCache.get(role);
  if (!s) {
    s = roleScopes(role);
    roleScopeCache.set(role, s);
  }
  return s;
}

/**
 * The type-level rule: may this caller's role, and its token, do `access` on `type` at all? A refusal
 * here is a 403: it concerns a kind of resource, so it reveals nothing about any one resource.
 */
export function requireAccess(caller: Caller, type: string, access: Access): void {
  if (mayAccess(caller, type, access)) return;
  const p = PERMISSION[access];
  if (!allows(scopesOfRole(caller.role), type, p)) {
    throw new FhirError(403, 'forbidden', `A ${caller.role} client may not ${access} ${type} resources`, type);
  }
  if (!allows(caller.scopes, type, p)) {
    throw new FhirError(403, 'forbidden', `The access token's scopes do not allow ${access} on ${type}`, type);
  }
}

/**
 * The instance-level rule as a search filter: the organisation whose grants bound what the caller
 * sees of `type`, or undefined when the caller sees every instance (auditors; directory types).
 */
export function grantScope(caller: Caller, type: string): string | undefined {
  if (caller.role === 'auditor' || caller.role === 'gateway' || DIRECTORY_TYPES.has(type)) return undefined;
  return caller.organization;
}

/** Whether requireAccess would let the caller through: for views that leave out what the role may not read. */
export function mayAccess(caller: Caller, type: string, access: Access): boolean {
  const p = PERMISSION[access];
  return allows(scopesOfRole(caller.role), type, p) && allows(caller.scopes, type, p);
}
