import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { FhirError } from '../fhir/errors.js';
import type { Caller, FhirContext, FhirResult, InteractionInfo } from '../fhir/interaction.js';
import { BODY_LIMIT } from '../http/fhir-routes.js';
import { limitJsonDepth } from '../http/json-depth.js';
import { interactionInfo } from '../http/request-context.js';
import type { StoreTx } from '../store/store.js';
import { actionRoutes } from './action-routes.js';
import { docsPage } from './docs-page.js';
import { openApiDocument } from './openapi.js';
import { outcomeRoute } from './outcome-routes.js';
import { problem, problemFromFhir, PROBLEM_MEDIA_TYPE, ProblemError, type ExpressionMapper } from './problem.js';
import { referralRoutes } from './referral-routes.js';
import type { Route, RouteKit } from './route.js';

export interface JsonApiOptions {
  context: FhirContext;
  /** The bearer-token check /fhir uses: the same tokens, the same caller. */
  authenticate: RequestHandler;
  /** Records a request refused before its interaction ran, as /fhir does. */
  auditRefusal: (caller: Caller | undefined, info: InteractionInfo, error: unknown) => Promise<void>;
  version: string;
  /** The Task status reason codings (`system|code`), to give a reason code its system. */
  statusReasons: ReadonlySet<string>;
}

/**
 * The plain-JSON API at /api/v1 (DESIGN.md "Plain-JSON API"): each call is translated into FHIR
 * interactions run by the same core as /fhir, in one audited transaction, and their result back into
 * plain JSON. Nothing is stored but the FHIR resources.
 */
export function jsonApiRouter({ context: ctx, authenticate, auditRefusal, version, statusReasons }: JsonApiOptions): express.Router {
  /** Runs `fn` as the caller, audited as `route`; a refusal of the core comes back as problem details. */
  const run = async (req: Request, res: Response, route: Route, mapper: ExpressionMapper, fn: (tx: StoreTx) => Promise<FhirResult>) => {
    res.locals.audited = true;
    try {
      // A search is audited with its query, as on /fhir (the JSON list's status= and after=).
      const query = route.audit.subtype === 'search-type' ? req.originalUrl.split('?')[1] : undefined;
      return await ctx.run(res.locals.caller as Caller, interactionInfo(req, res, route.audit.subtype, route.audit.type, query), fn);
    } catch (e) {
      throw e instanceof FhirError ? problemFromFhir(e, mapper) : e;
    }
  };

  const kit: RouteKit = { ctx, run, caller: (res) => res.locals.caller as Caller };
  const routes: Route[] = [...referralRoutes(kit), ...actionRoutes(kit, statusReasons), outcomeRoute(kit)];

  const router = express.Router();
  const document = () => openApiDocument(routes, version);
  router.get('/openapi.json', (_req, res) => void res.json(document()));
  router.use('/docs', docsPage());
  router.use(authenticate);
  // The same bounds as /fhir: 1 MiB and 100 levels of nesting.
  router.use(express.json({ limit: BODY_LIMIT }));
  router.use(limitJsonDepth);
  for (const route of routes) {
    const expressPath = route.path.replace(/\{(\w+)\}/g, ':$1');
    router[route.method](expressPath, (req, res, next) => {
      if (route.body && !req.is('application/json')) {
        return next(problem(415, 'not-supported', `Send the body as application/json (it was ${req.headers['content-type'] ?? 'not typed'})`, [{ header: 'Content-Type', detail: 'must be application/json' }]));
      }
      route.handler(req, res, route).catch(next);
    });
  }
  router.use((req, _res, next) => next(problem(404, 'not-found', `Nothing is served at ${req.method} /api/v1${req.path}`)));
  router.use(problemHandler(routes, auditRefusal));
  return router;
}

/** Every refusal of the API as problem details; one that no interaction has audited yet is audited here. */
function problemHandler(routes: readonly Route[], auditRefusal: JsonApiOptions['auditRefusal']) {
  return (err: unknown, req: Request, res: Response, next: NextFunction): void => {
    const refusal = err instanceof ProblemError ? err
      : err instanceof FhirError ? problemFromFhir(err)
        : bodyProblem(err);
    if (!refusal) return next(err); // not a refusal: the app's error handler answers 500 and logs it
    const send = () => {
      if (res.headersSent) return void res.end();
      for (const [k, v] of Object.entries(refusal.headers)) res.setHeader(k, v);
      res.status(refusal.problem.status).type(PROBLEM_MEDIA_TYPE).send(JSON.stringify(refusal.problem));
    };
    if (res.locals.audited) return send();
    const route = routes.find((r) => r.method === req.method.toLowerCase() && new RegExp(`^${r.path.replace(/\{\w+\}/g, '[^/]+')}$`).test(req.path));
    const info = interactionInfo(req, res, route?.audit.subtype ?? 'unknown', route?.audit.type);
    auditRefusal(res.locals.caller as Caller | undefined, info, new FhirError(refusal.problem.status, 'invalid', refusal.problem.detail))
      .then(send, send);
  };
}

/** express's body-parser errors, as problem details. */
function bodyProblem(err: unknown): ProblemError | undefined {
  const e = err as { type?: string; limit?: number };
  switch (e.type) {
    case 'entity.parse.failed':
      return problem(400, 'structure', 'The body is not valid JSON', [{ pointer: '#', detail: 'not valid JSON' }]);
    case 'entity.too.large':
      return problem(413, 'too-costly', `The body is larger than the ${e.limit ?? BODY_LIMIT}-byte limit`);
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return problem(415, 'not-supported', 'Only UTF-8 bodies without content encoding, or gzip/deflate, are accepted');
    default:
      return undefined;
  }
}
