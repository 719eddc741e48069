import type { Role } from '../config/deployment.js';

/** SMART v2 permissions (http://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html). */
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';
const ORDER: readonly Permission[] = ['c', 'r', 'u', 'd', 's'];

/** A system-level scope: a resource type (or every type) with permissions. */
export interface Scope {
  type: string;
  permissions: ReadonlySet<Permission>;
}

/** SMART v1 suffixes, mapped to their v2 equivalents. */
const V1: Record<string, Permission[]> = { read: ['r', 's'], write: ['c', 'u', 'd'], '*': ['c', 'r', 'u', 'd', 's'] };

/** Parses `system/Task.rus system/*.read …`; returns undefined for a scope string it cannot read. */
export function parseScopes(text: string): Scope[] | undefined {
  const out: Scope[] = [];
  for (const token of text.split(/\s+/).filter(Boolean)) {
    const m = /^system\/([A-Z][A-Za-z]*|\*)\.([cruds]+|read|write|\*)$/.exec(token);
    if (!m) return undefined;
    const [, type = '', perms = ''] = m;
    const permissions = V1[perms] ?? [...perms] as Permission[];
    // v2 requires the letters in cruds order and without repeats.
    if (!V1[perms] && permissions.join('') !== ORDER.filter((p) => permissions.includes(p)).join('')) return undefined;
    out.push({ type, permissions: new Set(permissions) });
  }
  return out;
}

export function formatScopes(scopes: readonly Scope[]): string {
  return scopes.map((s) => `system/${s.type}.${ORDER.filter((p) => s.permissions.has(p)).join('')}`).join(' ');
}

export function allows(scopes: readonly Scope[], type: string, permission: Permission): boolean {
  return scopes.some((s) => (s.type === '*' || s.type === type) && s.permissions.has(permission));
}

/**
 * What a client may be granted: the intersection of what it asked for and what its role allows,
 * one scope per resource type. An empty request means "everything the role allows".
 */
export function narrowScopes(roleScopes: readonly Scope[], requested: readonly Scope[] | undefined): Scope[] {
  if (requested === undefined || requested.length === 0) return [...roleScopes];
  const out: Scope[] = [];
  for (const role of roleScopes) {
    const perms = new Set<Permission>();
    for (const req of requested) {
      if (req.type !== '*' && req.type !== role.type) continue;
      for (const p of req.permissions) if (role.permissions.has(p)) perms.add(p);
    }
    if (perms.size > 0) out.push({ type: role.type, permissions: perms });
  }
  return out;
}

export type { Role };
