import type { NextFunction, Request, Response } from 'express';
import { FhirError } from '../fhir/errors.js';

const JSON_FORMATS = ['json', 'application/json', 'application/fhir+json'];

/** Media types an Accept header allows, without parameters; `q=0` means "not acceptable" (RFC 9110 §12.5.1). */
function acceptedTypes(accept: string): string[] {
  return accept.split(',').flatMap((part) => {
    const [type = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return type && !(q && Number(q.slice(2)) === 0) ? [type] : [];
  });
}

/** The `_format` query parameter, parsed only when the URL mentions it (most requests do not). */
function formatParam(req: Request): string | null {
  return req.originalUrl.includes('_format') ? new URL(req.originalUrl, 'http://x').searchParams.get('_format') : null;
}

/** The response media type: JSON as the client asked for it, FHIR JSON by default. */
function mediaType(format: string | null, accept: string, types: string[]): string {
  const f = format?.toLowerCase();
  const plain = f === 'application/json' || (!f && types.includes('application/json') && !accept.includes('fhir+json'));
  return `${plain ? 'application/json' : 'application/fhir+json'}; charset=utf-8`;
}

/**
 * FHIR is served as JSON only: `_format` or an Accept header that rules JSON out answers 406, before
 * any work is done. What the response will be sent as is decided here too (`responseType`), so that the
 * headers are read once per request. `alternatives`: the other media types a path also offers (an
 * operation's CSV), chosen when the Accept header names one before any JSON type.
 */
export const negotiateJson = (alternatives: (path: string) => readonly string[] = () => []) => (req: Request, res: Response, next: NextFunction): void => {
  const offered = alternatives(req.path);
  if (offered.length > 0 && req.headers.accept) {
    const first = acceptedTypes(req.headers.accept).find((t) => offered.includes(t) || t === 'application/json' || t === 'application/fhir+json');
    if (first && offered.includes(first)) {
      res.locals.mediaType = `${first}; charset=utf-8`;
      return next();
    }
  }
  const format = formatParam(req);
  if (format !== null && !JSON_FORMATS.includes(format.toLowerCase().split(';')[0]!.trim())) {
    return next(new FhirError(406, 'not-supported', `_format=${format} is not supported: this server speaks FHIR JSON only`, '_format'));
  }
  const accept = req.headers.accept ?? '';
  const types = accept ? acceptedTypes(accept) : [];
  if (format === null && accept) {
    const ok = types.some((t) => t === '*/*' || t === 'application/*' || t === 'application/json' || t === 'application/fhir+json');
    if (!ok) return next(new FhirError(406, 'not-supported', `Accept: ${accept} cannot be met: responses are application/fhir+json`, 'Accept'));
  }
  res.locals.mediaType = mediaType(format, accept, types);
  next();
};

/** Content types the FHIR routes read, by method: a body that is not what they read answers 415. */

export function requireBodyType(req: Request, _res: Response, next: NextFunction): void {
  if (!['POST', 'PUT', 'PATCH'].includes(req.method)) return next();
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const isSearch = req.path.endsWith('/_search');
  const allowed = req.method === 'PATCH'
    ? ['application/json-patch+json']
    : isSearch ? ['application/x-www-form-urlencoded'] : ['application/fhir+json', 'application/json'];
  if ((hasBody || !isSearch) && !allowed.includes(type)) {
    return next(new FhirError(415, 'not-supported', `Content-Type ${type || '(none)'} is not accepted here; send ${allowed.join(' or ')}`, 'Content-Type'));
  }
  next();
}

/** The response media type negotiateJson decided (or, for a route outside it, decided now). */
export function responseType(req: Request, res: Response): string {
  if (typeof res.locals.mediaType === 'string') return res.locals.mediaType;
  const accept = req.headers.accept ?? '';
  return mediaType(formatParam(req), accept, acceptedTypes(accept));
}
