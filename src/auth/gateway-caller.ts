import type { Caller } from '../fhir/interaction.js';
import { roleScopes } from './role-rights.js';

/**
 * The gateway acting on its own account (scheduled jobs, delivery bookkeeping): its writes go through
 * the one write path like a client's, versioned, audited and with Provenance, under this name. Its
 * organisation is no ODS code (those are upper case), so nothing it creates is granted to a client.
 */
export const GATEWAY_CALLER: Caller = { clientId: 'signpost', role: 'gateway', organization: 'signpost', scopes: roleScopes('gateway') };
