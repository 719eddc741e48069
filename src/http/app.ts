import express from 'express';
import type { Logger } from 'pino';
import type { ServerInfo } from '../fhir/capability.js';
import { FhirError } from '../fhir/errors.js';
import type { FhirContext } from '../fhir/interaction.js';
import { errorHandler } from './errors.js';
import { fhirRouter } from './fhir-routes.js';
import { requestContext } from './request-context.js';

export interface AppOptions {
  context: FhirContext;
  info: ServerInfo;
  logger: Logger;
}

/** The express application: no module state, so tests can run several side by side. */
export function createApp({ context, info, logger }: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestContext(logger));
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.use('/fhir', fhirRouter(context, info));
  app.use((req, _res, next) => next(new FhirError(404, 'not-found', `Nothing is served at ${req.method} ${req.path}`)));
  app.use(errorHandler(logger));
  return app;
}
