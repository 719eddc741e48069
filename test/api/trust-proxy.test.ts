import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/env.js';
import { startSecureTestGateway, type SecureTestGateway } from '../fixtures/secure-gateway.js';

const gateways: SecureTestGateway[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.close();
});

/** The address the audit trail recorded for an unauthenticated read sent through a proxy naming 203.0.113.9. */
async function recordedAddress(trustProxy?: string): Promise<string | undefined> {
  const g = await startSecureTestGateway(undefined, trustProxy ? { trustProxy } : {});
  gateways.push(g);
  const refused = await request(g.app).get('/fhir/Patient/p1').set('X-Forwarded-For', '203.0.113.9');
  expect(refused.status).toBe(401);
  const auditor = await g.as('auditor');
  const events = await auditor.get('/fhir/AuditEvent?outcome=4&_sort=-_lastUpdated&_count=1');
  expect(events.status).toBe(200);
  const event = events.body.entry[0].resource as fhir4.AuditEvent;
  return event.agent[0]?.network?.address;
}

describe('SIGNPOST_TRUST_PROXY: whose word the recorded client address is', () => {
  it('by default takes X-Forwarded-For from a loopback proxy only', async () => {
    expect(await recordedAddress()).toBe('203.0.113.9');
  });

  it('configured for a container network, ignores the header from an address outside it and records the socket\'s', async () => {
    expect(await recordedAddress('10.0.0.0/8')).toMatch(/^(::ffff:)?127\.0\.0\.1$|^::1$/);
  });

  it('accepts names, addresses and ranges, and refuses anything else at start-up', () => {
    expect(loadEnv({ SIGNPOST_TRUST_PROXY: 'loopback, uniquelocal, 192.0.2.1, 2001:db8::/32' }).trustProxy).toBe('loopback, uniquelocal, 192.0.2.1, 2001:db8::/32');
    expect(loadEnv({}).trustProxy).toBe('loopback');
    expect(() => loadEnv({ SIGNPOST_TRUST_PROXY: 'true' })).toThrow(/SIGNPOST_TRUST_PROXY: must be loopback/);
  });
});
