import { createRequire } from 'node:module';
import path from 'node:path';
import express from 'express';

/**
 * GET /api/v1/docs (mounted at /docs): the API reference, rendered in the browser by Swagger UI from openapi.json. Its
 * files are served from the swagger-ui-dist package, so the page works offline and loads nothing from
 * elsewhere. Only this page relaxes the API's content security policy, and only to its own scripts and
 * styles (Swagger UI sets styles inline).
 */
const FILES = ['swagger-ui-bundle.js', 'swagger-ui.css'] as const;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Signpost plain-JSON API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<noscript>This reference page needs JavaScript; the same description is at <a href="openapi.json">openapi.json</a>.</noscript>
<div id="reference"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/start.js"></script>
</body>
</html>
`;

// Relative to the page (/api/v1/docs): openapi.json is /api/v1/openapi.json.
const START = `SwaggerUIBundle({ url: 'openapi.json', dom_id: '#reference', deepLinking: true, validatorUrl: null });\n`;

const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
  + "font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export function docsPage(): express.Router {
  const router = express.Router();
  const dist = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  router.get('/', (_req, res) => void res.setHeader('Content-Security-Policy', CSP).type('html').send(PAGE));
  router.get('/start.js', (_req, res) => void res.type('js').send(START));
  for (const file of FILES) {
    router.get(`/${file}`, (_req, res) => {
      res.setHeader('Cache-Control', 'public, max-age=86400');
      res.sendFile(path.join(dist, file));
    });
  }
  return router;
}
