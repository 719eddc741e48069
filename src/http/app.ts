import express, { type Router } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { FhirError } from '../fhir/errors.js';
import { errorHandler } from './errors.js';
import { fhirRouter, type FhirRouterOptions } from './fhir-routes.js';
import { requestContext } from './request-context.js';

export interface AppOptions {
  fhir: FhirRouterOptions;
  logger: Logger;
  /** Routers served at their own paths beside /fhir, such as the token endpoint. */
  routes?: { path: string; router: Router }[];
  /** Proxies trusted to name the client's address (SIGNPOST_TRUST_PROXY); loopback ones by default. */
  trustProxy?: string;
}

/** The express application: no module state, so tests can run several side by side. */
export function createApp({ fhir, logger, routes = [], trustProxy = 'loopback' }: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Only the proxies configured (by default a local TLS terminator) may pass the client's address on.
  app.set('trust proxy', trustProxy);
  // An API serves no HTML: the strictest content security policy, and no cross-origin access (no CORS headers).
  app.use(helmet({ contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } } }));
  app.use(requestContext(logger));
  // The FHIR API first: its requests are matched against no other path.
  app.use('/fhir', fhirRouter(fhir));
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  for (const r of routes) app.use(r.path, r.router);
  app.use((req, _res, next) => next(new FhirError(404, 'not-found', `Nothing is served at ${req.method} ${req.path}`)));
  app.use(errorHandler(logger));
  return app;
}
