import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Caller, InteractionInfo } from '../fhir/interaction.js';

const CLIENT_REQUEST_ID = /^[A-Za-z0-9\-_.:]{1,128}$/;

/**
 * Gives every request an id (the client's X-Request-Id when it is sane, else a new one), echoes it,
 * and logs one line when the response is sent. Only the path is logged: query strings can carry
 * identifiers such as NHS numbers, and headers carry credentials.
 */
export function requestContext(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && CLIENT_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', id);
    // The per-request line is info-level: with it off, nothing is kept alive until the response ends.
    if (!logger.isLevelEnabled('info')) return next();
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info({ requestId: id, method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    next();
  };
}

/** What the audit trail records of a request before its interaction runs (see InteractionInfo). */
export function interactionInfo(req: Request, res: Response, subtype: string, type?: string, query?: string): InteractionInfo {
  // req.ip is a getter that walks the proxy chain each time: the bearer check has already done so.
  const address = (res.locals.caller as Caller | undefined)?.address ?? req.ip;
  return {
    subtype,
    ...(type ? { type } : {}),
    ...(query ? { query } : {}),
    requestId: String(res.getHeader('X-Request-Id') ?? ''),
    ...(address ? { address } : {}),
  };
}
