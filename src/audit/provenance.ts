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

/** The Provenance of one written version: who (client, on behalf of its organisation) did what, when. */
export function provenanceFor(stored: Stored, caller: Caller): fhir4.Provenance & { id: string } {
  const activity = stored.version === 1 ? ACTIVITY.POST : ACTIVITY[stored.method];
  return {
    resourceType: 'Provenance',
    id: randomUUID(),
    target: [{ reference: `${stored.type}/${stored.id}/_history/${stored.version}` }],
    recorded: stored.resource.meta.lastUpdated,
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
