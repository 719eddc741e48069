import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecureTestGateway, type SecureTestGateway } from '../fixtures/secure-gateway.js';

let gw: SecureTestGateway;
beforeAll(async () => { gw = await startSecureTestGateway(); });
afterAll(async () => { await gw.close(); });

describe('security headers', () => {
  it.each(['/fhir/metadata', '/healthz', '/fhir/Task'])('%s carries hardening headers and no CORS grant', async (url) => {
    const res = await request(gw.app).get(url).set('Origin', 'https://evil.example').set('Accept', 'application/fhir+json');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['x-frame-options']).toBeDefined();
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('answers a CORS preflight without granting anything', async () => {
    const res = await request(gw.app).options('/fhir/Task').set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'GET');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers['access-control-allow-methods']).toBeUndefined();
  });
});
