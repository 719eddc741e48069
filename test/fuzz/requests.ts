/** Generated bad HTTP requests, one arbitrary per family of input. */
import fc from 'fast-check';
import { encodeCursor } from '../../src/fhir/cursor.js';
import { resourceTypes } from '../../src/fhir/registry.js';
import type { FuzzRequest } from './harness.js';
import { KINDS, SEED, entryMutation, mutateBundle, referralBundle, standaloneBundle, validResource } from './resources.js';
import { badId, badValue, mutate, mutation, pct, rawNumber, render, weirdString, type Json } from './values.js';

const FHIR_JSON = 'application/fhir+json';
export const SUPPORTED_TYPES = resourceTypes.map((d) => d.type);
const UNSUPPORTED_TYPES = ['Bundle', 'Foo', 'patient', 'Binary', 'OperationOutcome', '$process-message', 'metadata', '_history'];
const anyType = fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...SUPPORTED_TYPES) }, { weight: 1, arbitrary: fc.constantFrom(...UNSUPPORTED_TYPES) });
const kind = fc.constantFrom(...KINDS);
/** Varies business identifiers uniformly, so that creates rarely collide by accident. */
const serial = fc.noBias(fc.nat({ max: 999_999 }));

/** Mostly absent, so that the header under test is not drowned by refusals caused by another one. */
const sometimes = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
const prefer = sometimes(fc.constantFrom('return=minimal', 'return=representation', 'return=OperationOutcome', 'handling=lenient', 'return=bogus', 'handling=strict, return=minimal'));
const accept = sometimes(fc.constantFrom('*/*', FHIR_JSON, 'application/json', 'application/xml', 'text/html', 'application/fhir+json;q=0.5, */*;q=0.1', 'text/csv', ''));

function headers(h: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).filter((e): e is [string, string] => e[1] !== undefined));
}

/** The type and id a document claims, for building its URL. */
function claimed(doc: Json, fallback: string): { type: string; id: string } {
  const o = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? doc : {};
  return {
    type: typeof o.resourceType === 'string' && o.resourceType !== '' ? o.resourceType : fallback,
    id: typeof o.id === 'string' && o.id !== '' ? o.id : 'fuzz-new',
  };
}

/** Task 1a: create/update bodies: arbitrary JSON and mutated valid resources. */
export const resourceWrites: fc.Arbitrary<FuzzRequest> = fc.record({
  doc: fc.oneof(
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => ({ base: 'Patient' as string, json: v as Json })) },
    {
      weight: 5,
      arbitrary: fc.record({ k: kind, n: serial, muts: fc.array(mutation, { minLength: 1, maxLength: 3 }) })
        .map(({ k, n, muts }) => ({ base: k as string, json: mutate({ ...validResource(k, n), id: `fuzz-${n}` }, muts) })),
    },
  ),
  how: fc.constantFrom('create', 'create', 'update', 'update', 'update-other-id', 'create-at-other-type'),
  otherType: anyType,
  prefer,
  contentType: fc.constantFrom(FHIR_JSON, FHIR_JSON, 'application/json', 'application/json; charset=utf-8'),
}).map(({ doc, how, otherType, prefer: p, contentType }): FuzzRequest => {
  const { type, id } = claimed(doc.json, doc.base);
  const h = headers({ 'Content-Type': contentType, Prefer: p });
  switch (how) {
    case 'create': return { method: 'POST', path: `/fhir/${pct(type)}`, headers: h, json: doc.json };
    case 'create-at-other-type': return { method: 'POST', path: `/fhir/${pct(otherType)}`, headers: h, json: doc.json };
    case 'update': return { method: 'PUT', path: `/fhir/${pct(type)}/${pct(id)}`, headers: h, json: doc.json };
    default: return { method: 'PUT', path: `/fhir/${pct(type)}/${SEED.patient}`, headers: h, json: doc.json };
  }
});

const validText = fc.record({ k: kind, n: serial }).map(({ k, n }) => JSON.stringify(validResource(k, n)));
const MALFORMED = ['', '{', '}', '[', '{"resourceType":"Patient",}', "{'resourceType':'Patient'}", 'NaN', 'undefined', '"Patient"', '1', 'true',
  'null', '[]', '{}', '\uFEFF{"resourceType":"Patient"}', '{"resourceType":"Patient"}{"a":1}', '{"resourceType":"Patient","x":01}',
  '\u0000', '{"resourceType":"Patient","name":[{"family":"\\ud800"}]}', '{"resourceType":"Patient","x":"\\u00"}', '{"a":1,"a":2}',
  '{"resourceType":"Patient" "id":"x"}', '{"__proto__":{"polluted":1},"resourceType":"Patient"}', 'resourceType=Patient'];

/** Valid resources but for a number literal JavaScript cannot hold (1e999 parses as Infinity), somewhere. */
const numberEdges: fc.Arbitrary<FuzzRequest> = fc.record({ k: kind, n: serial, at: fc.nat(), raw: rawNumber })
  .map(({ k, n, at, raw }) => ({
    method: 'POST', path: `/fhir/${k}`, headers: { 'Content-Type': FHIR_JSON },
    raw: render(mutate(validResource(k, n), [{ kind: 'addKey', at, key: 'multipleBirthInteger', value: raw }])),
  }));

/** Task 1b: malformed JSON text, odd content types, encodings and charsets. */
const malformedText: fc.Arbitrary<FuzzRequest> = fc.record({
  body: fc.oneof(
    fc.tuple(validText, fc.nat()).map(([t, k]) => t.slice(0, k % t.length)),
    fc.tuple(validText, fc.nat(), fc.string({ unit: 'binary', minLength: 1, maxLength: 3 })).map(([t, k, s]) => t.slice(0, k % t.length) + s + t.slice(k % t.length)),
    fc.tuple(validText, fc.nat(), fc.integer({ min: 1, max: 5 })).map(([t, k, d]) => t.slice(0, k % t.length) + t.slice((k % t.length) + d)),
    fc.constantFrom(...MALFORMED),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.record({ k: kind, n: serial, raw: rawNumber }).map(({ k, n, raw }) => render({ ...validResource(k, n), multipleBirthInteger: raw })),
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  ),
  target: fc.constantFrom<[FuzzRequest['method'], string]>(['POST', '/fhir'], ['POST', '/fhir/Patient'], ['PUT', `/fhir/Patient/${SEED.patient}`],
    ['PATCH', `/fhir/Patient/${SEED.patient}`], ['POST', '/fhir/Task/_search'], ['POST', '/fhir/Observation']),
  contentType: fc.constantFrom(FHIR_JSON, FHIR_JSON, 'application/json', 'application/json-patch+json', 'application/json; charset=latin1',
    'application/fhir+json; charset=utf-16', 'text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data', '',
    'application/fhir+json;fhirVersion=4.0', 'APPLICATION/FHIR+JSON'),
  encoding: sometimes(fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-zip', 'gzip, gzip')),
  accept,
}).map(({ body, target, contentType, encoding, accept: a }) => ({
  method: target[0], path: target[1], raw: body,
  headers: headers({ 'Content-Type': contentType || undefined, 'Content-Encoding': encoding, Accept: a }),
}));
export const malformedBodies = fc.oneof({ weight: 4, arbitrary: malformedText }, { weight: 1, arbitrary: numberEdges });

/** Task 1c: transaction and batch Bundles with broken entries. */
export const bundles: fc.Arbitrary<FuzzRequest> = fc.record({
  type: fc.constantFrom('transaction' as const, 'batch' as const),
  n: serial,
  standalone: fc.oneof(fc.constant(undefined), fc.array(fc.record({ kind, n: serial, how: fc.constantFrom('POST' as const, 'PUT' as const, 'GET' as const) }), { minLength: 1, maxLength: 3 })),
  entryMuts: fc.array(entryMutation, { minLength: 1, maxLength: 2 }),
  // Usually none: one broken entry is enough to fail a transaction, and the others should be reached too.
  muts: fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 2 }) }),
  prefer,
}).map(({ type, n, standalone, entryMuts, muts, prefer: p }) => ({
  method: 'POST', path: '/fhir', headers: headers({ 'Content-Type': FHIR_JSON, Prefer: p }),
  json: mutate(mutateBundle(standalone ? standaloneBundle(type, standalone) : referralBundle(type, n), entryMuts), muts),
}));

const paramNames = [...new Set(resourceTypes.flatMap((d) => d.params.map((p) => p.name)))];
const RESULT_PARAMS = ['_id', '_lastUpdated', '_count', '_sort', '_include', '_revinclude', '_total', '_summary', '_cursor', '_format', '_elements', '_contained', '_has:Task:focus:status'];
const modifier = fc.constantFrom('missing', 'not', 'exact', 'contains', 'text', 'identifier', 'Patient', 'Organization', 'below', 'iterate', 'foo', '', 'Patient:Organization');
const paramKey = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...paramNames, ...RESULT_PARAMS) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...paramNames, ...RESULT_PARAMS), modifier).map(([n, m]) => `${n}:${m}`) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 10 }) },
);
const dateText = fc.oneof(
  fc.constantFrom('2026', '2026-02', '2026-02-28', '2026-02-29', '2026-02-30', '2024-02-29', '2026-13-01', '2026-00-10', '2026-01-32',
    '2026-01-01T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T23:59:60Z', '2026-01-01T10:00', '2026-01-01T10', '2026-01-01T10:00:00+14:00',
    '2026-01-01T10:00:00+99:99', '2026-01-01T10:00:00.123456789Z', '2026-01-01T10:00:00.Z', '0000', '0001-01-01', '9999-12-31T23:59:59.999999Z',
    '26-01-01', '2026/01/01', 'now', '', 'T10:00', '2026-1-1', '+2026', '2026-01-01T10:00:00 +01:00'),
  fc.date({ noInvalidDate: true, min: new Date('0001-01-01'), max: new Date('9999-12-31') }).map((d) => d.toISOString()),
);
const dateValue = fc.tuple(fc.constantFrom('', 'eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap', 'EQ', 'gte', 'xx'), dateText).map(([p, d]) => p + d);
const b64 = (s: string) => Buffer.from(s).toString('base64url');
const cursorValue = fc.oneof(
  fc.constantFrom('', 'x', '!!!', 'eyJ9', '%%', 'null', b64('null'), b64('5'), b64('[]')),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.jsonValue({ maxDepth: 2 }).map((v) => b64(JSON.stringify(v))),
  fc.record({
    s: fc.constantFrom<Json>('default', '_lastUpdated', '-_lastUpdated', 'x', null),
    k: fc.oneof(fc.integer(), fc.double(), fc.constant(2 ** 60), fc.string(), fc.constant(-1)),
    r: fc.oneof(fc.integer(), fc.constant(1.5), fc.constant(Number.MAX_SAFE_INTEGER)),
    t: fc.oneof(fc.integer(), fc.constant(-1), fc.constant(2 ** 60), fc.constant('now')),
  }, { requiredKeys: ['s', 'k', 'r'] }).map((o) => b64(JSON.stringify(o))),
  fc.record({ s: fc.constantFrom('default' as const, '_lastUpdated' as const, '-_lastUpdated' as const), asOf: fc.maxSafeInteger(), key: fc.maxSafeInteger(), rid: fc.maxSafeInteger() })
    .map(({ s, asOf, key, rid }) => encodeCursor(s, { asOf, key, rid })),
);
const longList = fc.record({ n: fc.integer({ min: 2, max: 4000 }), unit: fc.constantFrom('a', 'Patient/x', 'ge2026', '|a', 'x') })
  .map(({ n, unit }) => Array<string>(n).fill(unit).join(','));
const paramValue = fc.oneof(
  dateValue,
  fc.constantFrom('active', 'requested', '|', '||', 'a|', '|a', 'sys|code', 'https://fhir.nhs.uk/Id/nhs-number|9434765919', 'a\\,b', 'a\\', 'a\\|b',
    'a,b', 'a,', '\\', ',', 'a|b|c', 'true', 'false', 'count', 'accurate', 'estimate', 'none', 'json', 'xml'),
  fc.constantFrom(`Patient/${SEED.patient}`, SEED.patient, 'Patient/', '/Patient/1', 'Patient/1/_history/1', `http://signpost.test/fhir/Patient/${SEED.patient}`,
    'http://elsewhere/fhir/Patient/1', 'urn:uuid:x', `Organization/${SEED.organization}`, 'Foo/1', 'Patient/a b', 'x'.repeat(65)),
  fc.constantFrom('0', '1', '2', '50', '1000', '1001', '5000', '-1', '1.5', '1e3', 'abc', '99999999999999999999', '0x10', ' 1', '01'),
  fc.constantFrom('_lastUpdated', '-_lastUpdated', '_id', '-_id', 'status', '_lastUpdated,_id', '-', '--_lastUpdated', '_LASTUPDATED'),
  fc.constantFrom('Task:owner', 'Task:focus', 'Task:owner:Organization', 'Task:owner:Foo', 'Task:*', '*', 'Task', 'Task:', 'Task:status', 'ServiceRequest:patient',
    'ServiceRequest:patient:Patient', 'Provenance:target', 'Foo:bar', ':', 'Task:owner:Organization:extra', 'Task:patient,Task:owner', 'Task:based-on'),
  cursorValue,
  weirdString,
  longList,
);
/** Long enough to go as a form body: tens of thousands of alternatives in one parameter. */
const bigList = fc.record({ n: fc.integer({ min: 1000, max: 50_000 }), key: fc.constantFrom('_id', 'status', 'patient', 'identifier', '_lastUpdated') })
  .map(({ n, key }) => [[key, Array<string>(n).fill(key === 'patient' ? 'Patient/x' : 'a').join(',')] as [string, string]]);
const manyParams = fc.record({ n: fc.integer({ min: 2, max: 1500 }), key: fc.constantFrom('status', '_id', 'foo', '_lastUpdated', 'identifier'), value: fc.constantFrom('a', 'ge2026') })
  .map(({ n, key, value }) => Array.from({ length: n }, () => [key, value] as [string, string]));
const JUNK = ['&', '&&', '=', '==x', '%', '%zz', '%E0%A4', '%00', '&=&', '?', '%23frag', '+', '%2B', ';', '[]=1', 'a[b]=c'];

/** Escapes only what cannot go on the request line, keeping '&', '=', '%' and '+' to confuse the parser. */
const rawEscape = (s: string) => pct(s, /[\x21-\x22\x24-\x7e]/);

/** Task 1d: search query strings over GET and POST _search. */
export const searches: fc.Arbitrary<FuzzRequest> = fc.record({
  type: anyType,
  params: fc.oneof({ weight: 18, arbitrary: fc.array(fc.tuple(paramKey, paramValue), { maxLength: 6 }) }, { weight: 1, arbitrary: manyParams }, { weight: 1, arbitrary: bigList }),
  encoding: fc.constantFrom('standard', 'raw'),
  junk: sometimes(fc.constantFrom(...JUNK)),
  transport: fc.constantFrom('GET', 'GET', 'POST'),
  lenient: fc.boolean(),
  accept,
}).map(({ type, params, encoding, junk, transport, lenient, accept: a }) => {
  const qs = [
    ...params.map(([k, v]) => (encoding === 'standard' ? `${pct(k)}=${pct(v)}` : `${rawEscape(k)}=${rawEscape(v)}`)),
    ...(junk ? [junk] : []),
  ].join('&');
  const h = headers({ Prefer: lenient ? 'handling=lenient' : undefined, Accept: a });
  // Node refuses request lines over 16 KiB before the app sees them, so long queries go as a form.
  if (transport === 'POST' || qs.length > 12_000) {
    return { method: 'POST', path: `/fhir/${pct(type)}/_search`, headers: { ...h, 'Content-Type': 'application/x-www-form-urlencoded' }, raw: qs };
  }
  return { method: 'GET', path: `/fhir/${pct(type)}${qs ? `?${qs}` : ''}`, headers: h };
});

const pointer = fc.oneof(
  fc.constantFrom('', '/', '/name', '/name/0', '/name/0/family', '/name/-', '/name/99', '/name/01', '/status', '/id', '/resourceType', '/meta',
    '/meta/versionId', '/identifier/0/value', '/birthDate', '/~1', '/~2', '/~', '/__proto__/polluted', '/constructor/prototype/polluted',
    '/a/b/c', 'name', '#/name', '/gender', '/contained', '/text', '/for/reference', '/owner'),
  fc.string({ maxLength: 12 }).map((s) => `/${s}`),
);
const patchOp = fc.record({
  op: fc.oneof(fc.constantFrom<Json>('add', 'remove', 'replace', 'move', 'copy', 'test'), fc.constantFrom<Json>('ADD', 'delete', '', 'merge', 5, null)),
  path: fc.oneof({ weight: 5, arbitrary: pointer as fc.Arbitrary<Json> }, { weight: 1, arbitrary: badValue }),
  value: fc.oneof(badValue, fc.constantFrom<Json>('Zed', 'completed', 'cancelled', 'male', { family: 'New' }, [{ family: 'New' }], 'x')),
  from: fc.oneof(pointer as fc.Arbitrary<Json>, badValue),
}, { requiredKeys: ['op'] });

/** Task 1e: JSON Patch bodies against existing, missing and unpatchable resources. */
export const patches: fc.Arbitrary<FuzzRequest> = fc.record({
  target: fc.constantFrom(`Patient/${SEED.patient}`, `Task/${SEED.task}`, `ServiceRequest/${SEED.serviceRequest}`, 'Patient/does-not-exist', 'Patient/bad%20id',
    'AuditEvent/x', 'Foo/1', 'Patient', `Patient/${SEED.patient}/_history/1`),
  body: fc.oneof({ weight: 6, arbitrary: fc.array(patchOp, { maxLength: 5 }) as fc.Arbitrary<Json> }, { weight: 1, arbitrary: badValue }),
  ifMatch: sometimes(fc.constantFrom('W/"1"', 'W/"2"', '*', 'W/"x"', '', '"99"')),
  contentType: fc.constantFrom('application/json-patch+json', 'application/json-patch+json', 'application/json', FHIR_JSON),
}).map(({ target, body, ifMatch, contentType }) => ({
  method: 'PATCH', path: `/fhir/${target}`, json: body, headers: headers({ 'Content-Type': contentType, 'If-Match': ifMatch }),
}));

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const ifMatch = fc.oneof(fc.constantFrom('', '*', 'W/"1"', '"1"', '1', 'W/"0"', '0', 'W/"abc"', 'W/', 'W/"', '"', 'W/"1", W/"2"', 'W/"99999999999999999999"',
  'W/"-1"', ' W/"1" ', 'w/"1"', 'W/"1.0"', 'W/"1e3"', 'W/"999999999999999"'), printable);
const ifNoneExist = fc.oneof(fc.constantFrom('', '?', 'identifier=', 'identifier=|', '_id=', '_count=1', '_sort=_lastUpdated', '_summary=count',
  'Patient?identifier=x', 'foo=bar', '_cursor=zzz', '_id=fuzz-patient-1', `identifier=https://fhir.nhs.uk/Id/nhs-number|`, '_lastUpdated=gt2026-02-30',
  'status=a,b', 'identifier=a&identifier=b', '_include=Patient:organization', '_total=accurate', 'identifier:missing=true', '_id=a,b,c',
  'identifier=https://fuzz.example/referral|ref-1'), printable);

/** Task 1f: bad If-Match on update and patch, bad If-None-Exist on create. */
export const conditionalHeaders: fc.Arbitrary<FuzzRequest> = fc.record({
  k: kind, n: serial,
  how: fc.constantFrom('create', 'update', 'patch'),
  ifMatch, ifNoneExist,
}).map(({ k, n, how, ifMatch: im, ifNoneExist: ine }): FuzzRequest => {
  const h = { 'Content-Type': FHIR_JSON };
  if (how === 'create') return { method: 'POST', path: `/fhir/${k}`, json: validResource(k, n), headers: { ...h, 'If-None-Exist': ine } };
  if (how === 'patch') {
    return { method: 'PATCH', path: `/fhir/Patient/${SEED.patient}`, json: [{ op: 'replace', path: '/name/0/family', value: `F${n}` }], headers: { 'Content-Type': 'application/json-patch+json', 'If-Match': im } };
  }
  return { method: 'PUT', path: `/fhir/${k}/fuzz-cond-${k}`, json: { ...validResource(k, n), id: `fuzz-cond-${k}` }, headers: { ...h, 'If-Match': im, 'If-None-Exist': ine } };
});

const segment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SUPPORTED_TYPES, ...UNSUPPORTED_TYPES) },
  { weight: 3, arbitrary: fc.constantFrom(SEED.patient, SEED.task, 'x', '1', '_history', '_search', '$everything', '$validate', '$process-message', 'metadata',
    '.well-known', 'smart-configuration', '..', '.', '', '%', '%zz', '%E0', '%00', '%2F', '%25', '%2e%2e', '*', ';', 'x'.repeat(200)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }).map((s) => pct(s)) },
  { weight: 1, arbitrary: badId.map((v) => pct(String(v))) },
);

/** Task 1g: random paths and methods under /fhir. */
export const randomPaths: fc.Arbitrary<FuzzRequest> = fc.record({
  segments: fc.array(segment, { minLength: 0, maxLength: 6 }),
  query: sometimes(fc.constantFrom('_count=1', '_format=json', '_format=xml', '_since=2026', '_since=bad', '_cursor=abc', 'x=y', '_count=abc')),
  method: fc.constantFrom<FuzzRequest['method']>('GET', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
  body: sometimes(fc.oneof(fc.constant<Json>({ resourceType: 'Patient' }), badValue)),
}).map(({ segments, query, method, body }): FuzzRequest => {
  const path = `/fhir/${segments.join('/')}${query ? `?${query}` : ''}`;
  const withBody = body !== undefined && method !== 'GET' && method !== 'DELETE' && method !== 'OPTIONS';
  return {
    method, path,
    ...(withBody ? { json: body, headers: { 'Content-Type': method === 'PATCH' ? 'application/json-patch+json' : FHIR_JSON } } : {}),
  };
});
