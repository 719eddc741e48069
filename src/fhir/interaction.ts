import type { Store, StoreTx } from '../store/store.js';

/**
 * Who is asking. Every interaction receives it explicitly; until the identity issue lands the HTTP
 * layer passes the anonymous caller.
 */
export interface Caller {
  clientId: string;
  role: string;
  organization?: string;
  scopes?: string[];
}

export const anonymousCaller: Caller = { clientId: 'anonymous', role: 'anonymous' };

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

/** Settings every interaction needs from the deployment. */
export interface FhirContext {
  baseUrl: string;
  store: Store;
}

export type Interaction = (req: FhirRequest, tx: StoreTx, ctx: FhirContext) => Promise<FhirResult>;
