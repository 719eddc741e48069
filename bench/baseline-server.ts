import express from 'express';

/**
 * Child process: the baseline, a bare express 5 app answering a small JSON document for a path with an
 * id in it, like a FHIR read, and nothing else (no middleware, no store, no logging).
 */
const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.get('/ping/:id', (req, res) => void res.json({ id: req.params.id, status: 'ok' }));
const server = app.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
