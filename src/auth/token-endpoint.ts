import express, { type NextFunction, type Request, type Response } from 'express';
import type { ClientConfig, Role } from '../config/deployment.js';
import type { Store } from '../store/store.js';
import type { AccessTokens, TokenResponse } from './access-token.js';
import { ClientAuthenticator, OAuthError, readClientCredentials, type ClientCredentials, type TokenForm } from './client-auth.js';
import { addressKey, clientKey, type FailureLimiter } from './rate-limit.js';
import { roleScopes } from './role-rights.js';
import { narrowScopes, parseScopes, type Scope } from './scopes.js';

export const TOKEN_PATH = '/oauth2/token';
/** Form bodies are a handful of short fields; an RS384 assertion with a 4096-bit key is under 1.5 KiB. */
const TOKEN_BODY_LIMIT = 16 * 1024;
export const FORM_TYPE = 'application/x-www-form-urlencoded';
/** RFC 6749 §5.1: token responses, and so their errors, must not be cached. */
const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const;
const BASIC_CHALLENGE = 'Basic realm="signpost"';

export const tokenEndpointUrl = (baseUrl: string): string => `${baseUrl.replace(/\/+$/, '')}${TOKEN_PATH}`;

export interface TokenRouterDeps {
  clients: readonly ClientConfig[];
  store: Store;
  tokens: AccessTokens;
  /** The public base URL; a function because it may be known only once the server listens. */
  baseUrl: () => string;
  limiter: FailureLimiter;
  /** Milliseconds since the epoch, for assertion checks; injectable for tests. */
  now?: () => number;
}

/**
 * The scopes a client is granted: what it asked for (SMART v2 or v1 system scopes), narrowed to what its
 * role may hold; no `scope` means all of it. Asking for nothing the role has is an error, not an empty grant.
 */
export function grantScopes(role: Role, requested: string | undefined): Scope[] {
  const parsed = requested === undefined ? undefined : parseScopes(requested);
  if (requested !== undefined && parsed === undefined) {
    throw new OAuthError(400, 'invalid_scope', 'scope must be space-separated system scopes such as system/Task.rus or system/*.read');
  }
  const granted = narrowScopes(roleScopes(role), parsed);
  if (granted.length === 0) throw new OAuthError(400, 'invalid_scope', `None of the requested scopes is available to the ${role} role`);
  return granted;
}

/**
 * The form fields, each at most once (RFC 6749 §3.2: "Request and response parameters MUST NOT be
 * included more than once"); a field without a value counts as absent (§3.1).
 */
export function readForm(body: unknown): TokenForm {
  const params = new URLSearchParams(typeof body === 'string' ? body : '');
  // No prototype, so a field named __proto__ or constructor is just a field.
  const form = Object.create(null) as Record<string, string>;
  for (const name of new Set(params.keys())) {
    const values = params.getAll(name);
    if (values.length > 1) throw new OAuthError(400, 'invalid_request', `The ${name} parameter is repeated`);
    if (values[0]) form[name] = values[0];
  }
  return form;
}

function sendError(res: Response, err: OAuthError, headers: Record<string, string> = {}): void {
  res.status(err.status).set({ ...NO_STORE, ...headers }).json({ error: err.error, error_description: err.description });
}

/** Too many failed client authentications from an address or for a client: try again after `retryAfter` seconds. */
export class TooManyFailures extends OAuthError {
  constructor(readonly retryAfter: number) {
    // RFC 6749 has no code for "too many attempts", and `slow_down` belongs to the device grant's polling
    // (RFC 8628 §3.5), which client-credentials libraries do not know. `invalid_client` is what they
    // handle (stop and report), and it is true: the client has not been authenticated.
    super(429, 'invalid_client', `Too many failed client authentications; try again in ${retryAfter} s`);
  }
}

/**
 * How clients sign in, whichever door they use (the token endpoint; the reports' sign-in form): their
 * credentials checked by the ClientAuthenticator, failures limited per address and per known client by
 * one FailureLimiter (give every door the same one, so that a guesser gains nothing by switching), and
 * the token issued with the scopes granted to the role.
 */
export class ClientSignIn {
  private readonly authenticator: ClientAuthenticator;

  constructor(private readonly deps: TokenRouterDeps) {
    this.authenticator = new ClientAuthenticator({
      clients: deps.clients,
      store: deps.store,
      tokenEndpoint: () => tokenEndpointUrl(deps.baseUrl()),
      ...(deps.now ? { now: deps.now } : {}),
    });
  }

  /**
   * The client that `read` says is signing in, once it proves it; throws an OAuthError otherwise
   * (TooManyFailures while blocked). `read` takes the credentials from the request and may throw;
   * `check` is what else the request must satisfy, looked at only after the limit (the token
   * endpoint's grant_type), so that neither lets a blocked key learn anything.
   */
  async authenticate(read: () => ClientCredentials, address: string | undefined, check: () => void = () => undefined): Promise<ClientConfig> {
    const { limiter } = this.deps;
    let credentials: ClientCredentials | undefined;
    let unreadable: unknown;
    try {
      credentials = read();
    } catch (e) {
      unreadable = e;
    }
    // Failures count against the address, and against the client id when it is one of ours: ids that
    // name no client get no counter, so inventing ids cannot crowd real clients out of the limiter.
    const keys = [addressKey(address)];
    if (credentials && this.authenticator.isKnown(credentials.clientId)) keys.push(clientKey(credentials.clientId));
    const wait = limiter.retryAfter(keys);
    if (wait !== undefined) throw new TooManyFailures(wait);
    try {
      if (unreadable !== undefined || !credentials) throw unreadable;
      check();
      return await this.authenticator.authenticate(credentials);
    } catch (e) {
      if (e instanceof OAuthError && e.error === 'invalid_client') limiter.fail(keys);
      throw e;
    }
  }

  /** An access token for `client`, with what it asked for (`scope`) narrowed to what its role may hold. */
  issue(client: ClientConfig, scope: string | undefined): Promise<TokenResponse> {
    return this.deps.tokens.issue(client, grantScopes(client.role, scope));
  }
}

/** `POST /oauth2/token`: OAuth 2.0 client credentials (RFC 6749 §4.4) with SMART Backend Services client auth. */
export function tokenRouter(deps: TokenRouterDeps): express.Router {
  const signIn = new ClientSignIn(deps);
  const router = express.Router();
  const formBody = express.text({ type: FORM_TYPE, limit: TOKEN_BODY_LIMIT });

  router.post('/', formBody, async (req: Request, res: Response) => {
    if (!req.is(FORM_TYPE)) throw new OAuthError(400, 'invalid_request', `The body must be ${FORM_TYPE}`);
    const form = readForm(req.body);
    const client = await signIn.authenticate(() => readClientCredentials(form, req.headers.authorization), req.ip, () => {
      if (form.grant_type === undefined) throw new OAuthError(400, 'invalid_request', 'grant_type is required');
      if (form.grant_type !== 'client_credentials') {
        throw new OAuthError(400, 'unsupported_grant_type', 'Only grant_type=client_credentials is supported');
      }
    });
    res.status(200).set(NO_STORE).json(await signIn.issue(client, form.scope));
  });

  router.all('/', (_req, res) => {
    res.setHeader('Allow', 'POST');
    sendError(res, new OAuthError(405, 'invalid_request', `Request a token with POST ${TOKEN_PATH}`));
  });

  // Errors of this endpoint are RFC 6749 §5.2 JSON, not OperationOutcomes.
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (err instanceof TooManyFailures) return void sendError(res, err, { 'Retry-After': String(err.retryAfter) });
    if (err instanceof OAuthError) return void sendError(res, err, err.status === 401 ? { 'WWW-Authenticate': BASIC_CHALLENGE } : {});
    const parserError = err as { type?: unknown; status?: unknown };
    if (typeof parserError.type === 'string' && typeof parserError.status === 'number' && parserError.status < 500) {
      const description = parserError.type === 'entity.too.large'
        ? `The body is larger than ${TOKEN_BODY_LIMIT} bytes`
        : 'The body could not be read as a UTF-8 form';
      return void sendError(res, new OAuthError(parserError.status, 'invalid_request', description));
    }
    next(err);
  });
  return router;
}

/** What `GET /fhir/.well-known/smart-configuration` answers (SMART App Launch 2.0, "Conformance"). */
export interface SmartConfiguration {
  token_endpoint: string;
  grant_types_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  token_endpoint_auth_signing_alg_values_supported: string[];
  scopes_supported: string[];
  capabilities: string[];
}

/**
 * Backend services only: no authorization endpoint, so no launch, PKCE or OpenID fields. The scopes listed
 * are the wildcard forms; per-type scopes (system/Task.rus) are accepted as well, as SMART permits a server
 * to leave some of its scopes unlisted.
 */
export function smartConfiguration(baseUrl: string): SmartConfiguration {
  return {
    token_endpoint: tokenEndpointUrl(baseUrl),
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic', 'client_secret_post'],
    token_endpoint_auth_signing_alg_values_supported: ['ES384', 'RS384'],
    scopes_supported: ['system/*.cruds', 'system/*.rs', 'system/*.read', 'system/*.write', 'system/*.*'],
    capabilities: ['client-confidential-asymmetric', 'client-confidential-symmetric', 'permission-v2', 'permission-v1'],
  };
}
