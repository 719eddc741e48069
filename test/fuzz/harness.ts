/**
 * The fuzzing harness: how a generated request is sent, what every answer must look like, how a
 * property is run with a deterministic, printed seed, and what the store must look like afterwards.
 */
import http from 'node:http';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import request from 'supertest';
import type { Express } from 'express';
import { BASE_URL, type TestGateway } from '../fixtures/gateway.js';
import { ID_PATTERN } from '../../src/fhir/validate.js';
import { pct, render, type Json } from './values.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

/** One HTTP request as generated: the body is JSON with sentinels (see render) or raw text/bytes. */
export interface FuzzRequest {
  method: Method;
  /** Path and query, already percent-encoded as it goes on the wire. */
  path: string;
  headers?: Record<string, string>;
  json?: Json;
  raw?: string | Buffer;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** A broken promise; `kind` (plus the server's exception for a 5xx) is what tells two bugs apart. */
export interface Problem {
  kind: string;
  detail: string;
}

/** Base seed of every property: FUZZ_SEED=<n> changes it; each property derives its own from it. */
export const BASE_SEED = Number(process.env.FUZZ_SEED ?? 20_260_214);
/** FUZZ_SCALE=10 runs ten times as many cases (a soak); the default keeps the file under a minute. */
export const SCALE = Number(process.env.FUZZ_SCALE ?? 1);

export const stats = { requests: 0, generated: 0 };

/** What the server logged for a request it answered with a 5xx: the exception behind it. */
export interface ServerError {
  type?: string;
  message?: string;
  stack?: string;
}

export interface Client {
  send(req: FuzzRequest): Promise<Answer>;
  close(): Promise<void>;
}

/** One listening server for the whole file (supertest would otherwise open one per request). */
export async function client(app: Express): Promise<Client> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const agent = request(server);
  return {
    async send(req) {
      stats.requests++;
      const m = req.method.toLowerCase() as Lowercase<Method>;
      let test = agent[m](req.path).buffer(true).parse((res, cb) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => { text += chunk; });
        res.on('end', () => cb(null, text));
      });
      for (const [k, v] of Object.entries(req.headers ?? {})) test = test.set(k, v);
      const body = req.raw ?? (req.json !== undefined ? render(req.json) : undefined);
      const res = body === undefined ? await test : await test.send(body);
      return { status: res.status, headers: res.headers as Record<string, string>, text: typeof res.body === 'string' ? res.body : res.text ?? '' };
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** A compact description of a request for failure messages (bodies can be a megabyte). */
export function describeRequest(req: FuzzRequest): string {
  const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n)}…[${s.length} chars]…${s.slice(-80)}`);
  const body = req.raw !== undefined
    ? (typeof req.raw === 'string' ? JSON.stringify(clip(req.raw, 400)) : `<${req.raw.length} bytes: ${req.raw.subarray(0, 40).toString('hex')}>`)
    : req.json !== undefined ? clip(JSON.stringify(req.json), 600) : '';
  const headers = Object.entries(req.headers ?? {}).map(([k, v]) => `${k}: ${JSON.stringify(clip(v, 120))}`).join('; ');
  return `${req.method} ${clip(req.path, 300)}${headers ? ` [${headers}]` : ''}${body ? ` body=${body}` : ''}`;
}

export function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The FHIR JSON rules (http://hl7.org/fhir/R4/json.html) checked independently of the server's own
 * validator, and without recursion, so that a deep document cannot overflow the oracle itself.
 */
export function jsonRuleViolations(root: unknown, rootPath: string): { at: string; rule: string }[] {
  const out: { at: string; rule: string }[] = [];
  const stack: [unknown, string][] = [[root, rootPath]];
  while (stack.length > 0 && out.length < 5) {
    const [v, at] = stack.pop()!;
    if (v === null) out.push({ at, rule: 'null' });
    else if (v === '') out.push({ at, rule: 'empty string' });
    else if (Array.isArray(v)) {
      if (v.length === 0) out.push({ at, rule: 'empty array' });
      v.forEach((c, i) => stack.push([c, `${at}[${i}]`]));
    } else if (typeof v === 'object') {
      const entries = Object.entries(v);
      if (entries.length === 0) out.push({ at, rule: 'empty object' });
      for (const [k, c] of entries) {
        if (k === 'reference' && typeof c !== 'string') out.push({ at: `${at}.reference`, rule: 'reference not a string' });
        stack.push([c, `${at}.${k}`]);
      }
    }
  }
  return out;
}

/**
 * What every answer to bad (or accidentally valid) input must obey: a 2xx or 4xx, never 5xx; any error
 * is an OperationOutcome (FHIR JSON) with a non-empty issue list, each issue with code and diagnostics,
 * and any expression a non-empty FHIRPath.
 */
export function answerProblems(res: Answer): Problem[] {
  const out: Problem[] = [];
  if (res.status >= 500) out.push({ kind: '5xx', detail: `status ${res.status} for client input` });
  else if (!(res.status >= 200 && res.status < 300) && !(res.status >= 400 && res.status < 500)) out.push({ kind: 'status', detail: `status ${res.status} is neither 2xx nor 4xx` });
  const type = res.headers['content-type'] ?? '';
  if (res.status >= 400) {
    if (!/^application\/(fhir\+)?json/.test(type)) out.push({ kind: 'error-content-type', detail: `error content-type is '${type}'` });
    const body = parse(res.text) as { resourceType?: unknown; issue?: unknown } | undefined;
    if (!body || body.resourceType !== 'OperationOutcome') out.push({ kind: 'not-operation-outcome', detail: `error body: ${res.text.slice(0, 200)}` });
    else if (!Array.isArray(body.issue) || body.issue.length === 0) out.push({ kind: 'empty-issue', detail: 'OperationOutcome.issue is empty' });
    else {
      body.issue.forEach((issue: { code?: unknown; diagnostics?: unknown; expression?: unknown }, i: number) => {
        if (typeof issue?.code !== 'string' || issue.code === '') out.push({ kind: 'issue-code', detail: `issue[${i}] has no code` });
        if (typeof issue?.diagnostics !== 'string' || issue.diagnostics === '') out.push({ kind: 'issue-diagnostics', detail: `issue[${i}] has no diagnostics` });
        if (issue?.expression !== undefined && (!Array.isArray(issue.expression) || !issue.expression.every((e) => typeof e === 'string' && e !== ''))) {
          out.push({ kind: 'issue-expression', detail: `issue[${i}].expression ${JSON.stringify(issue.expression)} is not a list of non-empty FHIRPath expressions` });
        }
      });
    }
  } else if (res.status >= 200 && res.status < 300 && res.text !== '') {
    const body = parse(res.text) as { resourceType?: unknown } | undefined;
    if (typeof body?.resourceType !== 'string') out.push({ kind: '2xx-not-resource', detail: `2xx body: ${res.text.slice(0, 200)}` });
  }
  return out;
}

/** The server-relative path of one of our absolute URLs (Location, fullUrl, link). */
export function localPath(url: string): string | undefined {
  return url.startsWith(`${BASE_URL}/fhir/`) ? url.slice(BASE_URL.length) : undefined;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Where two JSON values first differ ("" when they are equal). */
function difference(a: unknown, b: unknown, at: string): string | undefined {
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${at} has ${b.length} item(s), not ${a.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = difference(a[i], b[i], `${at}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = difference(a[k], b[k], `${at}.${k}`);
      if (d) return d;
    }
    return undefined;
  }
  const show = (v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v) ?? String(v));
  return a === b ? undefined : `${at} was sent as ${show(a)} but stored as ${show(b)}`; // -0 === 0: JSON has one zero
}

/** A created or updated resource is stored as sent: only id, meta.versionId and meta.lastUpdated are the server's. */
function fidelityProblems(sent: unknown, stored: unknown, type: string): Problem[] {
  if (!isObj(sent) || !isObj(stored)) return [];
  const { id: _sentId, meta: sentMeta, ...sentRest } = sent;
  const { id: _storedId, meta: storedMeta, ...storedRest } = stored;
  const out: Problem[] = [];
  try {
    const d = difference(sentRest, storedRest, type);
    if (d) out.push({ kind: 'not-stored-as-sent', detail: d });
    if (sentMeta !== undefined) {
      const { versionId: _v1, lastUpdated: _l1, ...keptMeta } = isObj(storedMeta) ? storedMeta : {};
      if (!isObj(sentMeta)) out.push({ kind: 'meta-not-an-object-accepted', detail: `meta ${JSON.stringify(sentMeta)} was accepted and stored as ${JSON.stringify(storedMeta)}` });
      else {
        const { versionId: _v2, lastUpdated: _l2, ...sentKept } = sentMeta;
        const dm = difference(sentKept, keptMeta, `${type}.meta`);
        if (dm) out.push({ kind: 'not-stored-as-sent', detail: dm });
      }
    }
  } catch (e) {
    if (!(e instanceof RangeError)) throw e; // too deep to compare here; the JSON rules still apply
  }
  return out;
}

/** After a write answered 2xx: the version it names is there, readable, well-formed, and (given `sent`) as sent. */
export async function writtenProblems(api: Client, location: string, etag: string | undefined, sent?: unknown): Promise<Problem[]> {
  const path = localPath(location);
  if (!path) return [{ kind: 'foreign-location', detail: `Location ${location} is not under ${BASE_URL}/fhir` }];
  const m = /^\/fhir\/([^/]+)\/([^/]+)(?:\/_history\/([^/]+))?$/.exec(path.split('?')[0] ?? '');
  if (!m) return [{ kind: 'malformed-location', detail: `Location ${location} is not Type/id[/_history/v]` }];
  const [, type = '', id = ''] = m;
  if (!ID_PATTERN.test(id)) {
    return [{ kind: 'acknowledged-invalid-id', detail: `the server wrote ${type}/${JSON.stringify(id)}: not a FHIR id, so it can never be read back` }];
  }
  const res = await api.send({ method: 'GET', path: `/fhir/${type}/${id}` });
  if (res.status !== 200) return [{ kind: 'unreadable-write', detail: `acknowledged ${type}/${id} reads back as ${res.status} ${res.text.slice(0, 200)}` }];
  const body = parse(res.text) as fhir4.Resource | undefined;
  const out: Problem[] = [];
  const acknowledged = /^W\/"(\d+)"$/.exec(etag ?? '')?.[1];
  if (acknowledged !== undefined && Number(body?.meta?.versionId) < Number(acknowledged)) {
    out.push({ kind: 'stale-read', detail: `read back version ${body?.meta?.versionId} is older than the acknowledged ${etag}` });
  }
  for (const v of jsonRuleViolations(body, type)) out.push({ kind: `stored JSON has ${v.rule}`, detail: `${type}/${id} as stored: ${v.rule} at ${v.at}` });
  if (sent !== undefined) out.push(...fidelityProblems(sent, body, type));
  return out;
}

/** The fuzz tests read the SQLite file directly, after every request: they run on the SQLite store only. */
function sqliteFile(gw: TestGateway): string {
  if (!gw.db.file) throw new Error('the fuzz tests run on the SQLite store (SIGNPOST_TEST_STORE unset)');
  return gw.db.file;
}

/** Counts stored versions (AuditEvents aside: refusals may be audited) through a read-only connection. */
export function versionCounter(gw: TestGateway): { count(): number; close(): void } {
  const db = new Database(sqliteFile(gw), { readonly: true, fileMustExist: true });
  const stmt = db.prepare("select count(*) as n from resource_version where type <> 'AuditEvent'");
  return { count: () => Number((stmt.get() as { n: number }).n), close: () => db.close() };
}

/**
 * Nothing half-written: every current resource reads back at its current version, its history holds
 * exactly versions 1..n (as the DB rows do), and each stored version is well-formed FHIR JSON.
 */
export async function storeProblems(gw: TestGateway, api: Client): Promise<{ checked: number; problems: string[] }> {
  const db = new Database(sqliteFile(gw), { readonly: true, fileMustExist: true });
  let resources: { rid: number; type: string; id: string; version: number }[];
  let versions: { rid: number; version: number; type: string; id: string; json: string }[];
  try {
    resources = db.prepare('select rid, type, id, version from resource order by rid').all() as typeof resources;
    versions = db.prepare('select rid, version, type, id, json from resource_version order by rid, version').all() as typeof versions;
  } finally {
    db.close();
  }
  const problems: string[] = [];
  const byRid = new Map<number, typeof versions>();
  for (const v of versions) byRid.set(v.rid, [...(byRid.get(v.rid) ?? []), v]);
  for (const r of resources) {
    const key = `${r.type}/${JSON.stringify(r.id)}`;
    const rows = byRid.get(r.rid) ?? [];
    byRid.delete(r.rid);
    if (!ID_PATTERN.test(r.id)) problems.push(`${key}: stored under an id that is not a FHIR id`);
    if (rows.map((v) => v.version).join(',') !== Array.from({ length: r.version }, (_, i) => i + 1).join(',')) {
      problems.push(`${key}: current version ${r.version} but stored versions [${rows.map((v) => v.version).join(',')}]`);
    }
    for (const v of rows) {
      const res = parse(v.json) as fhir4.Resource | undefined;
      if (!res || res.resourceType !== r.type || res.id !== r.id || res.meta?.versionId !== String(v.version)) {
        problems.push(`${key} version ${v.version}: stored JSON does not carry its own type, id and versionId`);
      }
      for (const bad of jsonRuleViolations(res, r.type)) problems.push(`${key} version ${v.version}: stored JSON breaks FHIR JSON rules: ${bad.rule} at ${bad.at}`);
    }
    const path = `/fhir/${pct(r.type)}/${pct(r.id)}`;
    const read = await api.send({ method: 'GET', path });
    const body = parse(read.text) as fhir4.Resource | undefined;
    if (read.status !== 200) problems.push(`${key}: GET ${path} answers ${read.status}`);
    else if (body?.meta?.versionId !== String(r.version)) problems.push(`${key}: read meta.versionId ${body?.meta?.versionId} but current version is ${r.version}`);
    const hist = await api.send({ method: 'GET', path: `${path}/_history?_count=1000` });
    const bundle = parse(hist.text) as fhir4.Bundle | undefined;
    if (hist.status !== 200) problems.push(`${key}: GET ${path}/_history answers ${hist.status}`);
    else if ((bundle?.entry?.length ?? 0) !== r.version) {
      problems.push(`${key}: history has ${bundle?.entry?.length ?? 0} entries but meta.versionId is ${r.version}`);
    }
  }
  for (const [rid, rows] of byRid) problems.push(`resource_version rows for rid ${rid} (${rows[0]?.type}/${rows[0]?.id}) belong to no resource`);
  return { checked: resources.length, problems };
}

/** What a 2xx promises beyond its own shape: writes read back whole, bundle entries likewise, next pages work. */
async function followUps(api: Client, req: FuzzRequest, res: Answer): Promise<Problem[]> {
  const out: Problem[] = [];
  const etag = res.headers.etag;
  // What the server parsed: the rendered text read back (so 1e999 is Infinity here too).
  const sent = req.json !== undefined && (res.status === 201 || req.method === 'PUT') ? parse(render(req.json)) : undefined;
  if (res.headers.location) out.push(...await writtenProblems(api, res.headers.location, etag, sent));
  else if ((req.method === 'PUT' || req.method === 'PATCH') && etag) out.push(...await writtenProblems(api, `${BASE_URL}${req.path}`, etag, sent));
  const body = parse(res.text) as fhir4.Bundle | undefined;
  if (body?.resourceType !== 'Bundle') return out;
  for (const [i, e] of (body.entry ?? []).entries()) {
    const status = e.response?.status;
    if (status !== undefined && !/^[24]\d\d\b/.test(status)) out.push({ kind: 'entry-status', detail: `entry[${i}].response.status is ${status}` });
    if (e.response?.location && /^2/.test(status ?? '')) {
      for (const p of await writtenProblems(api, `${BASE_URL}/fhir/${e.response.location}`, e.response.etag)) out.push({ ...p, detail: `entry[${i}]: ${p.detail}` });
    }
  }
  const next = body.link?.find((l) => l.relation === 'next')?.url;
  const nextPath = next === undefined ? undefined : localPath(next);
  if (next !== undefined && !nextPath) out.push({ kind: 'next-link-foreign', detail: `next link ${next} is not ours` });
  if (nextPath) {
    const page = await api.send({ method: 'GET', path: nextPath, headers: req.headers?.Prefer ? { Prefer: req.headers.Prefer } : {} });
    if (page.status !== 200) out.push({ kind: 'next-link-fails', detail: `the next link answers ${page.status}: ${page.text.slice(0, 200)}` });
    for (const p of answerProblems(page)) out.push({ ...p, detail: `next page: ${p.detail}` });
  }
  return out;
}

/** Normalises a message so that two occurrences of one bug compare equal. */
function normalise(s: string): string {
  return s.replace(/'[^']*'/g, "'…'").replace(/"[^"]*"/g, '"…"').replace(/\d+/g, '#').slice(0, 160);
}

/** The file where the exception arose, in our code if it passed through it: "src/fhir/bundle.ts". */
export function originFile(stack: string | undefined): string {
  const frames = (stack ?? '').split('\n').filter((l) => l.trim().startsWith('at '));
  const pick = frames.find((l) => l.includes('/src/')) ?? frames.find((l) => l.includes('/node_modules/'));
  const m = pick === undefined ? null : /\/((?:src|node_modules)\/[^:]+)/.exec(pick);
  return m?.[1] ?? 'node internals';
}

/** How a 5xx is told from other 5xx: the exception type, its message if it arose in our code or a package, and where. */
function causeSignature(err: ServerError): string {
  const file = originFile(err.stack);
  return `${err.type ?? 'Error'}${file === 'node internals' ? '' : `: ${normalise(err.message ?? '')}`} @ ${file}`;
}

/** Thrown by a failing case: the signature tells this bug from others, so each is reported once. */
export class CaseFailure extends Error {
  constructor(readonly signature: string, message: string) {
    super(message);
  }
}

/**
 * Sends one generated request and checks everything the contract promises about the answer: its
 * shape, that a refusal wrote nothing (transactions are all-or-nothing), and the 2xx follow-ups.
 */
export function exchanger(api: Client, versions: { count(): number }, serverError: (requestId: string) => ServerError | undefined) {
  return async (req: FuzzRequest): Promise<Answer> => {
    const before = versions.count();
    const res = await api.send(req);
    const problems = answerProblems(res);
    if (res.status >= 400 && versions.count() !== before) problems.push({ kind: 'refusal-wrote', detail: `a refused request (${res.status}) wrote ${versions.count() - before} version(s)` });
    if (res.status >= 200 && res.status < 300) problems.push(...await followUps(api, req, res));
    if (problems.length === 0) return res;
    const err = res.status >= 500 ? serverError(res.headers['x-request-id'] ?? '') : undefined;
    // A 5xx is identified by its exception alone; what else went wrong is a consequence of it.
    const signature = res.status >= 500
      ? `5xx <- ${err ? causeSignature(err) : 'no exception logged'}`
      : [...new Set(problems.map((p) => p.kind))].sort().join(' + ');
    throw new CaseFailure(signature, [
      problems.map((p) => p.detail).join('; '),
      `    answer: ${res.status} ${res.text.slice(0, 300)}`,
      ...(err ? [`    server exception: ${err.type}: ${err.message}`, `    at: ${(err.stack ?? '').split('\n').filter((l) => l.includes('/src/') || l.includes('node_modules')).slice(0, 4).map((l) => l.trim()).join(' | ')}`] : []),
    ].join('\n'));
  };
}

function hashName(name: string): number {
  let h = 0;
  for (const ch of name) h = (Math.imul(h, 31) + ch.charCodeAt(0)) | 0;
  return h;
}

export interface Finding {
  property: string;
  signature: string;
  seed: number;
  path: string;
  runs: number;
  shrinks: number;
  counterexample: string;
  message: string;
}

/**
 * Runs one property with a seed derived from BASE_SEED and the property's name. A failure is shrunk
 * and recorded; the property is then run again (next seed) with that failure's signature known, so
 * one bug does not hide the others behind it. Throws, listing every distinct failure with its seed,
 * replay path and shrunk counterexample, if there was any.
 */
export async function runProperty<T>(
  name: string, arb: fc.Arbitrary<T>, describe: (v: T) => string, predicate: (v: T) => Promise<void>, numRuns: number, maxRounds = 8,
): Promise<Finding[]> {
  const known = new Set<string>();
  const findings: Finding[] = [];
  // FUZZ_REPLAY="<property>|<seed>|<path>" replays one shrunk counterexample printed by a failure.
  const [replayName, replaySeed, replayPath] = (process.env.FUZZ_REPLAY ?? '').split('|');
  const replay = replayName === name && replaySeed !== undefined && replayPath !== undefined;
  for (let round = 0; round < (replay ? 1 : maxRounds); round++) {
    const seed = replay ? Number(replaySeed) : ((BASE_SEED ^ hashName(name)) + round) | 0;
    const details = await fc.check(fc.asyncProperty(arb, async (v) => {
      stats.generated++;
      try {
        await predicate(v);
      } catch (e) {
        if (e instanceof CaseFailure && known.has(e.signature)) return; // reported already
        throw e;
      }
    }), { seed, numRuns: Math.ceil(numRuns * SCALE), ...(replay ? { path: replayPath, endOnFailure: true } : {}) });
    if (!details.failed) break;
    const e = details.errorInstance;
    const signature = e instanceof CaseFailure ? e.signature : `exception in the test: ${String(e)}`;
    findings.push({
      property: name, signature, seed: details.seed, path: details.counterexamplePath ?? '', runs: details.numRuns, shrinks: details.numShrinks,
      counterexample: details.counterexample ? describe(details.counterexample[0]) : '(none)',
      message: e instanceof Error ? e.message : String(e),
    });
    if (!(e instanceof CaseFailure)) break;
    known.add(signature);
  }
  if (findings.length > 0) {
    const message = [`Property '${name}' found ${findings.length} distinct failure(s) (FUZZ_SEED=${BASE_SEED}):`, ...findings.map((f, i) => [
      `#${i + 1} ${f.signature}`,
      `  seed ${f.seed}, path ${JSON.stringify(f.path)}; failed at run ${f.runs}, shrunk ${f.shrinks} times`,
      `  replay: FUZZ_REPLAY=${JSON.stringify(`${name}|${f.seed}|${f.path}`)} npx vitest run test/fuzz/bad-input.test.ts`,
      `  counterexample: ${f.counterexample}`,
      `  error: ${f.message}`,
    ].join('\n'))].join('\n');
    console.error(message);
    throw new Error(message);
  }
  return findings;
}
