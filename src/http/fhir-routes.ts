import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { batch, transaction } from '../fhir/bundle.js';
import { capabilityStatement, type ServerInfo } from '../fhir/capability.js';
import { dispatch, parseRequestUrl } from '../fhir/dispatch.js';
import { FhirError, operationOutcome } from '../fhir/errors.js';
import {
  interactionCode, type Caller, type FhirContext, type FhirRequest, type FhirResult, type InteractionInfo, type Prefer,
} from '../fhir/interaction.js';
import { limitJsonDepth } from './json-depth.js';
import { negotiateJson, requireBodyType, responseType } from './negotiation.js';
import { interactionInfo } from './request-context.js';

export const BODY_LIMIT = 1024 * 1024;

/** An operation endpoint under /fhir: one route, not a router that every request would pass through. */
export interface FhirOperation {
  method: 'get' | 'post';
  /** An express path under /fhir, `$` escaped (e.g. '/AuditEvent/\\$verify'). */
  path: string;
  handler: RequestHandler;
  /** Media types it answers in besides FHIR JSON, when Accept asks for one (res.locals.mediaType says which). */
  alsoProduces?: readonly string[];
}

export interface FhirRouterOptions {
  context: FhirContext;
  info: ServerInfo;
  /** Establishes res.locals.caller (the bearer-token check) or fails with a 401. */
  authenticate: RequestHandler;
  /** Public JSON served without a token under /fhir/.well-known/smart-configuration. */
  smartConfiguration: () => unknown;
  /** FHIR operations ($verify, …), served to authenticated callers before the REST interactions. */
  operations?: FhirOperation[];
  /** Records a request refused before any interaction ran (bad token, bad body, bad media type). */
  auditRefusal: (caller: Caller | undefined, info: InteractionInfo, error: unknown) => Promise<void>;
}

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

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

function send(req: Request, res: Response, result: FhirResult, baseUrl: string): void {
  const v = result.version;
  if (v) {
    res.setHeader('ETag', `W/"${v.versionId}"`);
    res.setHeader('Last-Modified', new Date(v.lastUpdated).toUTCString());
    if (result.created) res.setHeader('Location', `${baseUrl}/fhir/${v.type}/${v.id}/_history/${v.versionId}`);
  }
  const prefer = req.method === 'GET' ? undefined : parsePrefer(header(req, 'prefer')).return;
  res.status(result.status);
  if (prefer === 'minimal' || !result.resource) return void res.end();
  const body = prefer === 'OperationOutcome'
    ? operationOutcome([{ severity: 'information', code: 'informational', diagnostics: `${req.method} succeeded (${result.status})` }])
    : result.resource;
  res.type(responseType(req, res)).send(JSON.stringify(body));
}

/** The query of the URL as sent (express's parser would fold repeated keys into arrays). */
function rawQuery(req: Request): URLSearchParams {
  const i = req.originalUrl.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : req.originalUrl.slice(i + 1));
}

/** The FHIR REST API under /fhir: HTTP is translated to FhirRequests and back, nothing more. */
export function fhirRouter({ context: ctx, info, authenticate, smartConfiguration, operations = [], auditRefusal }: FhirRouterOptions): express.Router {
  const router = express.Router();
  const metadata = () => JSON.stringify(capabilityStatement(info));

  const literal = (path: string) => path.replaceAll('\\$', '$');
  router.use(negotiateJson((path) => operations.find((op) => op.alsoProduces && literal(op.path) === path)?.alsoProduces ?? []));
  router.get('/metadata', (req, res) => void res.type(responseType(req, res)).send(metadata()));
  router.get('/.well-known/smart-configuration', (_req, res) => void res.json(smartConfiguration()));
  router.use(authenticate);
  router.use(requireBodyType);
  router.use(express.json({ type: ['application/json', 'application/fhir+json', 'application/json-patch+json'], limit: BODY_LIMIT }));
  router.use(express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 1000 }));
  router.use(limitJsonDepth);
  if (operations.length > 0) {
    // Operation paths hold a `$`: other requests pass one test here rather than a route match per operation.
    const byOperation = express.Router();
    for (const op of operations) byOperation[op.method](op.path, op.handler);
    router.use((req, res, next) => (req.path.includes('$') ? byOperation(req, res, next) : next()));
  }

  router.post('/', async (req, res, next) => {
    try {
      const bundle = req.body as fhir4.Bundle | undefined;
      if (!bundle || bundle.resourceType !== 'Bundle' || (bundle.type !== 'transaction' && bundle.type !== 'batch')) {
        throw new FhirError(400, 'invalid', 'POST to the base takes a Bundle of type transaction or batch', 'Bundle.type');
      }
      const caller = res.locals.caller as Caller;
      let result: FhirResult;
      if (bundle.type === 'transaction') {
        res.locals.audited = true;
        result = await ctx.run(caller, interactionInfo(req, res, 'transaction'), async (tx) =>
          ({ status: 200, resource: await transaction(bundle, caller, tx, ctx) }));
      } else {
        // Each batch entry is its own audited interaction.
        result = { status: 200, resource: await batch(bundle, caller, ctx) };
      }
      send(req, res, result, ctx.baseUrl);
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
      // HEAD is GET without the body, which express drops when sending.
      const method = (req.method === 'HEAD' ? 'GET' : req.method) as FhirRequest['method'];
      if (!['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) {
        throw new FhirError(405, 'not-supported', `${method} is not a FHIR interaction`);
      }
      const caller = res.locals.caller as Caller;
      const prefer = parsePrefer(header(req, 'prefer'));
      const fhirReq: FhirRequest = { ...route, query, method, caller, lenient: prefer.lenient };
      if (method === 'POST' || method === 'PUT' || method === 'PATCH') fhirReq.body = req.body;
      const ifMatch = header(req, 'if-match');
      const ifNoneExist = header(req, 'if-none-exist');
      if (ifMatch !== undefined) fhirReq.ifMatch = ifMatch;
      if (ifNoneExist !== undefined) fhirReq.ifNoneExist = ifNoneExist;
      const code = interactionCode(fhirReq);
      const searching = code === 'search-type' || code.startsWith('history');
      res.locals.audited = true;
      const result = await ctx.run(caller, interactionInfo(req, res, code, route.type, searching ? query.toString() : undefined),
        (tx) => dispatch(fhirReq, tx, ctx));
      send(req, res, result, ctx.baseUrl);
    } catch (e) {
      next(e);
    }
  });

  // Refusals that happened before an interaction ran are audited here; the runner audits the rest.
  router.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.locals.audited) return next(err);
    const route = parseRequestUrl(req.path);
    const code = route ? interactionCode({ ...route, method: (req.method === 'HEAD' ? 'GET' : req.method) as FhirRequest['method'] }) : 'unknown';
    auditRefusal(res.locals.caller as Caller | undefined, interactionInfo(req, res, code ?? 'unknown', route?.type), err)
      .then(() => next(err), () => next(err));
  });
  return router;
}
