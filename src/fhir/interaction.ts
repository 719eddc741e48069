import type { Scope } from '../auth/scopes.js';
import type { Role } from '../config/deployment.js';
import type { StoreTx } from '../store/store.js';

/** Who is asking: an authenticated client, its role and organisation, and the scopes its token grants. */
export interface Caller {
  clientId: string;
  role: Role;
  /** ODS code of the client's organisation. */
  organization: string;
  scopes: readonly Scope[];
  /** The network address the request came from, for the audit trail. */
  address?: string;
}

export type Prefer = 'minimal' | 'representation' | 'OperationOutcome';

/** A FHIR interaction request, independent of HTTP: REST, Bundle entries and operations all use it. */
export interface FhirRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  type?: string;
  id?: string;
  versionId?: string;
  /** `_history` for history interactions, `_search` for POST searches. */
  compartment?: '_history' | '_search';
  query: URLSearchParams;
  body?: unknown;
  ifMatch?: string;
  ifNoneExist?: string;
  lenient?: boolean;
  caller: Caller;
}

export interface FhirResult {
  status: number;
  resource?: fhir4.Resource;
  /** The stored version the result is about: the HTTP layer derives ETag, Last-Modified and Location. */
  version?: { type: string; id: string; versionId: string; lastUpdated: string };
  created?: boolean;
}

/** What is known of an interaction before it runs: enough to audit it even if it is refused. */
export interface InteractionInfo {
  /** http://hl7.org/fhir/restful-interaction code (read, vread, search-type, create, …) or an operation name. */
  subtype: string;
  type?: string;
  /** The search or history query string. */
  query?: string;
  requestId?: string;
  address?: string;
  /** What the gateway's own interaction is for (a scheduled job's), recorded as the AuditEvent's outcomeDesc. */
  description?: string;
}

/**
 * Runs one interaction for a caller inside one store transaction. The gateway's runner applies the
 * access policy to the transaction it hands over and audits the interaction in the same commit.
 */
export type RunInteraction = (caller: Caller, info: InteractionInfo, fn: (tx: StoreTx) => Promise<FhirResult>) => Promise<FhirResult>;

/** Settings every interaction needs from the deployment. */
export interface FhirContext {
  baseUrl: string;
  run: RunInteraction;
}

/** The restful-interaction code of a request, for the audit trail. */
export function interactionCode(req: Pick<FhirRequest, 'method' | 'id' | 'versionId' | 'compartment'>): string {
  switch (req.method) {
    case 'GET':
      if (req.compartment === '_history') return req.id === undefined ? 'history-type' : 'history-instance';
      if (req.versionId !== undefined) return 'vread';
      return req.id === undefined ? 'search-type' : 'read';
    case 'POST':
      return req.compartment === '_search' ? 'search-type' : 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
  }
}

export type Interaction = (req: FhirRequest, tx: StoreTx, ctx: FhirContext) => Promise<FhirResult>;
