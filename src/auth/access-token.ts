import { randomUUID } from 'node:crypto';
import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { ROLES, type ClientConfig, type ClientRole } from '../config/deployment.js';
import type { Caller } from '../fhir/interaction.js';
import { formatScopes, parseScopes, type Scope } from './scopes.js';

export interface AccessTokenOptions {
  /** HMAC key the tokens are signed with (see signing-key.ts). */
  key: Uint8Array;
  /** The key being rotated out: tokens it signed verify for one token lifetime after construction. */
  previousKey?: Uint8Array;
  /** The public base URL (`iss`); a function when it is only known once the server listens. */
  issuer: string | (() => string);
  lifetimeSeconds?: number;
  /** How many verified tokens to remember, so repeated requests skip the signature check. */
  cacheSize?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
}

/** The RFC 6749 §5.1 success body. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

/** RFC 9068 media type of JWT access tokens: keeps a token from being confused with any other JWT. */
const TOKEN_TYPE = 'at+jwt';
/** Allowance for clocks of several gateway instances that share a key. */
const CLOCK_TOLERANCE_SECONDS = 5;

interface Cached {
  caller: Caller;
  /** Milliseconds: the instant from which the token no longer verifies (exp plus the tolerance). */
  validUntil: number;
}

const isRole = (value: unknown): value is ClientRole => typeof value === 'string' && (ROLES as readonly string[]).includes(value);

/**
 * The gateway's own access tokens: short-lived HS256 JWTs naming the client, its role, organisation and
 * granted SMART scopes. They are self-contained, so the bearer check needs no store round trip.
 */
export class AccessTokens {
  readonly lifetimeSeconds: number;
  private readonly key: Uint8Array;
  private readonly previousKey: Uint8Array | undefined;
  private readonly previousKeyUntil: number;
  private readonly issuer: () => string;
  private readonly now: () => number;
  private readonly cacheSize: number;
  /** Insertion-ordered, so the first entry is the oldest. Keys are whole tokens: it is never exposed. */
  private readonly cache = new Map<string, Cached>();

  constructor(options: AccessTokenOptions) {
    if (options.key.byteLength < 32) throw new Error('the token-signing key must be at least 32 bytes');
    this.key = options.key;
    this.previousKey = options.previousKey;
    this.lifetimeSeconds = options.lifetimeSeconds ?? 300;
    const issuer = options.issuer;
    this.issuer = typeof issuer === 'string' ? () => issuer : issuer;
    this.now = options.now ?? Date.now;
    this.cacheSize = options.cacheSize ?? 10_000;
    // Every token the previous key signed was issued before we started, so none outlives this instant; a
    // token made with that key later can only be a forgery by someone who obtained the old key.
    this.previousKeyUntil = this.now() + (this.lifetimeSeconds + CLOCK_TOLERANCE_SECONDS) * 1000;
  }

  private audience(): string {
    return `${this.issuer()}/fhir`;
  }

  async issue(client: ClientConfig, scopes: Scope[]): Promise<TokenResponse> {
    const iat = Math.floor(this.now() / 1000);
    const scope = formatScopes(scopes);
    const token = await new SignJWT({ client_id: client.clientId, role: client.role, org: client.organization, scope })
      .setProtectedHeader({ alg: 'HS256', typ: TOKEN_TYPE })
      .setIssuer(this.issuer())
      .setAudience(this.audience())
      .setSubject(client.clientId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.lifetimeSeconds)
      .setJti(randomUUID())
      .sign(this.key);
    return { access_token: token, token_type: 'Bearer', expires_in: this.lifetimeSeconds, scope };
  }

  /** The caller a token stands for, or undefined when it is not one of ours, was altered or has expired. */
  async verify(token: string): Promise<Caller | undefined> {
    const now = this.now();
    const cached = this.cache.get(token);
    if (cached) {
      if (now < cached.validUntil) return cached.caller;
      this.cache.delete(token);
      return undefined;
    }
    const verified = await this.verifySignature(token, now);
    const caller = verified && callerOf(verified.payload);
    const exp = verified?.payload.exp;
    if (!caller || exp === undefined) return undefined;
    const expires = (exp + CLOCK_TOLERANCE_SECONDS) * 1000;
    this.remember(token, { caller, validUntil: verified.previous ? Math.min(expires, this.previousKeyUntil) : expires });
    return caller;
  }

  private async verifySignature(token: string, now: number): Promise<{ payload: JWTPayload; previous: boolean } | undefined> {
    const options = {
      algorithms: ['HS256'],
      issuer: this.issuer(),
      audience: this.audience(),
      typ: TOKEN_TYPE,
      requiredClaims: ['exp', 'iat', 'sub'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: new Date(now),
    };
    try {
      return { payload: (await jwtVerify(token, this.key, options)).payload, previous: false };
    } catch (e) {
      if (!(e instanceof errors.JWSSignatureVerificationFailed) || !this.previousKey || now >= this.previousKeyUntil) return undefined;
    }
    try {
      return { payload: (await jwtVerify(token, this.previousKey, options)).payload, previous: true };
    } catch {
      return undefined;
    }
  }

  private remember(token: string, entry: Cached): void {
    if (this.cacheSize <= 0) return;
    while (this.cache.size >= this.cacheSize) {
      const oldest = this.cache.keys().next();
      if (oldest.done) break;
      this.cache.delete(oldest.value);
    }
    this.cache.set(token, entry);
  }
}

function callerOf(payload: JWTPayload): Caller | undefined {
  const { sub, role, org, scope } = payload;
  if (typeof sub !== 'string' || !isRole(role) || typeof org !== 'string' || typeof scope !== 'string') return undefined;
  const scopes = parseScopes(scope);
  if (!scopes) return undefined;
  return Object.freeze({ clientId: sub, role, organization: org, scopes: Object.freeze(scopes) });
}
