import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { FhirError } from '../fhir/errors.js';
import type { Caller } from '../fhir/interaction.js';
import type { AccessTokens } from './access-token.js';
import { TOKEN_PATH } from './token-endpoint.js';

const REALM = 'realm="signpost"';

/**
 * The credentials of an `Authorization: Bearer <token>` header (RFC 6750 §2.1; empty when none follow
 * the scheme), or undefined when the header names another scheme. Whatever follows the scheme is the
 * token's to prove: only one the gateway signed verifies, so no syntax check is needed here.
 */
export function bearerToken(header: string): string | undefined {
  const h = header.trimStart();
  if (h.slice(0, 6).toLowerCase() !== 'bearer' || (h.length > 6 && h[6] !== ' ')) return undefined;
  return h.slice(6).trim();
}

/**
 * The bearer-token check in front of the FHIR API: on success `res.locals.caller` is the token's client
 * with the request's address; otherwise a 401 OperationOutcome with an RFC 6750 challenge. Neither the
 * token nor anything derived from it is ever put into an error or a log.
 */
export function bearerAuth(tokens: AccessTokens): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const header = req.headers.authorization;
    const token = header === undefined ? undefined : bearerToken(header);
    if (token === undefined) {
      // RFC 6750 §3.1: a request without credentials gets the challenge but no error code.
      return next(new FhirError(401, 'login',
        `This request needs an access token: get one from POST ${TOKEN_PATH} and send it as Authorization: Bearer <token>`,
        undefined, { 'WWW-Authenticate': `Bearer ${REALM}` }));
    }
    const caller = token === '' ? undefined : await tokens.verify(token);
    if (!caller) {
      return next(new FhirError(401, 'login', 'The access token is invalid or has expired: get a new one', undefined, {
        'WWW-Authenticate': `Bearer ${REALM}, error="invalid_token", error_description="The access token is invalid or has expired"`,
      }));
    }
    const address = req.ip; // a getter that walks the proxy chain each time
    const withAddress: Caller = address ? { ...caller, address } : { ...caller };
    res.locals.caller = withAddress;
    next();
  };
}
