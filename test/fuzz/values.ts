/**
 * Bad JSON values and mutations of good documents. Large or deep values are generated as small
 * sentinels ("@@deep:5000:array@@") and expanded only when the body is rendered, so counterexamples
 * stay readable and shrink on a number rather than on a megabyte of text.
 */
import fc from 'fast-check';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const HUGE_UNITS = ['x', 'é', '😀', ' ', '\\u0000', '\\"'] as const;
/** Number literals JSON allows but JavaScript cannot hold exactly (1e999 parses as Infinity). */
export const RAW_NUMBERS = ['1e999', '-1e999', '-0', '1E400', '1e-400', '123456789012345678901234567890', '0.00000000000000000000000000001'] as const;

/** JSON text of a generated document, with sentinels expanded. */
export function render(v: Json): string {
  return JSON.stringify(v)
    .replace(/"@@deep:(\d+):(array|object)@@"/g, (_, n: string, kind: string) => (kind === 'array'
      ? `${'['.repeat(Number(n))}1${']'.repeat(Number(n))}`
      : `${'{"a":'.repeat(Number(n))}1${'}'.repeat(Number(n))}`))
    .replace(/"@@huge:(\d+):(\d)@@"/g, (_, n: string, u: string) => `"${(HUGE_UNITS[Number(u)] ?? 'x').repeat(Number(n))}"`)
    .replace(/"@@raw:(\d)@@"/g, (_, i: string) => RAW_NUMBERS[Number(i)] ?? '0');
}

/** Percent-encodes every UTF-8 byte except the unreserved characters (lone surrogates become U+FFFD). */
export function pct(s: string, keep = /[A-Za-z0-9\-._~]/): string {
  let out = '';
  for (const ch of s) {
    if (keep.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export const deepValue = fc.record({
  depth: fc.oneof(fc.integer({ min: 2, max: 64 }), fc.integer({ min: 64, max: 100_000 })),
  kind: fc.constantFrom('array', 'object'),
}).map(({ depth, kind }) => `@@deep:${depth}:${kind}@@`);

export const hugeString = fc.record({
  size: fc.oneof(fc.integer({ min: 1_000, max: 300_000 }), fc.integer({ min: 900_000, max: 1_100_000 })),
  unit: fc.nat({ max: HUGE_UNITS.length - 1 }),
}).map(({ size, unit }) => `@@huge:${size}:${unit}@@`);

export const rawNumber = fc.nat({ max: RAW_NUMBERS.length - 1 }).map((i) => `@@raw:${i}@@`);

export const weirdString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('', ' ', '\t', '\u0000', '\ud800', 'null', 'undefined', '[]', '{}', 'é', '😀', '\u202e', '<script>',
    "'; drop table resource; --", '%00', '%E0', '../..', '\\', 'urn:uuid:00000000-0000-0000-0000-000000000000'),
);

export const badValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<Json>(null, '', [], {}, [null], [[]], [{}], [''], { reference: 5 }, 0, -1, true, false, 1.5, '   ') },
  { weight: 2, arbitrary: weirdString },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
  { weight: 1, arbitrary: deepValue },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: rawNumber },
);

export const badId: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>('', ' ', 'a b', 'x'.repeat(65), '../x', 'é', '$x', 'a/b', 'a_b', '-', '.', '..', 'a?b', 'a#b', '%41', 5, null, true, ['x'], {}),
  fc.string({ unit: 'binary', maxLength: 70 }),
);

export const badReference: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(5, null, '', {}, [], true, ['Patient/1'], { reference: 'Patient/1' }),
  fc.constantFrom('urn:uuid:6f1c4a4e-0000-4000-8000-000000000000', 'urn:uuid:', 'urn:oid:1.2', 'Patient/', '/Patient/x', 'Patient/a b',
    'patient/x', 'Patient/x/_history/y', 'http://elsewhere/fhir/Patient/x', 'http://signpost.test/fhir/Patient/nope', '#missing',
    'Patient?identifier=x', 'Patient?', 'Foo/1', `Patient/${'x'.repeat(65)}`),
  weirdString,
);

const OTHER_TYPES = ['Bundle', 'Foo', 'patient', 'PATIENT', 'Binary', 'OperationOutcome', 'Parameters', 'Patient ', 'AuditEvent', 'Provenance'];
export const badResourceType: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(...OTHER_TYPES, null, 5, '', ['Patient'], {}),
  fc.constantFrom('Patient', 'Task', 'ServiceRequest', 'Consent', 'Organization', 'Observation'),
);

const key = fc.oneof(
  fc.constantFrom('resourceType', 'id', 'meta', 'reference', 'contained', 'extension', 'modifierExtension', '__proto__', 'constructor',
    'prototype', 'status', '_status', '', ' ', 'a.b', 'fhir_comments', 'text', 'implicitRules'),
  fc.string({ maxLength: 10 }),
);

/** A change to a document; `at` picks a node (modulo the number of nodes), so it shrinks to the root. */
export type Mutation =
  | { kind: 'set'; at: number; value: Json }
  | { kind: 'delete'; at: number }
  | { kind: 'addKey'; at: number; key: string; value: Json }
  | { kind: 'wrap'; at: number }
  | { kind: 'ref'; at: number; value: Json }
  | { kind: 'resourceType'; value: Json }
  | { kind: 'id'; value: Json };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: badValue }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('addKey' as const), at: fc.nat(), key, value: badValue }),
  fc.record({ kind: fc.constant('wrap' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('ref' as const), at: fc.nat(), value: badReference }),
  fc.record({ kind: fc.constant('resourceType' as const), value: badResourceType }),
  fc.record({ kind: fc.constant('id' as const), value: badId }),
);

type Path = (string | number)[];
const isObj = (v: Json | undefined): v is { [k: string]: Json } => v !== null && typeof v === 'object' && !Array.isArray(v);

function nodes(v: Json, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((c, i) => nodes(c, [...at, i], out));
  else if (isObj(v)) for (const k of Object.keys(v)) nodes(v[k] as Json, [...at, k], out);
  return out;
}

function get(root: Json, path: Path): Json | undefined {
  let cur: Json | undefined = root;
  for (const p of path) cur = Array.isArray(cur) ? cur[p as number] : isObj(cur) ? cur[p as string] : undefined;
  return cur;
}

/** Sets an own property, even one named __proto__. */
function put(parent: Json | undefined, k: string | number, value: Json): void {
  if (Array.isArray(parent) && typeof k === 'number') parent[k] = value;
  else if (isObj(parent)) Object.defineProperty(parent, k, { value, enumerable: true, writable: true, configurable: true });
}

function applyOne(doc: Json, m: Mutation): Json {
  if (m.kind === 'resourceType' || m.kind === 'id') {
    if (isObj(doc)) put(doc, m.kind, m.value);
    return doc;
  }
  let all = nodes(doc);
  if (m.kind === 'ref') {
    const refs = all.filter((p) => p.at(-1) === 'reference');
    if (refs.length === 0) {
      if (isObj(doc)) put(doc, 'subject', { reference: m.value });
      return doc;
    }
    all = refs;
  }
  const path = all[m.at % all.length] ?? [];
  const target = get(doc, path);
  if (path.length === 0) {
    if (m.kind === 'set') return m.value;
    if (m.kind === 'delete') return {};
    if (m.kind === 'wrap') return [doc];
    if (m.kind === 'addKey' && isObj(doc)) put(doc, m.key, m.value);
    return doc;
  }
  const parent = get(doc, path.slice(0, -1));
  const last = path.at(-1) as string | number;
  switch (m.kind) {
    case 'set':
    case 'ref':
      put(parent, last, m.value);
      break;
    case 'delete':
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else if (isObj(parent)) delete parent[last as string];
      break;
    case 'wrap':
      put(parent, last, Array.isArray(target) && target.length > 0 ? (target[0] as Json) : [target as Json]);
      break;
    case 'addKey':
      if (isObj(target)) put(target, m.key, m.value);
      else put(parent, last, { [m.key]: m.value });
      break;
  }
  return doc;
}

export function mutate(doc: Json, mutations: readonly Mutation[]): Json {
  let out = JSON.parse(JSON.stringify(doc)) as Json;
  for (const m of mutations) out = applyOne(out, m);
  return out;
}
