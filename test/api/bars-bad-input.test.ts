import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecureTestGateway, type AuthedClient, type SecureTestGateway } from '../fixtures/secure-gateway.js';

let gw: SecureTestGateway;
let gp: AuthedClient;
beforeAll(async () => {
  gw = await startSecureTestGateway();
  gp = await gw.as('referrer');
});
afterAll(async () => { await gw.close(); });

const header = (extra: Record<string, unknown> = {}) => ({
  fullUrl: 'urn:uuid:h', resource: {
    resourceType: 'MessageHeader', eventCoding: { system: 'https://fhir.nhs.uk/CodeSystem/message-events-bars', code: 'servicerequest-request' },
    source: { endpoint: 'https://x' }, focus: [{ reference: 'urn:uuid:sr' }], ...extra,
  },
});

describe('$process-message never answers a malformed message with a 5xx', () => {
  it.each<[string, unknown]>([
    ['an empty object', {}],
    ['a transaction Bundle', { resourceType: 'Bundle', type: 'transaction', entry: [] }],
    ['a message without entries', { resourceType: 'Bundle', type: 'message' }],
    ['a message whose first entry is not a MessageHeader', { resourceType: 'Bundle', type: 'message', entry: [{ resource: { resourceType: 'Patient' } }] }],
    ['a focus that is not there', { resourceType: 'Bundle', type: 'message', entry: [header()] }],
    ['a focus that is a Patient', { resourceType: 'Bundle', type: 'message', entry: [header(), { fullUrl: 'urn:uuid:sr', resource: { resourceType: 'Patient' } }] }],
    ['a ServiceRequest without a subject', { resourceType: 'Bundle', type: 'message', entry: [header(), { fullUrl: 'urn:uuid:sr', resource: { resourceType: 'ServiceRequest', status: 'active', intent: 'plan' } }] }],
    ['an unknown reason', { resourceType: 'Bundle', type: 'message', entry: [header({ reason: { coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/message-reason-bars', code: 'burn' }] } })] }],
    ['an entry without a resource', { resourceType: 'Bundle', type: 'message', entry: [header(), { fullUrl: 'urn:uuid:x' }] }],
  ])('%s', async (_name, body) => {
    const res = await gp.post('/fhir/$process-message', body);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });

  it('holds for generated messages (200 runs)', async () => {
    const value = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.boolean(), fc.dictionary(fc.string(), fc.string()));
    const resource = fc.record({
      resourceType: fc.constantFrom('ServiceRequest', 'Patient', 'Consent', 'Organization', 'Practitioner', 'MessageHeader', 'Task'),
      subject: fc.option(fc.record({ reference: fc.constantFrom('urn:uuid:p', 'urn:uuid:sr', 'Patient/x', 'nope') }), { nil: undefined }),
      status: fc.option(fc.constantFrom('active', 'revoked', 'draft'), { nil: undefined }),
      intent: fc.option(fc.constantFrom('plan', 'order'), { nil: undefined }),
      identifier: fc.option(fc.array(fc.record({ system: fc.constantFrom('https://x', 'https://fhir.nhs.uk/Id/nhs-number'), value: fc.string({ minLength: 1 }) }), { minLength: 1, maxLength: 2 }), { nil: undefined }),
      extra: fc.option(value, { nil: undefined }),
    }, { requiredKeys: ['resourceType'] });
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ fullUrl: fc.constantFrom('urn:uuid:sr', 'urn:uuid:p', 'urn:uuid:c'), resource }), { maxLength: 4 }),
      fc.constantFrom('new', 'update', 'delete'),
      async (entries, reason) => {
        const body = { resourceType: 'Bundle', type: 'message', entry: [header({ reason: { coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/message-reason-bars', code: reason }] } }), ...entries] };
        const res = await gp.post('/fhir/$process-message', JSON.parse(JSON.stringify(body)));
        expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBeLessThan(500);
        if (res.status >= 400) expect(res.body.resourceType).toBe('OperationOutcome');
      },
    ), { numRuns: 200, seed: 4242 });
  });
});
