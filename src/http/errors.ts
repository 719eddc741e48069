import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { FhirError, operationOutcome } from '../fhir/errors.js';

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

/** Errors raised by express's body parsers, as FHIR errors. */
function fromBodyParser(err: BodyParserError): FhirError | undefined {
  switch (err.type) {
    case 'entity.parse.failed':
      return new FhirError(400, 'structure', 'The body is not valid JSON');
    case 'entity.too.large':
      return new FhirError(413, 'too-costly', `The body is larger than the ${err.limit ?? 1048576}-byte limit`);
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new FhirError(415, 'not-supported', 'Only UTF-8 bodies without content encoding, or gzip/deflate, are accepted');
    case 'request.aborted':
    case 'request.size.invalid':
      return new FhirError(400, 'structure', 'The body was incomplete');
    default: {
      // Other client errors raised inside express (a path that does not percent-decode, say).
      const status = (err as { status?: unknown }).status;
      return typeof status === 'number' && status >= 400 && status < 500
        ? new FhirError(status, 'invalid', 'The request could not be read: its URL or headers are malformed')
        : undefined;
    }
  }
}

/**
 * The one place errors become responses: every refusal is an OperationOutcome; anything unexpected is a
 * 500 that names the request id and reveals nothing of the internals.
 */
export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const requestId = String(res.getHeader('X-Request-Id') ?? '');
    let fhirError = err instanceof FhirError ? err : fromBodyParser(err as BodyParserError);
    if (!fhirError) {
      logger.error({ err, requestId, method: req.method, path: req.path }, 'unhandled error');
      fhirError = new FhirError(500, 'exception', `The server could not complete the request; quote request id ${requestId} to the operator`);
    }
    if (res.headersSent) return void res.end();
    for (const [k, v] of Object.entries(fhirError.headers)) res.setHeader(k, v);
    res.status(fhirError.status).type('application/fhir+json; charset=utf-8').send(JSON.stringify(operationOutcome(fhirError.issues)));
  };
}
