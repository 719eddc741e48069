import type { StoreTx } from '../store/store.js';
import { FhirError } from './errors.js';
import { formatInstant, parseDateRange } from './instant.js';
import type { FhirContext, FhirRequest, FhirResult } from './interaction.js';
import { requireType } from './resource-interactions.js';
import { DEFAULT_COUNT, MAX_COUNT } from './search-params.js';
import { fullUrl } from './search.js';

const HISTORY_PARAMS = ['_since', '_count', '_cursor', '_format'];

/** Instance and type history, newest first, paged by the lastUpdated of the last version shown. */
export async function history(req: FhirRequest, tx: StoreTx, ctx: FhirContext): Promise<FhirResult> {
  const type = requireType(req.type);
  for (const key of req.query.keys()) {
    if (!HISTORY_PARAMS.includes(key) && !req.lenient) {
      throw new FhirError(400, 'not-supported', `Unknown history parameter '${key}' (supported: _since, _count)`, key);
    }
  }
  const sinceText = req.query.get('_since');
  const since = sinceText === null ? undefined : parseDateRange(sinceText)?.lo;
  if (sinceText !== null && since === undefined) throw new FhirError(400, 'invalid', `_since must be a FHIR instant, not '${sinceText}'`, '_since');
  const countText = req.query.get('_count');
  if (countText !== null && !/^\d+$/.test(countText)) throw new FhirError(400, 'invalid', `_count must be a whole number`, '_count');
  const count = Math.min(countText === null ? DEFAULT_COUNT : Number(countText), MAX_COUNT);
  const cursorText = req.query.get('_cursor');
  const before = cursorText === null ? undefined : Number(cursorText);
  if (before !== undefined && !Number.isSafeInteger(before)) throw new FhirError(400, 'invalid', 'The paging cursor is not valid', '_cursor');

  if (req.id !== undefined && !(await tx.read(type, req.id))) {
    throw new FhirError(404, 'not-found', `${type}/${req.id} is not known`, `${type}.id`);
  }
  const page = await tx.history({
    type, count,
    ...(req.id !== undefined ? { id: req.id } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(before !== undefined ? { before } : {}),
  });
  const base = `${ctx.baseUrl}/fhir/${type}${req.id ? `/${req.id}` : ''}/_history`;
  const params = new URLSearchParams();
  if (sinceText !== null) params.set('_since', sinceText);
  params.set('_count', String(count));
  const link: fhir4.BundleLink[] = [{ relation: 'self', url: `${base}?${params}${before !== undefined ? `&_cursor=${before}` : ''}` }];
  if (page.next !== undefined) link.push({ relation: 'next', url: `${base}?${params}&_cursor=${page.next}` });
  const bundle: fhir4.Bundle = {
      resourceType: 'Bundle',
      type: 'history',
      link,
      entry: page.versions.map((v) => ({
        fullUrl: fullUrl(ctx, v),
        resource: v.resource,
        request: { method: v.method, url: v.method === 'POST' ? v.type : `${v.type}/${v.id}` },
        response: {
          status: v.version === 1 ? '201 Created' : '200 OK',
          etag: `W/"${v.version}"`,
          lastModified: formatInstant(v.lastUpdated),
        },
      })),
  };
  return { status: 200, resource: bundle };
}
