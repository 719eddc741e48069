import type { StoreTx } from '../store/store.js';
import { FhirError } from './errors.js';
import { history } from './history.js';
import type { FhirContext, FhirRequest, FhirResult } from './interaction.js';
import { create, patch, read, requireType, update, vread } from './resource-interactions.js';
import { search } from './search.js';

/**
 * Chooses the interaction for a request. REST routes and Bundle entries both come through here, so a
 * transaction entry behaves exactly as the same request sent alone.
 */
export function dispatch(req: FhirRequest, tx: StoreTx, ctx: FhirContext): Promise<FhirResult> {
  requireType(req.type);
  switch (req.method) {
    case 'GET':
      if (req.compartment === '_history') return history(req, tx, ctx);
      if (req.versionId !== undefined) return vread(req, tx);
      if (req.id !== undefined) return read(req, tx);
      return search(req, tx, ctx);
    case 'POST':
      if (req.compartment === '_search') return search(req, tx, ctx);
      if (req.id !== undefined) break;
      return create(req, tx, ctx);
    case 'PUT':
      if (req.id === undefined) {
        throw new FhirError(400, 'not-supported', 'Conditional update is not supported: PUT to Type/id', req.type);
      }
      return update(req, tx);
    case 'PATCH':
      if (req.id === undefined) break;
      return patch(req, tx);
    case 'DELETE':
      throw new FhirError(405, 'not-supported',
        'Resources are never deleted here: referral records are kept; set status to entered-in-error instead', `${req.type}.status`);
  }
  throw new FhirError(405, 'not-supported', `${req.method} is not allowed on this URL`, req.type);
}

/**
 * Parses a relative request URL ("Patient", "Patient/1", "Patient?x=y", "Patient/1/_history/2")
 * into the routing part of a FhirRequest.
 */
export function parseRequestUrl(url: string): Pick<FhirRequest, 'type' | 'id' | 'versionId' | 'compartment' | 'query'> | undefined {
  const [path = '', qs = ''] = url.split(/\?(.*)/s, 2);
  const parts = path.replace(/^\/+|\/+$/g, '').split('/');
  const query = new URLSearchParams(qs);
  const [type, id, hist, versionId, ...rest] = parts;
  if (!type || rest.length > 0) return undefined;
  if (id === '_history') return parts.length === 2 ? { type, compartment: '_history', query } : undefined;
  if (id === '_search') return parts.length === 2 ? { type, compartment: '_search', query } : undefined;
  if (hist !== undefined && hist !== '_history') return undefined;
  if (hist === '_history' && versionId === undefined) return { type, id, compartment: '_history', query };
  return { type, ...(id !== undefined ? { id } : {}), ...(versionId !== undefined ? { versionId } : {}), query };
}
