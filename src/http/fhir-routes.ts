import express, { type NextFunction, type Request, type Response } from 'express';
import { batch, transaction } from '../fhir/bundle.js';
import { capabilityStatement, type ServerInfo } from '../fhir/capability.js';
import { dispatch, parseRequestUrl } from '../fhir/dispatch.js';
import { FhirError, operationOutcome } from '../fhir/errors.js';
import { anonymousCaller, type FhirContext, type FhirRequest, type FhirResult, type Prefer } from '../fhir/interaction.js';
import { limitJsonDepth } from './json-depth.js';
import { negotiateJson, requireBodyType, responseType } from './negotiation.js';

export const BODY_LIMIT = 1024 * 1024;

/** Prefer header tokens (RFC 7240): return=… and handling=…. */
function parsePrefer(header: string | undefined): { return?: Prefer; lenient: boolean } {
  const out: { return?: Prefer; lenient: boolean } = { lenient: false };
  for (const token of (header ?? '').split(/[,;]/).map((t) => t.trim())) {
    const [k, v] = token.split('=').map((s) => s.trim().replace(/^"|"$/g, ''));
    if (k === 'return' && (v === 'minimal' || v === 'representation' || v === 'OperationOutcome')) out.return = v;
    if (k === 'handling' && v === 'lenient') out.lenient = true;
  }
  return out;
}

function send(req: Request, res: Response, result: FhirResult, ctx: FhirContext): void {
  const v = result.version;
  if (v) {
    res.setHeader('ETag', `W/"${v.versionId}"`);
    res.setHeader('Last-Modified', new Date(v.lastUpdated).toUTCString());
    if (result.created) res.setHeader('Location', `${ctx.baseUrl}/fhir/${v.type}/${v.id}/_history/${v.versionId}`);
  }
  const prefer = req.method === 'GET' ? undefined : parsePrefer(header(req, 'prefer')).return;
  res.status(result.status);
  if (prefer === 'minimal' || !result.resource) return void res.end();
  const body = prefer === 'OperationOutcome'
    ? operationOutcome([{ severity: 'information', code: 'informational', diagnostics: `${req.method} succeeded (${result.status})` }])
    : result.resource;
  res.type(responseType(req)).send(JSON.stringify(body));
}

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** The query of the URL as sent (express's parser would fold repeated keys into arrays). */
function rawQuery(req: Request): URLSearchParams {
  const i = req.originalUrl.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : req.originalUrl.slice(i + 1));
}

/** The FHIR REST API under /fhir: HTTP is translated to FhirRequests and back, nothing more. */
export function fhirRouter(ctx: FhirContext, info: ServerInfo): express.Router {
  const router = express.Router();
  const metadata = JSON.stringify(capabilityStatement(info));

  router.use(negotiateJson);
  router.get('/metadata', (req, res) => void res.type(responseType(req)).send(metadata));
  router.use(requireBodyType);
  router.use(express.json({ type: ['application/json', 'application/fhir+json', 'application/json-patch+json'], limit: BODY_LIMIT }));
  router.use(express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 1000 }));
  router.use(limitJsonDepth);

  router.post('/', async (req, res, next) => {
    try {
      const bundle = req.body as fhir4.Bundle | undefined;
      if (!bundle || bundle.resourceType !== 'Bundle' || (bundle.type !== 'transaction' && bundle.type !== 'batch')) {
        throw new FhirError(400, 'invalid', 'POST to the base takes a Bundle of type transaction or batch', 'Bundle.type');
      }
      const caller = anonymousCaller;
      const result = bundle.type === 'transaction'
        ? await ctx.store.transaction((tx) => transaction(bundle, caller, tx, ctx))
        : await batch(bundle, caller, ctx);
      send(req, res, { status: 200, resource: result }, ctx);
    } catch (e) {
      next(e);
    }
  });

  router.all('/{*path}', async (req: Request, res: Response, next: NextFunction) => {
    try {
      const route = parseRequestUrl(req.path);
      if (!route) throw new FhirError(404, 'not-found', `No FHIR interaction is served at ${req.path}`);
      const query = rawQuery(req);
      if (route.compartment === '_search' && req.body && typeof req.body === 'object') {
        for (const [k, v] of Object.entries(req.body as Record<string, string | string[]>)) {
          for (const one of Array.isArray(v) ? v : [v]) query.append(k, String(one));
        }
      }
      const prefer = parsePrefer(header(req, 'prefer'));
      // HEAD is GET without the body, which express drops when sending.
      const method = (req.method === 'HEAD' ? 'GET' : req.method) as FhirRequest['method'];
      const fhirReq: FhirRequest = { ...route, query, method, caller: anonymousCaller, lenient: prefer.lenient };
      if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') fhirReq.body = req.body;
      const ifMatch = header(req, 'if-match');
      const ifNoneExist = header(req, 'if-none-exist');
      if (ifMatch !== undefined) fhirReq.ifMatch = ifMatch;
      if (ifNoneExist !== undefined) fhirReq.ifNoneExist = ifNoneExist;
      if (!['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) {
        throw new FhirError(405, 'not-supported', `${method} is not a FHIR interaction`);
      }
      const result = await ctx.store.transaction((tx) => dispatch(fhirReq, tx, ctx));
      send(req, res, result, ctx);
    } catch (e) {
      next(e);
    }
  });
  return router;
}
