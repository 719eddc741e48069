import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessTokens } from '../../src/auth/access-token.js';
import { JWT_BEARER_ASSERTION, OAuthError, readClientCredentials, type ClientCredentials } from '../../src/auth/client-auth.js';
import { addressKey, FailureLimiter } from '../../src/auth/rate-limit.js';
import {
  loadOrCreateSigningKey, loadPreviousSigningKey, PREVIOUS_SIGNING_KEY_FILE, SIGNING_KEY_FILE,
} from '../../src/auth/signing-key.js';
import { basicAuth, secretClient } from '../fixtures/clients.js';

const assertion = (claims: Record<string, unknown>) =>
  `${Buffer.from('{"alg":"ES384"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;

function refusal(form: Record<string, string>, authorization?: string): OAuthError {
  try {
    readClientCredentials(form, authorization);
  } catch (e) {
    if (e instanceof OAuthError) return e;
    throw e;
  }
  throw new Error('the credentials were accepted');
}

describe('readClientCredentials', () => {
  it.each<[string, Record<string, string>, string | undefined, ClientCredentials]>([
    ['Basic', {}, basicAuth('gp-a81001', 's3cret'), { method: 'client_secret_basic', clientId: 'gp-a81001', secret: 's3cret' }],
    ['Basic, form-urlencoded parts', {}, basicAuth('a b:c', 'p+q%r:s é'), { method: 'client_secret_basic', clientId: 'a b:c', secret: 'p+q%r:s é' }],
    ['Basic, scheme in any case', {}, `basic ${Buffer.from('x:y').toString('base64')}`, { method: 'client_secret_basic', clientId: 'x', secret: 'y' }],
    ['Basic, empty secret', {}, `Basic ${Buffer.from('x:').toString('base64')}`, { method: 'client_secret_basic', clientId: 'x', secret: '' }],
    ['Basic with the same client_id', { client_id: 'x' }, basicAuth('x', 'y'), { method: 'client_secret_basic', clientId: 'x', secret: 'y' }],
    ['form fields', { client_id: 'x', client_secret: 'y' }, undefined, { method: 'client_secret_post', clientId: 'x', secret: 'y' }],
    ['assertion', { client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: assertion({ iss: 'lw' }) }, undefined,
      { method: 'private_key_jwt', clientId: 'lw', assertion: assertion({ iss: 'lw' }) }],
    ['assertion with the same client_id', { client_id: 'lw', client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: assertion({ iss: 'lw' }) },
      undefined, { method: 'private_key_jwt', clientId: 'lw', assertion: assertion({ iss: 'lw' }) }],
  ])('reads %s', (_name, form, authorization, expected) => {
    expect(readClientCredentials(form, authorization)).toEqual(expected);
  });

  it.each<[string, Record<string, string>, string | undefined, number, string]>([
    ['nothing', {}, undefined, 401, 'invalid_client'],
    ['client_id alone (a public client)', { client_id: 'x' }, undefined, 401, 'invalid_client'],
    ['a secret without client_id', { client_secret: 'y' }, undefined, 400, 'invalid_request'],
    ['Basic and client_secret', { client_id: 'x', client_secret: 'y' }, basicAuth('x', 'y'), 400, 'invalid_request'],
    ['Basic and an assertion', { client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: assertion({ iss: 'x' }) }, basicAuth('x', 'y'), 400, 'invalid_request'],
    ['client_secret and an assertion', { client_id: 'x', client_secret: 'y', client_assertion: assertion({ iss: 'x' }) }, undefined, 400, 'invalid_request'],
    ['Basic naming another client_id', { client_id: 'z' }, basicAuth('x', 'y'), 400, 'invalid_request'],
    ['Basic without a colon', {}, `Basic ${Buffer.from('xy').toString('base64')}`, 401, 'invalid_client'],
    ['Basic with an empty id', {}, `Basic ${Buffer.from(':y').toString('base64')}`, 401, 'invalid_client'],
    ['Basic that is not base64', {}, 'Basic ***', 401, 'invalid_client'],
    ['Basic with a bad percent-escape', {}, `Basic ${Buffer.from('x:%E0%A4%A').toString('base64')}`, 401, 'invalid_client'],
    ['another scheme', {}, 'Bearer abc', 401, 'invalid_client'],
    ['an assertion of another type', { client_assertion_type: 'urn:x', client_assertion: assertion({ iss: 'x' }) }, undefined, 401, 'invalid_client'],
    ['an assertion type without an assertion', { client_assertion_type: JWT_BEARER_ASSERTION }, undefined, 400, 'invalid_request'],
    ['an assertion that is not a JWT', { client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: 'abc' }, undefined, 401, 'invalid_client'],
    ['an assertion without iss', { client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: assertion({ sub: 'x' }) }, undefined, 401, 'invalid_client'],
    ['an assertion and a different client_id', { client_id: 'y', client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: assertion({ iss: 'x' }) },
      undefined, 401, 'invalid_client'],
  ])('refuses %s', (_name, form, authorization, status, error) => {
    const e = refusal(form, authorization);
    expect([e.status, e.error]).toEqual([status, error]);
  });

  it('never repeats a credential in its error', () => {
    const e = refusal({ client_id: 'x', client_secret: 'hunter2', client_assertion: 'eyJhbGciOi.secret.sig' });
    expect(e.description).not.toMatch(/hunter2|secret\.sig/);
  });
});

describe('FailureLimiter', () => {
  const clockAt = (start = 1_000_000) => {
    const clock = { t: start, now: () => clock.t };
    return clock;
  };

  it('blocks a key for the rest of the window after maxFailures failures', () => {
    const clock = clockAt();
    const limiter = new FailureLimiter({ maxFailures: 3, windowMs: 60_000, now: clock.now });
    limiter.fail(['a']);
    clock.t += 10_000;
    limiter.fail(['a']);
    expect(limiter.retryAfter(['a'])).toBeUndefined();
    limiter.fail(['a']);
    expect(limiter.retryAfter(['a'])).toBe(50); // the window runs from the first of the three
    expect(limiter.retryAfter(['b'])).toBeUndefined();
    clock.t += 45_500;
    expect(limiter.retryAfter(['a'])).toBe(5); // rounded up
    clock.t += 5_000;
    // The first failure has left the window: two remain.
    expect(limiter.retryAfter(['a'])).toBeUndefined();
    limiter.fail(['a']);
    expect(limiter.retryAfter(['a'])).toBe(10); // now from the second failure, at +10 s
  });

  it('answers for the longest-blocked of several keys', () => {
    const clock = clockAt();
    const limiter = new FailureLimiter({ maxFailures: 1, windowMs: 60_000, now: clock.now });
    limiter.fail(['client:x']);
    clock.t += 30_000;
    limiter.fail(['addr:1']);
    expect(limiter.retryAfter(['addr:1', 'client:x'])).toBe(60);
    expect(limiter.retryAfter(['addr:2', 'client:x'])).toBe(30);
  });

  it('keeps at most maxKeys keys, forgetting aged-out ones first, blocked ones last', () => {
    const clock = clockAt();
    const limiter = new FailureLimiter({ maxFailures: 2, windowMs: 60_000, maxKeys: 3, now: clock.now });
    limiter.fail(['old']);
    clock.t += 61_000;
    limiter.fail(['a', 'a', 'b']);
    limiter.fail(['c']);
    expect(limiter.size).toBe(3); // 'old' made room
    expect(limiter.retryAfter(['a'])).toBe(60);
    limiter.fail(['d']);
    limiter.fail(['e']);
    expect(limiter.size).toBe(3);
    expect(limiter.retryAfter(['a'])).toBe(60); // 'b' and 'c' went, not the blocked 'a'
    for (let i = 0; i < 1000; i++) limiter.fail([`k${i}`]);
    expect(limiter.size).toBe(3);
    expect(limiter.retryAfter(['a'])).toBe(60);
    // When every key is blocked, the least recent one goes.
    const full = new FailureLimiter({ maxFailures: 1, windowMs: 60_000, maxKeys: 2, now: clock.now });
    full.fail(['x', 'y', 'z']);
    expect([full.size, full.retryAfter(['x']), full.retryAfter(['z'])]).toEqual([2, undefined, 60]);
  });
});

describe('addressKey', () => {
  it.each([
    ['203.0.113.9', 'addr:203.0.113.9'],
    ['::ffff:203.0.113.9', 'addr:203.0.113.9'],
    ['2001:db8:1:2:3:4:5:6', 'addr:2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', 'addr:2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff::1', 'addr:2001:db8:1:2::/64'],
    ['2001:db8::1', 'addr:2001:db8:0:0::/64'],
    ['::1', 'addr:0:0:0:0::/64'],
    ['fe80::1%eth0', 'addr:fe80:0:0:0::/64'],
    [undefined, 'addr:unknown'],
  ])('%s → %s', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });
});

describe('token-signing key files', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signpost-key-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('creates a private 32-byte key once and keeps it', () => {
    const dir = path.join(tempDir(), 'nested', 'data');
    const key = loadOrCreateSigningKey(dir);
    expect(key.byteLength).toBe(32);
    const file = path.join(dir, SIGNING_KEY_FILE);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64')).toEqual(Buffer.from(key));
    expect(loadOrCreateSigningKey(dir)).toEqual(key);
    expect(fs.readdirSync(dir)).toEqual([SIGNING_KEY_FILE]); // no temporary file left behind
    expect(loadOrCreateSigningKey(tempDir())).not.toEqual(key);
  });

  it('reads a key an operator wrote, and refuses a malformed one in one line', () => {
    const dir = tempDir();
    const file = path.join(dir, SIGNING_KEY_FILE);
    const mine = Buffer.alloc(32, 5);
    fs.writeFileSync(file, `${mine.toString('base64')}\n`);
    expect(Buffer.from(loadOrCreateSigningKey(dir))).toEqual(mine);
    for (const text of ['', 'not base64!', Buffer.alloc(16).toString('base64'), Buffer.alloc(33).toString('base64')]) {
      fs.writeFileSync(file, text);
      expect(() => loadOrCreateSigningKey(dir)).toThrow(/^signing key .*token-signing\.key is malformed: [^\n]*$/);
    }
  });

  it('has no previous key unless the file exists, and checks it the same way', () => {
    const dir = tempDir();
    expect(loadPreviousSigningKey(dir)).toBeUndefined();
    fs.writeFileSync(path.join(dir, PREVIOUS_SIGNING_KEY_FILE), Buffer.alloc(32, 1).toString('base64'));
    expect(Buffer.from(loadPreviousSigningKey(dir) ?? [])).toEqual(Buffer.alloc(32, 1));
    fs.writeFileSync(path.join(dir, PREVIOUS_SIGNING_KEY_FILE), 'short');
    expect(() => loadPreviousSigningKey(dir)).toThrow(/previous\.key is malformed/);
  });
});

describe('AccessTokens cache', () => {
  it('stays bounded and still verifies evicted tokens by signature', async () => {
    const tokens = new AccessTokens({ key: new Uint8Array(32).fill(3), issuer: 'http://x.test', cacheSize: 2 });
    const client = secretClient('referrer', 'A81001').config;
    const issued = await Promise.all([1, 2, 3].map(() => tokens.issue(client, [])));
    for (const t of issued) expect((await tokens.verify(t.access_token))?.clientId).toBe(client.clientId);
    for (const t of issued) expect((await tokens.verify(t.access_token))?.role).toBe('referrer');
  });

  it('refuses a key shorter than 32 bytes', () => {
    expect(() => new AccessTokens({ key: new Uint8Array(16), issuer: 'http://x.test' })).toThrow(/32 bytes/);
  });
});
