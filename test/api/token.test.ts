import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express, { type Express } from 'express';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { pino } from 'pino';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderStoredAuditRecord } from '../../src/audit/audit-event.js';
import { AccessTokens } from '../../src/auth/access-token.js';
import { bearerAuth } from '../../src/auth/bearer.js';
import { JWT_BEARER_ASSERTION } from '../../src/auth/client-auth.js';
import { FailureLimiter } from '../../src/auth/rate-limit.js';
import { roleScopes } from '../../src/auth/role-rights.js';
import { formatScopes, type Permission } from '../../src/auth/scopes.js';
import { smartConfiguration, TOKEN_PATH, tokenRouter } from '../../src/auth/token-endpoint.js';
import type { ClientConfig, Role } from '../../src/config/deployment.js';
import { indexEntries } from '../../src/fhir/index-values.js';
import type { Caller } from '../../src/fhir/interaction.js';
import { errorHandler } from '../../src/http/errors.js';
import { requestContext } from '../../src/http/request-context.js';
import type { Store } from '../../src/store/store.js';
import {
  basicAuth, fetchToken, keyClient, keyPair, secretClient, signAssertion, TOKEN_URL, type KeyClient, type SecretClient,
} from '../fixtures/clients.js';
import { BASE_URL } from '../fixtures/gateway.js';
import { openTestStore, type TestStore } from '../fixtures/test-store.js';

const KEY = new Uint8Array(32).fill(7);
const OTHER_KEY = new Uint8Array(32).fill(9);

/** A settable clock (milliseconds) for token expiry and the rate-limit window. */
class Clock {
  constructor(public t = Date.now()) {}
  now = (): number => this.t;
  advance(seconds: number): void {
    this.t += seconds * 1000;
  }
}

interface Harness {
  app: Express;
  store: Store;
  db: TestStore;
  clock: Clock;
  tokens: AccessTokens;
  limiter: FailureLimiter;
  logs: string[];
}

const gp = secretClient('referrer', 'A81001', 'gp-a81001');
const lw = secretClient('link-worker', 'SP001', 'lw-sp001');
const asset = secretClient('community-asset', 'V001', 'vcs-v001');
/** Characters that RFC 6749 §2.3.1 form-encoding changes, in both the id and the secret. */
const odd = secretClient('auditor', 'QWE', 'odd.client_id-1', 'p@ss word+%:/é&=');
let es: KeyClient;
let rs: KeyClient;
let clients: ClientConfig[];

const dirs: string[] = [];
const stores: Store[] = [];
const databases: TestStore[] = [];

/** A gateway of just the token endpoint and one route behind the bearer check, over a real, fresh store (or `db` reopened). */
async function harness(options: { db?: TestStore; tokens?: AccessTokens; clock?: Clock } = {}): Promise<Harness> {
  let db = options.db;
  let store: Store;
  if (db) {
    store = await db.reopen();
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signpost-token-'));
    dirs.push(dir);
    db = await openTestStore(dir, { indexer: (r) => indexEntries(r, BASE_URL), renderAudit: renderStoredAuditRecord });
    databases.push(db);
    store = db.store;
  }
  stores.push(store);
  const clock = options.clock ?? new Clock();
  const tokens = options.tokens ?? new AccessTokens({ key: KEY, issuer: BASE_URL, now: clock.now });
  const limiter = new FailureLimiter({ now: clock.now });
  const logs: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logs.push(line) });
  const app = express();
  app.set('trust proxy', true); // lets a test speak from several addresses via X-Forwarded-For
  app.use(requestContext(logger));
  app.use(TOKEN_PATH, tokenRouter({ clients, store, tokens, baseUrl: () => BASE_URL, limiter }));
  app.get('/fhir/.well-known/smart-configuration', (_req, res) => void res.json(smartConfiguration(BASE_URL)));
  app.get('/fhir/whoami', bearerAuth(tokens), (_req, res) => {
    const caller = res.locals.caller as Caller;
    res.json({ ...caller, scopes: formatScopes(caller.scopes) });
  });
  app.use(errorHandler(logger));
  return { app, store, db, clock, tokens, limiter, logs };
}

beforeEach(async () => {
  es ??= await keyClient('link-worker', 'SP001', 'ES384', 'lw-es384');
  rs ??= await keyClient('referrer', 'A81001', 'RS384', 'gp-rs384');
  clients = [gp.config, lw.config, asset.config, odd.config, es.config, rs.config];
});

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of databases.splice(0)) await d.drop();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const token = (h: Harness) => request(h.app).post('/oauth2/token');
const withSecret = (h: Harness, c: SecretClient, form: Record<string, string> = {}, from?: string) => {
  let req = token(h).type('form').set('Authorization', basicAuth(c.clientId, c.secret));
  if (from) req = req.set('X-Forwarded-For', from);
  return req.send({ grant_type: 'client_credentials', ...form });
};
const withAssertion = (h: Harness, assertion: string, form: Record<string, string> = {}) => token(h).type('form')
  .send({ grant_type: 'client_credentials', client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: assertion, ...form });
const whoami = (h: Harness, accessToken: string) => request(h.app).get('/fhir/whoami').set('Authorization', `Bearer ${accessToken}`);

function expectOAuthError(res: request.Response, status: number, error: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(res.body).sort()).toEqual(['error', 'error_description']);
  expect(res.body.error).toBe(error);
  expect(typeof res.body.error_description).toBe('string');
  expect(res.headers['cache-control']).toBe('no-store');
  if (status === 401) expect(res.headers['www-authenticate']).toBe('Basic realm="signpost"');
}

function expectUnauthorizedOutcome(res: request.Response, challenge: RegExp): void {
  expect(res.status).toBe(401);
  expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
  expect(res.body.resourceType).toBe('OperationOutcome');
  expect(res.body.issue[0].code).toBe('login');
  expect(res.headers['www-authenticate']).toMatch(challenge);
}

/** What a role is granted for `system/*.read`: its r and s rights only. */
function readOnly(role: Role): string {
  return formatScopes(roleScopes(role)
    .map((s) => ({ type: s.type, permissions: new Set([...s.permissions].filter((p): p is Permission => p === 'r' || p === 's')) }))
    .filter((s) => s.permissions.size > 0));
}

describe('POST /oauth2/token with a client secret', () => {
  it('issues a short-lived bearer token over HTTP Basic, not to be cached', async () => {
    const h = await harness();
    const res = await withSecret(h, gp);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.pragma).toBe('no-cache');
    expect(Object.keys(res.body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 300, scope: formatScopes(roleScopes('referrer')) });

    const claims = decodeJwt(res.body.access_token);
    expect(decodeProtectedHeader(res.body.access_token)).toMatchObject({ alg: 'HS256', typ: 'at+jwt' });
    expect(claims).toMatchObject({ iss: BASE_URL, aud: `${BASE_URL}/fhir`, sub: gp.clientId, role: 'referrer', org: 'A81001' });
    expect(claims.scope).toBe(res.body.scope);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(300);
    expect(claims.jti).toEqual(expect.any(String));
  });

  it('decodes form-urlencoded Basic credentials (RFC 6749 §2.3.1)', async () => {
    const h = await harness();
    expect((await withSecret(h, odd)).status).toBe(200);
  });

  it('accepts client_id and client_secret form fields', async () => {
    const h = await harness();
    const res = await token(h).type('form').send({ grant_type: 'client_credentials', client_id: lw.clientId, client_secret: lw.secret });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(decodeJwt(res.body.access_token)).toMatchObject({ sub: lw.clientId, role: 'link-worker', org: 'SP001' });
  });

  it('refuses a wrong secret, over Basic and in the form, with a Basic challenge', async () => {
    const h = await harness();
    const basic = await withSecret(h, { ...gp, secret: `${gp.secret}x` });
    expectOAuthError(basic, 401, 'invalid_client');
    const form = await token(h).type('form').send({ grant_type: 'client_credentials', client_id: gp.clientId, client_secret: lw.secret });
    expectOAuthError(form, 401, 'invalid_client');
  });

  it('answers an unknown client exactly as a wrong secret', async () => {
    const h = await harness();
    const wrong = await withSecret(h, { ...gp, secret: 'nope' });
    const unknown = await withSecret(h, { ...gp, clientId: 'nobody', secret: 'nope' });
    expectOAuthError(unknown, 401, 'invalid_client');
    expect(unknown.body).toEqual(wrong.body);
  });

  it('refuses a secret from a client registered with keys only', async () => {
    const h = await harness();
    expectOAuthError(await withSecret(h, { ...gp, clientId: es.clientId }), 401, 'invalid_client');
  });

  it('refuses a request without client authentication or with a malformed Authorization header', async () => {
    const h = await harness();
    expectOAuthError(await token(h).type('form').send({ grant_type: 'client_credentials' }), 401, 'invalid_client');
    expectOAuthError(await token(h).type('form').send({ grant_type: 'client_credentials', client_id: gp.clientId }), 401, 'invalid_client');
    for (const header of ['Basic', 'Basic !!!', `Basic ${Buffer.from('no-colon').toString('base64')}`, 'Bearer abc',
      `Basic ${Buffer.from(`${gp.clientId}:%zz`).toString('base64')}`]) {
      expectOAuthError(await token(h).type('form').set('Authorization', header).send({ grant_type: 'client_credentials' }), 401, 'invalid_client');
    }
  });

  it('refuses two authentication methods at once', async () => {
    const h = await harness();
    expectOAuthError(await withSecret(h, gp, { client_secret: gp.secret, client_id: gp.clientId }), 400, 'invalid_request');
    expectOAuthError(await withSecret(h, gp, { client_id: lw.clientId }), 400, 'invalid_request');
    const both = await withAssertion(h, await es.assertion(), { client_id: lw.clientId, client_secret: lw.secret });
    expectOAuthError(both, 400, 'invalid_request');
  });

  it('accepts a client_id form field that agrees with Basic', async () => {
    const h = await harness();
    expect((await withSecret(h, gp, { client_id: gp.clientId })).status).toBe(200);
  });
});

describe('POST /oauth2/token: the request itself', () => {
  it('needs grant_type=client_credentials', async () => {
    const h = await harness();
    const missing = await token(h).type('form').set('Authorization', basicAuth(gp.clientId, gp.secret)).send({ scope: 'system/Task.rs' });
    expectOAuthError(missing, 400, 'invalid_request');
    expectOAuthError(await withSecret(h, gp, { grant_type: 'password' }), 400, 'unsupported_grant_type');
    expectOAuthError(await withSecret(h, gp, { grant_type: 'authorization_code' }), 400, 'unsupported_grant_type');
  });

  it('takes form bodies only', async () => {
    const h = await harness();
    const auth = basicAuth(gp.clientId, gp.secret);
    const json = await token(h).set('Authorization', auth).type('json').send({ grant_type: 'client_credentials' });
    expectOAuthError(json, 400, 'invalid_request');
    const text = await token(h).set('Authorization', auth).type('text/plain').send('grant_type=client_credentials');
    expectOAuthError(text, 400, 'invalid_request');
    expectOAuthError(await token(h).set('Authorization', auth), 400, 'invalid_request');
  });

  it('refuses a repeated parameter and an oversized body', async () => {
    const h = await harness();
    const auth = basicAuth(gp.clientId, gp.secret);
    const repeated = await token(h).type('form').set('Authorization', auth).send('grant_type=client_credentials&scope=system/Task.r&scope=system/Task.s');
    expectOAuthError(repeated, 400, 'invalid_request');
    const big = await token(h).type('form').set('Authorization', auth).send(`grant_type=client_credentials&pad=${'x'.repeat(20_000)}`);
    expectOAuthError(big, 413, 'invalid_request');
  });

  it('treats empty parameters as absent (RFC 6749 §3.1)', async () => {
    const h = await harness();
    const res = await withSecret(h, gp, { scope: '', client_id: '' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.scope).toBe(formatScopes(roleScopes('referrer')));
  });

  it('answers other methods with 405', async () => {
    const h = await harness();
    const res = await request(h.app).get('/oauth2/token');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(res.body.error).toBe('invalid_request');
  });
});

describe('scope narrowing', () => {
  it('grants the requested subset of the role, and the token carries it', async () => {
    const h = await harness();
    const res = await withSecret(h, lw, { scope: 'system/Task.rs system/Patient.r' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.scope).toBe('system/Task.rs system/Patient.r');
    const me = await whoami(h, res.body.access_token);
    expect(me.body.scopes).toBe('system/Task.rs system/Patient.r');
  });

  it('cuts a request down to what the role allows', async () => {
    const h = await harness();
    const res = await withSecret(h, asset, { scope: 'system/Task.cruds system/Observation.rs' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.scope).toBe('system/Task.rus');
  });

  it('refuses a request of nothing the role holds', async () => {
    const h = await harness();
    expectOAuthError(await withSecret(h, gp, { scope: 'system/AuditEvent.rs' }), 400, 'invalid_scope');
    expectOAuthError(await withSecret(h, asset, { scope: 'system/Patient.cud' }), 400, 'invalid_scope');
  });

  it('refuses scopes it cannot read', async () => {
    const h = await harness();
    for (const scope of ['patient/*.read', 'system/Task.sr', 'openid system/Task.rs', 'system/Task.rs?status=requested']) {
      expectOAuthError(await withSecret(h, gp, { scope }), 400, 'invalid_scope');
    }
  });

  it('accepts SMART v1 forms and answers in v2 form', async () => {
    const h = await harness();
    const read = await withSecret(h, asset, { scope: 'system/*.read' });
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    expect(read.body.scope).toBe(readOnly('community-asset'));
    const write = await withSecret(h, lw, { scope: 'system/Task.write' });
    expect(write.body.scope).toBe('system/Task.cu');
    const all = await withSecret(h, gp, { scope: 'system/*.*' });
    expect(all.body.scope).toBe(formatScopes(roleScopes('referrer')));
  });
});

describe('private_key_jwt (SMART Backend Services)', () => {
  it.each(['ES384', 'RS384'] as const)('issues a token for a valid %s assertion', async (alg) => {
    const h = await harness();
    const client = alg === 'ES384' ? es : rs;
    const res = await withAssertion(h, await client.assertion(), { scope: 'system/Task.rs' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.scope).toBe('system/Task.rs');
    expect(decodeJwt(res.body.access_token)).toMatchObject({ sub: client.clientId, role: client.config.role, org: client.config.organization });
  });

  it('accepts keys registered without alg or kid, as in the example deployment', async () => {
    const { privateKey, publicJwk } = await keyPair('ES384');
    const { alg: _alg, kid: _kid, ...bare } = publicJwk;
    clients.push({ clientId: 'bare-keys', role: 'link-worker', organization: 'SP001', jwks: { keys: [bare] } } as ClientConfig);
    const h = await harness();
    const assertion = await new SignJWT({ iss: 'bare-keys', sub: 'bare-keys', aud: TOKEN_URL, jti: 'bare-1' })
      .setProtectedHeader({ alg: 'ES384' }).setIssuedAt().setExpirationTime('2m').sign(privateKey);
    expect((await withAssertion(h, assertion)).status).toBe(200);
  });

  it('accepts a matching client_id field and refuses a different one', async () => {
    const h = await harness();
    expect((await withAssertion(h, await es.assertion(), { client_id: es.clientId })).status).toBe(200);
    expectOAuthError(await withAssertion(h, await es.assertion(), { client_id: rs.clientId }), 401, 'invalid_client');
  });

  it('refuses an expired assertion', async () => {
    const h = await harness();
    const now = Math.floor(Date.now() / 1000);
    const res = await withAssertion(h, await es.assertion({ iat: now - 300, exp: now - 60 }));
    expectOAuthError(res, 401, 'invalid_client');
    expect(res.body.error_description).toMatch(/expired/);
  });

  it('refuses an assertion valid for more than 5 minutes', async () => {
    const h = await harness();
    const res = await withAssertion(h, await es.assertion({ exp: Math.floor(Date.now() / 1000) + 600 }));
    expectOAuthError(res, 401, 'invalid_client');
    expect(res.body.error_description).toMatch(/5 minutes/);
  });

  it('refuses an assertion for another audience', async () => {
    const h = await harness();
    for (const aud of ['https://elsewhere.example/oauth2/token', `${BASE_URL}/fhir`, BASE_URL]) {
      const res = await withAssertion(h, await es.assertion({ aud }));
      expectOAuthError(res, 401, 'invalid_client');
      expect(res.body.error_description).toContain(TOKEN_URL);
    }
  });

  it('refuses a wrong issuer or subject', async () => {
    const h = await harness();
    // Claiming to be another client: that client's keys do not verify it.
    expectOAuthError(await withAssertion(h, await es.assertion({ iss: rs.clientId, sub: rs.clientId })), 401, 'invalid_client');
    expectOAuthError(await withAssertion(h, await es.assertion({ iss: 'nobody', sub: 'nobody' })), 401, 'invalid_client');
    expectOAuthError(await withAssertion(h, await es.assertion({ iss: gp.clientId, sub: gp.clientId })), 401, 'invalid_client');
    const sub = await withAssertion(h, await es.assertion({ sub: rs.clientId }));
    expectOAuthError(sub, 401, 'invalid_client');
    expect(sub.body.error_description).toMatch(/sub/);
  });

  it('refuses a bad signature', async () => {
    const h = await harness();
    const stranger = await keyPair('ES384', es.kid);
    const forged = await signAssertion({ clientId: es.clientId, alg: 'ES384', kid: es.kid, privateKey: stranger.privateKey });
    expectOAuthError(await withAssertion(h, forged), 401, 'invalid_client');
    // A genuine assertion with its payload altered.
    const [header, , signature] = (await es.assertion()).split('.');
    const payload = Buffer.from(JSON.stringify({ iss: es.clientId, sub: es.clientId, aud: TOKEN_URL, exp: Math.floor(Date.now() / 1000) + 60, jti: 'x' })).toString('base64url');
    expectOAuthError(await withAssertion(h, `${header}.${payload}.${signature}`), 401, 'invalid_client');
    // An HMAC "signature" made with the public key (algorithm confusion).
    const hmac = await new SignJWT({ iss: es.clientId, sub: es.clientId, aud: TOKEN_URL, jti: 'y' })
      .setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1m').sign(new TextEncoder().encode(JSON.stringify(es.config.jwks)));
    expectOAuthError(await withAssertion(h, hmac), 401, 'invalid_client');
    expectOAuthError(await withAssertion(h, 'not.a.jwt'), 401, 'invalid_client');
  });

  it('needs exp and jti', async () => {
    const h = await harness();
    expectOAuthError(await withAssertion(h, await es.assertion({ jti: null })), 401, 'invalid_client');
    expectOAuthError(await withAssertion(h, await es.assertion({ exp: null })), 401, 'invalid_client');
  });

  it('needs the jwt-bearer assertion type', async () => {
    const h = await harness();
    const res = await withAssertion(h, await es.assertion(), { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' });
    expectOAuthError(res, 401, 'invalid_client');
  });

  it('refuses a replayed jti, also after a restart', async () => {
    const h = await harness();
    const assertion = await es.assertion();
    expect((await withAssertion(h, assertion)).status).toBe(200);
    const replay = await withAssertion(h, assertion);
    expectOAuthError(replay, 401, 'invalid_client');
    expect(replay.body.error_description).toMatch(/jti/);
    // The same jti in a freshly signed assertion is a replay too.
    const jti = decodeJwt(assertion).jti ?? '';
    expectOAuthError(await withAssertion(h, await es.assertion({ jti })), 401, 'invalid_client');
    // Another client may use the same jti: they are per client.
    expect((await withAssertion(h, await rs.assertion({ jti }))).status).toBe(200);

    await h.store.close();
    stores.splice(stores.indexOf(h.store), 1);
    const restarted = await harness({ db: h.db });
    expectOAuthError(await withAssertion(restarted, assertion), 401, 'invalid_client');
    expect((await withAssertion(restarted, await es.assertion())).status).toBe(200);
  });

  it('does not spend a jti on an assertion that fails verification', async () => {
    const h = await harness();
    const jti = 'spent-only-when-valid';
    expectOAuthError(await withAssertion(h, await es.assertion({ jti, aud: 'https://elsewhere.example/token' })), 401, 'invalid_client');
    expect((await withAssertion(h, await es.assertion({ jti }))).status).toBe(200);
  });
});

describe('rate limiting of failed client authentication', () => {
  const fail = (h: Harness, c: SecretClient, from: string) => withSecret(h, { ...c, secret: 'wrong' }, {}, from);

  it('blocks a client after 10 failures, with Retry-After and without checking credentials', async () => {
    const h = await harness();
    for (let i = 0; i < 10; i++) expect((await fail(h, gp, '10.0.0.1')).status).toBe(401);
    h.clock.advance(60);
    const blocked = await withSecret(h, gp, {}, '10.0.0.2'); // the right secret, from elsewhere: the client is blocked
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBe(240);
    expect(blocked.body.error).toBe('invalid_client');
    expect(blocked.headers['cache-control']).toBe('no-store');
    // Another client from another address is unaffected.
    expect((await withSecret(h, lw, {}, '10.0.0.3')).status).toBe(200);
    // Once the window has passed, the client may try again.
    h.clock.advance(241);
    expect((await withSecret(h, gp, {}, '10.0.0.2')).status).toBe(200);
  });

  it('blocks an address after 10 failures, whatever client it names', async () => {
    const h = await harness();
    for (let i = 0; i < 10; i++) {
      const res = await withSecret(h, { ...gp, clientId: `guess-${i}`, secret: 'wrong' }, {}, '192.0.2.7');
      expect(res.status).toBe(401);
    }
    expect((await withSecret(h, lw, {}, '192.0.2.7')).status).toBe(429);
    expect((await withSecret(h, lw, {}, '192.0.2.8')).status).toBe(200);
    // Invented client ids got no counters of their own.
    expect(h.limiter.size).toBe(1);
  });

  it('counts a failure at the tenth, not before', async () => {
    const h = await harness();
    for (let i = 0; i < 9; i++) await fail(h, gp, `10.1.0.${i}`);
    expect((await withSecret(h, gp, {}, '10.1.1.1')).status).toBe(200);
    await fail(h, gp, '10.1.0.99');
    expect((await withSecret(h, gp, {}, '10.1.1.1')).status).toBe(429);
  });

  it('counts failed assertions too', async () => {
    const h = await harness();
    for (let i = 0; i < 10; i++) {
      const res = await withAssertion(h, await es.assertion({ aud: 'https://elsewhere.example' })).set('X-Forwarded-For', `10.2.0.${i}`);
      expect(res.status).toBe(401);
    }
    const blocked = await withAssertion(h, await es.assertion()).set('X-Forwarded-For', '10.2.1.1');
    expect(blocked.status).toBe(429);
  });

  it('does not count requests that fail for other reasons', async () => {
    const h = await harness();
    for (let i = 0; i < 12; i++) expect((await withSecret(h, gp, { scope: 'system/AuditEvent.rs' }, '10.3.0.1')).status).toBe(400);
    expect((await withSecret(h, gp, {}, '10.3.0.1')).status).toBe(200);
  });
});

describe('bearer tokens on the FHIR API', () => {
  it('echoes the caller of a valid token', async () => {
    const h = await harness();
    const accessToken = await fetchToken(h.app, lw, 'system/Task.rus');
    const res = await whoami(h, accessToken).set('X-Forwarded-For', '198.51.100.4');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ clientId: lw.clientId, role: 'link-worker', organization: 'SP001', scopes: 'system/Task.rus', address: '198.51.100.4' });
    // Again, from the cache.
    expect((await whoami(h, accessToken)).body.clientId).toBe(lw.clientId);
  });

  it('works with tokens got through private_key_jwt', async () => {
    const h = await harness();
    const res = await whoami(h, await fetchToken(h.app, rs));
    expect(res.body).toMatchObject({ clientId: rs.clientId, role: 'referrer', organization: 'A81001' });
  });

  it('refuses a request without a token, with a challenge but no error code', async () => {
    const h = await harness();
    const res = await request(h.app).get('/fhir/whoami');
    expectUnauthorizedOutcome(res, /^Bearer realm="signpost"$/);
    const basic = await request(h.app).get('/fhir/whoami').set('Authorization', basicAuth(gp.clientId, gp.secret));
    expectUnauthorizedOutcome(basic, /^Bearer realm="signpost"$/);
  });

  it('refuses a garbage token', async () => {
    const h = await harness();
    for (const value of ['Bearer', 'Bearer abc', 'Bearer a.b.c', 'Bearer ey!!.x.y', `Bearer ${'x'.repeat(5000)}`]) {
      const res = await request(h.app).get('/fhir/whoami').set('Authorization', value);
      expectUnauthorizedOutcome(res, /^Bearer realm="signpost", error="invalid_token"/);
    }
  });

  it('refuses an expired token, cached or not', async () => {
    const h = await harness();
    const used = await fetchToken(h.app, gp);
    const unused = await fetchToken(h.app, gp);
    expect((await whoami(h, used)).status).toBe(200);
    h.clock.advance(299);
    expect((await whoami(h, used)).status).toBe(200);
    h.clock.advance(10);
    expectUnauthorizedOutcome(await whoami(h, used), /error="invalid_token"/);
    expectUnauthorizedOutcome(await whoami(h, unused), /error="invalid_token"/);
  });

  it('refuses a token signed with another key, or issued for another server', async () => {
    const h = await harness();
    const foreign = new AccessTokens({ key: OTHER_KEY, issuer: BASE_URL, now: h.clock.now });
    const forged = (await foreign.issue(gp.config, roleScopes('auditor'))).access_token;
    expectUnauthorizedOutcome(await whoami(h, forged), /error="invalid_token"/);
    const elsewhere = new AccessTokens({ key: KEY, issuer: 'https://other.example', now: h.clock.now });
    expectUnauthorizedOutcome(await whoami(h, (await elsewhere.issue(gp.config, [])).access_token), /error="invalid_token"/);
  });

  it('refuses a token whose claims were altered', async () => {
    const h = await harness();
    const [header, payload, signature] = (await fetchToken(h.app, asset)).split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<string, unknown>;
    const altered = Buffer.from(JSON.stringify({ ...claims, role: 'auditor' })).toString('base64url');
    expectUnauthorizedOutcome(await whoami(h, `${header}.${altered}.${signature}`), /error="invalid_token"/);
  });

  it('keeps verifying tokens of the previous key after a rotation, for one token lifetime', async () => {
    const before = await harness();
    const oldToken = await fetchToken(before.app, gp);
    const longLived = await new AccessTokens({ key: KEY, issuer: BASE_URL, lifetimeSeconds: 3600 }).issue(gp.config, roleScopes('referrer'));

    const clock = new Clock();
    const rotated = new AccessTokens({ key: OTHER_KEY, previousKey: KEY, issuer: BASE_URL, now: clock.now });
    const after = await harness({ tokens: rotated, clock });
    expect((await whoami(after, oldToken)).status).toBe(200);
    expect((await whoami(after, await fetchToken(after.app, gp))).status).toBe(200);
    // Without the previous key, the old token is refused.
    const forgotten = await harness({ tokens: new AccessTokens({ key: OTHER_KEY, issuer: BASE_URL }) });
    expectUnauthorizedOutcome(await whoami(forgotten, oldToken), /error="invalid_token"/);
    // Once every token of the old key must have expired, the old key signs nothing we accept.
    expect((await whoami(after, longLived.access_token)).status).toBe(200);
    clock.advance(400);
    expectUnauthorizedOutcome(await whoami(after, longLived.access_token), /error="invalid_token"/);
  });
});

describe('GET /fhir/.well-known/smart-configuration', () => {
  it('names the token endpoint, grant, auth methods, algorithms, scopes and capabilities', async () => {
    const h = await harness();
    const res = await request(h.app).get('/fhir/.well-known/smart-configuration');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      token_endpoint: TOKEN_URL,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic', 'client_secret_post'],
      token_endpoint_auth_signing_alg_values_supported: ['ES384', 'RS384'],
      capabilities: ['client-confidential-asymmetric', 'client-confidential-symmetric', 'permission-v2', 'permission-v1'],
    });
    expect(res.body.scopes_supported).toEqual(expect.arrayContaining(['system/*.cruds', 'system/*.read']));
  });
});

describe('logs', () => {
  it('never carry a secret, an assertion or a token', async () => {
    const h = await harness();
    const assertion = await es.assertion();
    const issued = await withAssertion(h, assertion);
    await withAssertion(h, assertion); // a refused replay
    await withSecret(h, gp);
    await withSecret(h, { ...gp, secret: `${gp.secret}-typo` });
    await token(h).type('form').send({ grant_type: 'client_credentials', client_id: lw.clientId, client_secret: lw.secret });
    await whoami(h, issued.body.access_token);
    await whoami(h, `${issued.body.access_token}x`);
    const logs = h.logs.join('\n');
    expect(h.logs.length).toBeGreaterThan(0);
    for (const secret of [gp.secret, lw.secret, assertion, issued.body.access_token as string, basicAuth(gp.clientId, gp.secret).slice(6)]) {
      expect(logs).not.toContain(secret);
    }
    // Signatures are the part that must never leak, even in pieces.
    expect(logs).not.toContain(assertion.split('.')[2]);
  });
});
