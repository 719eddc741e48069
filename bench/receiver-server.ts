import http from 'node:http';

/**
 * Child process: a GP system's FHIR endpoint as fast as it can be, for the delivery throughput (issue
 * 9). It takes `PUT /fhir/<type>/<id>`, reads the body and answers 200 with a tiny OperationOutcome;
 * `GET /count` says how many PUTs it has taken and when the first and last arrived (ms since the epoch).
 * A platform's notifications (any other POST) are answered 200 and counted apart.
 */
let count = 0;
let notifications = 0;
let first = 0;
let last = 0;
const ok = JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational' }] });
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.method === 'PUT' && req.url?.startsWith('/fhir/')) {
      count++;
      last = Date.now();
      if (count === 1) first = last;
      res.writeHead(200, { 'content-type': 'application/fhir+json' }).end(ok);
    } else if (req.method === 'GET' && req.url === '/count') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count, first, last, notifications }));
    } else if (req.method === 'POST' && req.url === '/reset') {
      count = 0;
      notifications = 0;
      res.writeHead(204).end();
    } else if (req.method === 'POST') {
      notifications++;
      res.writeHead(200).end();
    } else res.writeHead(404).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
