import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { FhirError } from '../fhir/errors.js';
import type { Caller } from '../fhir/interaction.js';
import type { AccessTokens } from './access-token.js';
import { TOKEN_PATH } from './token-endpoint.js';

/** RFC 6750 §2.1: `Bearer` then a b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const REALM = 'realm="signpost"';

/**
 * The bearer-token check in front of the FHIR API: on success `res.locals.caller` is the token's client
 * with the request's address; otherwise a 401 OperationOutcome with an RFC 6750 challenge. Neither the
 * token nor anything derived from it is ever put into an error or a log.
 */
export function bearerAuth(tokens: AccessTokens): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const header = req.headers.authorization;
    const scheme = header?.trimStart().split(' ', 1)[0]?.toLowerCase();
    if (header === undefined || scheme !== 'bearer') {
      // RFC 6750 §3.1: a request without credentials gets the challenge but no error code.
      return next(new FhirError(401, 'login',
        `This request needs an access token: get one from POST ${TOKEN_PATH} and send it as Authorization: Bearer <token>`,
        undefined, { 'WWW-Authenticate': `Bearer ${REALM}` }));
    }
    const token = BEARER.exec(header)?.[1];
    const caller = token === undefined ? undefined : await tokens.verify(token);
    if (!caller) {
      return next(new FhirError(401, 'login', 'The access token is invalid or has expired: get a new one', undefined, {
        'WWW-Authenticate': `Bearer ${REALM}, error="invalid_token", error_description="The access token is invalid or has expired"`,
      }));
    }
    const withAddress: Caller = req.ip ? { ...caller, address: req.ip } : { ...caller };
    res.locals.caller = withAddress;
    next();
  };
}
