import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { ClientConfig } from '../config/deployment.js';
import { hasControlCharacter } from '../fhir/text.js';
import type { Store } from '../store/store.js';

/** RFC 6749 §5.2 error codes (and RFC 7521's use of invalid_client for assertions). */
export type OAuthErrorCode =
  | 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client' | 'unsupported_grant_type' | 'invalid_scope';

/** A token-endpoint refusal; the endpoint renders it as `{ error, error_description }`. */
export class OAuthError extends Error {
  constructor(readonly status: number, readonly error: OAuthErrorCode, readonly description: string) {
    super(description);
    this.name = 'OAuthError';
  }
}

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** What a token request claims to be, before anything is checked. Never log it: it holds the credential. */
export type ClientCredentials =
  | { method: 'client_secret_basic' | 'client_secret_post'; clientId: string; secret: string }
  | { method: 'private_key_jwt'; clientId: string; assertion: string };

export type TokenForm = Readonly<Record<string, string>>;

/** SMART Backend Services: an assertion's exp "SHALL be no more than five minutes in the future". */
const MAX_ASSERTION_LIFETIME_SECONDS = 300;
/** Allowance for the client's clock when checking exp and nbf. */
const ASSERTION_CLOCK_SKEW_SECONDS = 10;
const ASSERTION_ALGORITHMS = ['ES384', 'RS384'];
const MAX_JTI_LENGTH = 256;

const failed = () => new OAuthError(401, 'invalid_client', 'Client authentication failed');
const badRequest = (description: string) => new OAuthError(400, 'invalid_request', description);

/** RFC 6749 §2.3.1: the client id and secret are form-urlencoded before they are joined and base64-encoded. */
function formDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw new OAuthError(401, 'invalid_client', 'The Basic credentials are not form-urlencoded (RFC 6749 §2.3.1)');
  }
}

function readBasic(authorization: string): { clientId: string; secret: string } {
  const m = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization);
  const decoded = m?.[1] ? Buffer.from(m[1], 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw new OAuthError(401, 'invalid_client', 'The Authorization header is not HTTP Basic client credentials');
  return { clientId: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
}

/**
 * Which client a token request says it is and how it proves it, from the form body and the
 * Authorization header. Only the shape is checked here, so that a rate limit can apply before any
 * credential is: exactly one method (RFC 6749 §2.3: a client must not use more than one).
 */
export function readClientCredentials(form: TokenForm, authorization: string | undefined): ClientCredentials {
  const formId = form.client_id;
  const methods = [authorization !== undefined, form.client_secret !== undefined, form.client_assertion !== undefined
    || form.client_assertion_type !== undefined].filter(Boolean).length;
  if (methods > 1) throw badRequest('Use one client authentication method: HTTP Basic, client_secret or client_assertion');

  if (authorization !== undefined) {
    const basic = readBasic(authorization);
    if (formId !== undefined && formId !== basic.clientId) throw badRequest('client_id differs from the client in the Authorization header');
    return { method: 'client_secret_basic', ...basic };
  }
  if (form.client_secret !== undefined) {
    if (!formId) throw badRequest('client_secret needs client_id');
    return { method: 'client_secret_post', clientId: formId, secret: form.client_secret };
  }
  if (form.client_assertion_type !== undefined || form.client_assertion !== undefined) {
    if (form.client_assertion_type !== JWT_BEARER_ASSERTION) {
      throw new OAuthError(401, 'invalid_client', `client_assertion_type must be ${JWT_BEARER_ASSERTION}`);
    }
    const assertion = form.client_assertion;
    if (!assertion) throw badRequest('client_assertion is missing');
    let claims: JWTPayload;
    try {
      claims = decodeJwt(assertion);
    } catch {
      throw new OAuthError(401, 'invalid_client', 'client_assertion is not a signed JWT');
    }
    if (typeof claims.iss !== 'string' || !claims.iss) throw new OAuthError(401, 'invalid_client', 'client_assertion has no iss');
    if (formId !== undefined && formId !== claims.iss) {
      throw new OAuthError(401, 'invalid_client', 'client_id differs from the iss of client_assertion');
    }
    return { method: 'private_key_jwt', clientId: claims.iss, assertion };
  }
  throw new OAuthError(401, 'invalid_client', 'The request carries no client authentication');
}

export interface ClientAuthOptions {
  clients: readonly ClientConfig[];
  store: Store;
  /** The token endpoint URL, which assertions must name as their audience. */
  tokenEndpoint: () => string;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
}

type KeySet = ReturnType<typeof createLocalJWKSet>;

/** Checks the credentials a token request presents against the deployment's clients. */
export class ClientAuthenticator {
  private readonly clients: ReadonlyMap<string, ClientConfig>;
  private readonly keySets = new Map<string, KeySet>();
  /** What an unknown client's secret is compared with, so that it costs the same as a known one. */
  private readonly dummyHash = randomBytes(32);
  private readonly now: () => number;

  constructor(private readonly options: ClientAuthOptions) {
    this.clients = new Map(options.clients.map((c) => [c.clientId, c]));
    for (const c of options.clients) {
      if (c.jwks) this.keySets.set(c.clientId, createLocalJWKSet(c.jwks as unknown as JSONWebKeySet));
    }
    this.now = options.now ?? Date.now;
  }

  isKnown(clientId: string): boolean {
    return this.clients.has(clientId);
  }

  /** The authenticated client, or an OAuthError (invalid_client) saying as little as it usefully can. */
  async authenticate(credentials: ClientCredentials): Promise<ClientConfig> {
    return credentials.method === 'private_key_jwt'
      ? this.checkAssertion(credentials.clientId, credentials.assertion)
      : this.checkSecret(credentials.clientId, credentials.secret);
  }

  private checkSecret(clientId: string, secret: string): ClientConfig {
    const client = this.clients.get(clientId);
    const expected = client?.secretSha256 !== undefined ? Buffer.from(client.secretSha256, 'hex') : this.dummyHash;
    const presented = createHash('sha256').update(secret, 'utf8').digest();
    // Both are 32-byte digests, so the comparison time is the same whether or not the client exists.
    const same = timingSafeEqual(presented, expected);
    if (!same || !client || client.secretSha256 === undefined) throw failed();
    return client;
  }

  /** SMART Backend Services private_key_jwt (RFC 7523 §3 with SMART's limits). */
  private async checkAssertion(clientId: string, assertion: string): Promise<ClientConfig> {
    const client = this.clients.get(clientId);
    const keys = this.keySets.get(clientId);
    if (!client || !keys) throw failed();
    const nowMs = this.now();
    const audience = this.options.tokenEndpoint();
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(assertion, keys, {
        algorithms: ASSERTION_ALGORITHMS,
        issuer: clientId,
        subject: clientId,
        audience,
        requiredClaims: ['exp', 'jti'],
        clockTolerance: ASSERTION_CLOCK_SKEW_SECONDS,
        currentDate: new Date(nowMs),
      }));
    } catch (e) {
      throw assertionError(e, audience);
    }
    // jose checked signature first, so the details below only reach a holder of the client's key.
    const exp = claims.exp ?? 0;
    if (exp > nowMs / 1000 + MAX_ASSERTION_LIFETIME_SECONDS + ASSERTION_CLOCK_SKEW_SECONDS) {
      throw new OAuthError(401, 'invalid_client', 'client_assertion exp must be no more than 5 minutes in the future');
    }
    const jti = claims.jti;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH || hasControlCharacter(jti)) {
      throw new OAuthError(401, 'invalid_client', `client_assertion jti must be a string of 1-${MAX_JTI_LENGTH} characters, none of them control characters`);
    }
    // Claimed in the store, not in memory, so a replay is refused after a restart too. The claim outlives
    // the assertion (plus the skew we allow), after which the assertion is refused as expired anyway.
    const expiresAtMicros = (exp + ASSERTION_CLOCK_SKEW_SECONDS) * 1_000_000;
    const earlier = await this.options.store.transaction((tx) => tx.claimOnce('jti', `${clientId}:${jti}`, '1', expiresAtMicros));
    if (earlier !== undefined) throw new OAuthError(401, 'invalid_client', 'client_assertion jti has been used before');
    return client;
  }
}

function assertionError(e: unknown, tokenEndpoint: string): OAuthError {
  const refuse = (why: string) => new OAuthError(401, 'invalid_client', `client_assertion ${why}`);
  if (e instanceof errors.JWTExpired) return refuse('has expired');
  if (e instanceof errors.JOSEAlgNotAllowed) return refuse(`must be signed with ${ASSERTION_ALGORITHMS.join(' or ')}`);
  if (e instanceof errors.JWTClaimValidationFailed) {
    switch (e.claim) {
      case 'aud': return refuse(`aud must be the token endpoint, ${tokenEndpoint}`);
      case 'iss':
      case 'sub': return refuse('iss and sub must both be the client_id');
      case 'nbf': return refuse('is not valid yet (nbf)');
      // jose's messages name the claim, never its value: nothing of the assertion is echoed.
      default: return refuse(`is not acceptable: ${e.message}`);
    }
  }
  // Unknown key, bad signature, malformed token: one answer for all.
  return failed();
}
