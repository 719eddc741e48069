/**
 * Bad input never breaks the gateway: thousands of generated bad requests over HTTP, against the real
 * app on a real SQLite file, each answered with a 4xx OperationOutcome (or a 2xx where the input
 * happened to be valid), never a 5xx; a refusal writes nothing; and afterwards nothing is half-written.
 *
 * Deterministic: FUZZ_SEED=<n> picks the seed (printed with any failure), FUZZ_SCALE=<k> multiplies
 * the number of runs, FUZZ_REPLAY="<property>|<seed>|<path>" (printed with a failure) replays one
 * shrunk counterexample. A property that fails is re-run with that failure's signature known, so each
 * distinct bug is reported once, with its own counterexample.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.js';
import {
  BASE_SEED, client, describeRequest, exchanger, runProperty, stats, storeProblems, versionCounter, type Client, type FuzzRequest,
  type ServerError,
} from './harness.js';
import { bundles, conditionalHeaders, malformedBodies, patches, randomPaths, resourceWrites, searches } from './requests.js';
import { SEED, validResource } from './resources.js';
import { render, type Json } from './values.js';

let gw: TestGateway;
let api: Client;
let versions: ReturnType<typeof versionCounter>;
let exchange: ReturnType<typeof exchanger>;

/** Exceptions behind 5xx answers, by request id: what the error middleware logs. */
const serverErrors = new Map<string, ServerError>();

beforeAll(async () => {
  // The fixture's app with a logger that keeps the exception behind each 5xx, so that a failure can
  // name its cause and distinct bugs can be told apart.
  const logger = pino({ level: 'error' }, {
    write(line: string) {
      const entry = JSON.parse(line) as { requestId?: string; err?: ServerError };
      if (entry.requestId && entry.err) serverErrors.set(entry.requestId, entry.err);
    },
  });
  gw = await startTestGateway(logger);
  api = await client(gw.app);
  versions = versionCounter(gw);
  exchange = exchanger(api, versions, (id) => serverErrors.get(id));
  // Resources under fixed ids, so generators can aim at things that exist.
  const seeds = [
    ['Organization', SEED.organization, validResource('Organization', 0)],
    ['Patient', SEED.patient, validResource('Patient', 0)],
    ['Consent', SEED.consent, validResource('Consent', 0)],
    ['ServiceRequest', SEED.serviceRequest, validResource('ServiceRequest', 0)],
    ['Task', SEED.task, validResource('Task', 0)],
  ] as const;
  for (const [type, id, resource] of seeds) {
    const res = await api.send({ method: 'PUT', path: `/fhir/${type}/${id}`, headers: { 'Content-Type': 'application/fhir+json' }, json: { ...resource, id } });
    expect(res.status, `seeding ${type}/${id}: ${res.text}`).toBe(201);
  }
  console.info(`[fuzz] FUZZ_SEED=${BASE_SEED}`);
});

afterAll(async () => {
  versions?.close();
  await api?.close();
  await gw?.close();
});

const run = (name: string, arb: Parameters<typeof runProperty<FuzzRequest>>[1], numRuns: number) =>
  runProperty(name, arb, describeRequest, async (req) => { await exchange(req); }, numRuns);

describe('generated bad requests are refused cleanly', () => {
  it('create and update bodies: arbitrary JSON and mutated resources', () => run('resource bodies', resourceWrites, 400), 60_000);
  it('malformed JSON text, content types, encodings and charsets', () => run('malformed bodies', malformedBodies, 200), 60_000);
  it('transaction and batch Bundles with broken entries (a failed transaction writes nothing)', () => run('bundles', bundles, 600), 60_000);
  it('search query strings: unknown params, prefixes, dates, _count, _sort, _include, cursors, modifiers, encodings', () => run('searches', searches, 400), 60_000);
  it('JSON Patch bodies', () => run('patches', patches, 200), 60_000);
  it('If-Match and If-None-Exist headers', () => run('conditional headers', conditionalHeaders, 150), 60_000);
  it('random paths and methods under /fhir', () => run('random paths', randomPaths, 200), 60_000);
});

/**
 * Shrunk counterexamples the fuzzer found, kept as fixed cases so each stays covered whatever the
 * generators do (see the report of the run that added them for the diagnosis).
 */
describe('regressions found by the fuzzer', () => {
  const json = { 'Content-Type': 'application/fhir+json' };
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
  const bundle = (type: string, entry: Json[]): FuzzRequest => ({ method: 'POST', path: '/fhir', headers: json, json: { resourceType: 'Bundle', type, entry } });
  const patient = validResource('Patient', 424_242);
  const consent = validResource('Consent', 1);
  const repeat = (n: number, s: string, sep: string) => Array<string>(n).fill(s).join(sep);
  const cases: [string, FuzzRequest][] = [
    ['a path segment that does not percent-decode: GET /fhir/%zz', { method: 'GET', path: '/fhir/%zz' }],
    ['a transaction with a null entry', bundle('transaction', [null])],
    ['a batch with a null entry', bundle('batch', [null])],
    ['a batch entry whose request.url is not a string', bundle('batch', [{ request: { method: 'GET', url: [] } }])],
    ['a transaction entry whose request.ifNoneExist is not a string', bundle('transaction', [{ resource: patient, request: { method: 'POST', url: 'Patient', ifNoneExist: 5 } }])],
    ['a transaction entry whose request.ifMatch is not a string',
      bundle('transaction', [{ resource: { ...validResource('Organization', 7), id: 'fuzz-reg-org' }, request: { method: 'PUT', url: 'Organization/fuzz-reg-org', ifMatch: 5 } }])],
    ['a transaction POST to Type/id whose id is not a FHIR id', bundle('transaction', [{ resource: consent, request: { method: 'POST', url: 'Consent/bad id' } }])],

    ['a body nested 1,820 arrays deep', { method: 'POST', path: '/fhir/Patient', headers: json, json: { ...patient, identifier: '@@deep:1820:array@@' } }],
    ['a body nested 100,000 objects deep', { method: 'POST', path: '/fhir/Patient', headers: json, json: { ...patient, extension: '@@deep:100000:object@@' } }],
    ['a batch entry nested 20,000 arrays deep (reference rewriting)', bundle('batch', [{ resource: { ...patient, x: '@@deep:20000:array@@' }, request: { method: 'POST', url: 'Patient' } }])],
    ['Content-Encoding: gzip on a body that is not gzip', { method: 'POST', path: '/fhir/Patient', headers: { ...json, 'Content-Encoding': 'gzip' }, raw: '{"resourceType":"Patient"}' }],
    ['Content-Encoding: br on an empty body', { method: 'POST', path: '/fhir', headers: { ...json, 'Content-Encoding': 'br' }, raw: Buffer.alloc(0) }],
    ['POST _search with 1,001 form parameters', { method: 'POST', path: '/fhir/Task/_search', headers: form, raw: repeat(1001, 'status=a', '&') }],
    ['600 alternatives in one token parameter (SQLite expression depth)', { method: 'GET', path: `/fhir/Task?status=${repeat(600, 'a', ',')}` }],
    ['a token parameter repeated 600 times (SQLite compound SELECT limit)', { method: 'GET', path: `/fhir/Consent?${repeat(600, 'status=a', '&')}` }],
    ['a parameter repeated 997 times (SQLite expression depth)', { method: 'GET', path: `/fhir/Task?${repeat(997, '_id=a', '&')}` }],
    ['32,765 ids in one _id parameter (SQLite bound-variable limit)', { method: 'POST', path: '/fhir/Patient/_search', headers: form, raw: `_id=${repeat(32_765, 'a', ',')}` }],
    ['12,000 alternatives in one token parameter (query compiler recursion)', { method: 'POST', path: '/fhir/Task/_search', headers: form, raw: `status=${repeat(12_000, 'a', ',')}` }],
    ['a number JavaScript cannot hold (1e999) is not stored as null', {
      method: 'POST', path: '/fhir/Patient', headers: json, raw: render({ ...patient, identifier: [{ system: 'https://fuzz.example/x', value: 'n1' }], multipleBirthInteger: '@@raw:0@@' }),
    }],
    ['an empty search parameter name gets a FHIRPath expression', { method: 'GET', path: '/fhir/Patient?=x' }],
  ];
  for (const [name, req] of cases) it(name, async () => { await exchange(req); });

  it('a transaction POST to Type/id is refused as the same request alone is (405)', async () => {
    const alone = await exchange({ method: 'POST', path: '/fhir/Consent/fuzz-chosen-id', headers: json, json: consent });
    const inBundle = await exchange(bundle('transaction', [{ resource: consent, request: { method: 'POST', url: 'Consent/fuzz-chosen-id' } }]));
    expect([alone.status, inBundle.status]).toEqual([405, 405]);
  });
});

describe('after the run', () => {
  it('sent at least 1,000 generated requests', () => {
    console.info(`[fuzz] ${stats.generated} generated cases, ${stats.requests} HTTP requests in total`);
    expect(stats.generated).toBeGreaterThanOrEqual(1000);
  });

  it('left nothing half-written: every resource reads back at its version, with history 1..n of well-formed versions', async () => {
    const { checked, problems } = await storeProblems(gw, api);
    console.info(`[fuzz] store check: ${checked} resources, ${problems.length} problem(s)`);
    expect(problems, `${problems.length} problem(s) in ${checked} stored resources`).toEqual([]);
  }, 60_000);

  it('let no request pollute Object.prototype', () => {
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
