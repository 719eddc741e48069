import { randomUUID } from 'node:crypto';
import { ODS_SYSTEM } from '../config/organizations.js';
import type { Caller } from '../fhir/interaction.js';
import type { Stored } from '../store/store.js';

export const CLIENT_ID_SYSTEM = 'https://signpost.health/Id/client';

// v3 DataOperation codes (http://terminology.hl7.org/CodeSystem/v3-DataOperation).
const ACTIVITY: Record<Stored['method'], { code: string; display: string }> = {
  POST: { code: 'CREATE', display: 'create' },
  PUT: { code: 'UPDATE', display: 'revise' },
  PATCH: { code: 'UPDATE', display: 'revise' },
};

/** What a write did to its resource: created it, or revised it (v3 DataOperation). */
export function activityOf(stored: Stored): 'CREATE' | 'UPDATE' {
  return (stored.version === 1 ? ACTIVITY.POST : ACTIVITY[stored.method]).code as 'CREATE' | 'UPDATE';
}

/**
 * The Provenance of versions one interaction wrote with one activity: who (client, on behalf of its
 * organisation) did what, when. Its recorded time is that of the last version it covers.
 */
export function provenanceFor(written: readonly Stored[], caller: Caller): fhir4.Provenance & { id: string } {
  const last = written[written.length - 1];
  if (!last) throw new Error('a Provenance needs at least one written version');
  const activity = activityOf(last) === 'CREATE' ? ACTIVITY.POST : ACTIVITY.PUT;
  return {
    resourceType: 'Provenance',
    id: randomUUID(),
    target: written.map((s) => ({ reference: `${s.type}/${s.id}/_history/${s.version}` })),
    recorded: last.resource.meta.lastUpdated,
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', ...activity }] },
    agent: [{
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author', display: 'Author' }] },
      who: { identifier: { system: CLIENT_ID_SYSTEM, value: caller.clientId }, display: caller.clientId },
      onBehalfOf: {
        identifier: { system: ODS_SYSTEM, value: caller.organization },
      },
    }],
  };
}
