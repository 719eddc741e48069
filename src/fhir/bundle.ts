import { randomUUID } from 'node:crypto';
import type { StoreTx } from '../store/store.js';
import { dispatch, parseRequestUrl } from './dispatch.js';
import { FhirError, operationOutcome, type Issue } from './errors.js';
import { interactionCode, type Caller, type FhirContext, type FhirRequest, type FhirResult } from './interaction.js';
import { create, findExisting, requireType, resultOf } from './resource-interactions.js';

type Entry = fhir4.BundleEntry;
type Method = FhirRequest['method'];

/** Processing order of transaction entries (R4 http.html#trules): deletes, creates, updates, reads. */
const ORDER: Record<Method, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3 };

/** Re-roots an entry's error expressions at the entry, so the client sees which entry is at fault. */
function atEntry(err: FhirError, index: number, type: string | undefined): FhirError {
  const issues: Issue[] = err.issues.map((i) => ({
    ...i,
    diagnostics: `Bundle.entry[${index}]: ${i.diagnostics}`,
    expression: (i.expression ?? [type ?? '']).map((e) =>
      e.startsWith('Bundle.') ? e : type && (e === type || e.startsWith(`${type}.`) || e.startsWith(`${type}[`))
        ? `Bundle.entry[${index}].resource${e.slice(type.length)}`
        : `Bundle.entry[${index}].request.url`),
  }));
  return FhirError.many(err.status, issues);
}

function entryRequest(entry: Entry, index: number, caller: Caller): FhirRequest {
  if (entry.fullUrl !== undefined && typeof entry.fullUrl !== 'string') {
    throw new FhirError(400, 'structure', `Bundle.entry[${index}].fullUrl must be a string`, `Bundle.entry[${index}].fullUrl`);
  }
  const r = entry.request;
  for (const key of ['ifMatch', 'ifNoneExist', 'ifNoneMatch', 'ifModifiedSince'] as const) {
    if (r && r[key] !== undefined && typeof r[key] !== 'string') {
      throw new FhirError(400, 'structure', `Bundle.entry[${index}].request.${key} must be a string`, `Bundle.entry[${index}].request.${key}`);
    }
  }
  const method = r?.method;
  if (!r || !method || !['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(method) || typeof r.url !== 'string' || !r.url) {
    throw new FhirError(400, 'structure', `Bundle.entry[${index}].request needs a method (GET, POST, PUT, PATCH) and a url`, `Bundle.entry[${index}].request`);
  }
  const route = parseRequestUrl(r.url);
  if (!route) throw new FhirError(400, 'invalid', `Bundle.entry[${index}].request.url '${r.url}' is not a FHIR request URL`, `Bundle.entry[${index}].request.url`);
  if (method === 'POST' && route.id !== undefined && route.compartment === undefined) {
    throw new FhirError(405, 'not-supported', `Bundle.entry[${index}]: POST creates at Type; the server assigns the id (use PUT Type/id to choose one)`, `Bundle.entry[${index}].request.url`);
  }
  return {
    method: method as Method, ...route, caller, lenient: false,
    ...(entry.resource !== undefined ? { body: entry.resource } : {}),
    ...(r.ifMatch !== undefined ? { ifMatch: r.ifMatch } : {}),
    ...(r.ifNoneExist !== undefined ? { ifNoneExist: r.ifNoneExist } : {}),
  };
}

/** Replaces every Reference.reference found in `map` (urn:uuid and conditional references) in place. */
function rewriteReferences(node: unknown, resolve: (ref: string) => string | undefined): void {
  if (Array.isArray(node)) node.forEach((n) => rewriteReferences(n, resolve));
  else if (node && typeof node === 'object') {
    const obj = node as Record<string, unknown>;
    if (typeof obj.reference === 'string') {
      const to = resolve(obj.reference);
      if (to) obj.reference = to;
    }
    for (const v of Object.values(obj)) if (v && typeof v === 'object') rewriteReferences(v, resolve);
  }
}

function responseEntry(result: FhirResult, ctx: FhirContext): Entry {
  const v = result.version;
  return {
    ...(v ? { fullUrl: `${ctx.baseUrl}/fhir/${v.type}/${v.id}` } : {}),
    ...(result.resource ? { resource: result.resource } : {}),
    response: {
      status: `${result.status} ${result.created ? 'Created' : 'OK'}`,
      ...(v && result.created ? { location: `${v.type}/${v.id}/_history/${v.versionId}` } : {}),
      ...(v ? { etag: `W/"${v.versionId}"`, lastModified: v.lastUpdated } : {}),
    },
  };
}

function entriesOf(bundle: fhir4.Bundle): Entry[] {
  if (bundle.entry !== undefined && !Array.isArray(bundle.entry)) throw new FhirError(400, 'structure', 'Bundle.entry must be an array', 'Bundle.entry');
  const entries = bundle.entry ?? [];
  // A Bundle with a non-object entry is malformed as a whole, batch or not.
  const bad = entries.findIndex((e: unknown) => e === null || typeof e !== 'object' || Array.isArray(e));
  if (bad >= 0) throw new FhirError(400, 'structure', `Bundle.entry[${bad}] must be an object with request and (for writes) resource`, `Bundle.entry[${bad}]`);
  return entries;
}

/** The fullUrls an entry's resource refers to. */
function referencedUrls(resource: unknown): Set<string> {
  const out = new Set<string>();
  rewriteReferences(structuredClone(resource), (ref) => {
    out.add(ref);
    return undefined;
  });
  return out;
}

/**
 * The order entries run in: by method class (R4 http.html#trules), and within it each entry after the
 * entries whose resources it refers to, so that a referral sent before its Consent still finds the
 * Consent written when its rules look. Otherwise, and for reference cycles, the order is as sent.
 */
function processingOrder(entries: Entry[], requests: FhirRequest[]): number[] {
  const byClass = requests.map((_, i) => i).sort((a, b) => ORDER[requests[a]!.method] - ORDER[requests[b]!.method] || a - b);
  const urls = new Map(entries.map((e, i) => [e.fullUrl, i] as const).filter(([u]) => u !== undefined));
  const deps = entries.map((e) => [...referencedUrls(e.resource)].flatMap((u) => (urls.has(u) ? [urls.get(u)!] : [])));
  const placed = new Set<number>();
  const order: number[] = [];
  const visiting = new Set<number>();
  const place = (i: number) => {
    if (placed.has(i) || visiting.has(i)) return;
    visiting.add(i);
    for (const d of deps[i] ?? []) if (ORDER[requests[d]!.method] === ORDER[requests[i]!.method]) place(d);
    visiting.delete(i);
    placed.add(i);
    order.push(i);
  };
  byClass.forEach(place);
  return order;
}

/**
 * A transaction: all entries in one store transaction, so any failure leaves nothing behind.
 * urn:uuid fullUrls of created resources are given server ids first and every reference to them is
 * rewritten before anything is written; conditional references (Type?query) must match exactly one.
 */
export async function transaction(bundle: fhir4.Bundle, caller: Caller, tx: StoreTx, ctx: FhirContext): Promise<fhir4.Bundle> {
  const entries = entriesOf(bundle);
  const requests = entries.map((e, i) => entryRequest(e, i, caller));
  const order = processingOrder(entries, requests);
  const resolved = new Map<string, string>();
  const results: (FhirResult | undefined)[] = [];
  const touched = new Set<string>();
  const fail = (i: number, e: unknown): never => {
    throw e instanceof FhirError ? atEntry(e, i, requests[i]?.type) : e;
  };

  // Pass 1: decide the identity of every created resource (a conditional create may match one).
  for (const i of order) {
    const req = requests[i]!;
    const fullUrl = entries[i]?.fullUrl;
    try {
      if (req.method === 'POST' && req.id === undefined && req.compartment === undefined) {
        const type = requireType(req.type);
        const existing = req.ifNoneExist !== undefined ? await findExisting(type, req.ifNoneExist, tx, ctx) : [];
        if (existing.length > 1) throw new FhirError(412, 'multiple-matches', `If-None-Exist matches more than one ${type}`, type);
        if (existing[0]) results[i] = resultOf(existing[0], 200);
        const id = existing[0]?.id ?? randomUUID();
        if (fullUrl) resolved.set(fullUrl, `${type}/${id}`);
        req.id = id;
      } else if ((req.method === 'PUT' || req.method === 'PATCH') && req.id !== undefined) {
        const key = `${req.type}/${req.id}`;
        if (touched.has(key)) throw new FhirError(400, 'invalid', `${key} is changed by more than one entry`, req.type);
        touched.add(key);
        if (fullUrl) resolved.set(fullUrl, key);
      }
    } catch (e) {
      fail(i, e);
    }
  }

  // Pass 2: rewrite references, then run each entry through the same interactions as REST.
  const conditional = new Map<string, string>();
  for (const i of order) {
    const req = requests[i]!;
    try {
      if (req.body !== undefined && typeof req.body === 'object') {
        const pending: string[] = [];
        rewriteReferences(req.body, (ref) => {
          if (resolved.has(ref)) return resolved.get(ref);
          if (ref.startsWith('urn:uuid:')) throw new FhirError(400, 'not-found', `Reference ${ref} names no entry of this transaction`, req.type);
          if (/^[A-Z][A-Za-z]+\?/.test(ref) && !conditional.has(ref)) pending.push(ref);
          return conditional.get(ref);
        });
        for (const ref of pending) {
          const [type = '', query = ''] = ref.split('?', 2);
          const found = await findExisting(requireType(type), query, tx, ctx);
          if (found.length !== 1) {
            throw new FhirError(412, found.length ? 'multiple-matches' : 'not-found', `Conditional reference ${ref} matches ${found.length} resources; it must match exactly one`, req.type);
          }
          conditional.set(ref, `${type}/${found[0]!.id}`);
        }
        if (pending.length) rewriteReferences(req.body, (ref) => conditional.get(ref));
      }
      if (results[i]) continue; // a conditional create that matched
      if (req.method === 'POST' && req.compartment === undefined) {
        const { ifNoneExist, id, ...plain } = req;
        const result = await create(plain, tx, ctx, id, ifNoneExist !== undefined);
        // Answered with a resource that already exists: later entries refer to that one.
        const fullUrl = entries[i]?.fullUrl;
        if (fullUrl && result.version && result.version.id !== id) resolved.set(fullUrl, `${result.version.type}/${result.version.id}`);
        results[i] = result;
      } else {
        results[i] = await dispatch(req, tx, ctx);
      }
    } catch (e) {
      fail(i, e);
    }
  }
  return { resourceType: 'Bundle', type: 'transaction-response', entry: results.map((r) => responseEntry(r!, ctx)) };
}

/** A batch: each entry on its own, in its own transaction; one failing does not affect the others. */
export async function batch(bundle: fhir4.Bundle, caller: Caller, ctx: FhirContext): Promise<fhir4.Bundle> {
  const entries = entriesOf(bundle);
  const responses = await Promise.all(entries.map(async (entry, i): Promise<Entry> => {
    try {
      const req = entryRequest(entry, i, caller);
      if (req.body !== undefined) {
        rewriteReferences(req.body, (ref) => {
          if (ref.startsWith('urn:uuid:')) throw new FhirError(400, 'not-supported', 'Batch entries cannot refer to each other; use a transaction', req.type);
          return undefined;
        });
      }
      const info = { subtype: interactionCode(req), ...(req.type ? { type: req.type } : {}), ...(req.method === 'GET' ? { query: req.query.toString() } : {}) };
      return responseEntry(await ctx.run(caller, info, (tx) => dispatch(req, tx, ctx)), ctx);
    } catch (e) {
      if (!(e instanceof FhirError)) throw e;
      const url = entry.request?.url;
      const err = atEntry(e, i, typeof url === 'string' ? url.split(/[/?]/)[0] : undefined);
      return { response: { status: String(err.status), outcome: operationOutcome(err.issues) } };
    }
  }));
  return { resourceType: 'Bundle', type: 'batch-response', entry: responses };
}
