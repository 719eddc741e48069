import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhir, patient, nhsNumber, startTestGateway, type TestGateway } from '../fixtures/gateway.js';

let gw: TestGateway;
beforeAll(async () => { gw = await startTestGateway(); });
afterAll(async () => { await gw.close(); });

describe('create and read', () => {
  it('creates a Patient and reads it back with ETag, Last-Modified and Location', async () => {
    const api = fhir(gw.app);
    const created = await api.post('/fhir/Patient', patient(nhsNumber(1)));
    expect(created.status).toBe(201);
    expect(created.headers.etag).toBe('W/"1"');
    expect(created.headers.location).toMatch(/^http:\/\/signpost\.test\/fhir\/Patient\/[\w-]+\/_history\/1$/);
    expect(created.headers['last-modified']).toBeTruthy();
    const read = await api.get(`/fhir/Patient/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body.identifier[0].value).toBe(nhsNumber(1));
    expect(read.body.meta.versionId).toBe('1');
  });
});
