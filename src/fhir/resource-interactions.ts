import { randomUUID } from 'node:crypto';
import { applyPatch, type Operation } from 'rfc6902';
import { UniqueIdentifierConflict, VersionConflict, type Stored, type StoreTx } from '../store/store.js';
import { FhirError } from './errors.js';
import type { FhirContext, FhirRequest, FhirResult } from './interaction.js';
import { resourceTypeDef } from './registry.js';
import { parseSearch } from './search-params.js';
import { ID_PATTERN, validateResource } from './validate.js';

export function resultOf(stored: Stored, status = 200, created = false): FhirResult {
  const meta = stored.resource.meta;
  return {
    status, created, resource: stored.resource,
    version: { type: stored.type, id: stored.id, versionId: meta.versionId, lastUpdated: meta.lastUpdated },
  };
}

export function requireType(type: string | undefined): string {
  if (!type || !resourceTypeDef(type)) {
    throw new FhirError(404, 'not-supported', `Resource type ${type ?? '(none)'} is not supported by this server`, type ?? undefined);
  }
  return type;
}

function requireId(type: string, id: string | undefined): string {
  if (!id || !ID_PATTERN.test(id)) throw new FhirError(400, 'value', `'${id ?? ''}' is not a valid ${type} id`, `${type}.id`);
  return id;
}

function requireWritable(type: string): void {
  if (resourceTypeDef(type)?.readOnly) {
    throw new FhirError(405, 'not-supported', `${type} resources are written by the server only`, type);
  }
}

/** `W/"3"` (or a bare `3`) → 3; anything else is a client error. */
export function parseETag(header: string, type: string): number {
  const m = /^(?:W\/)?"?(\d{1,15})"?$/.exec(header.trim());
  if (!m) throw new FhirError(400, 'invalid', `If-Match must be an ETag such as W/"1", not ${header}`, `${type}.meta.versionId`);
  return Number(m[1]);
}

function notFound(type: string, id: string): FhirError {
  return new FhirError(404, 'not-found', `${type}/${id} is not known`, `${type}.id`);
}

export async function read(req: FhirRequest, tx: StoreTx): Promise<FhirResult> {
  const type = requireType(req.type);
  const id = requireId(type, req.id);
  const stored = await tx.read(type, id);
  if (!stored) throw notFound(type, id);
  return resultOf(stored);
}

export async function vread(req: FhirRequest, tx: StoreTx): Promise<FhirResult> {
  const type = requireType(req.type);
  const id = requireId(type, req.id);
  if (!req.versionId || !/^\d{1,15}$/.test(req.versionId)) {
    throw new FhirError(400, 'value', `'${req.versionId ?? ''}' is not a version id of this server`, `${type}.meta.versionId`);
  }
  const stored = await tx.vread(type, id, Number(req.versionId));
  if (!stored) {
    throw new FhirError(404, 'not-found', `${type}/${id} has no version ${req.versionId}`, `${type}.meta.versionId`);
  }
  return resultOf(stored);
}

function identifierConflict(e: UniqueIdentifierConflict): FhirError {
  // The existing resource's id is not named: it may be one the caller is not allowed to see.
  return new FhirError(409, 'duplicate',
    `A ${e.type} with identifier ${e.system}|${e.value} already exists; re-send with If-None-Exist to get it back`,
    `${e.type}.identifier`);
}

async function writeOrExplain(tx: StoreTx, resource: fhir4.Resource & { id: string }, expectVersion: number | undefined, method: Stored['method'], conditional = false): Promise<Stored> {
  try {
    return await tx.write(resource, { method, ...(expectVersion !== undefined ? { expectVersion } : {}), ...(conditional ? { conditional } : {}) });
  } catch (e) {
    if (e instanceof UniqueIdentifierConflict) throw identifierConflict(e);
    if (e instanceof VersionConflict) {
      throw new FhirError(412, 'conflict',
        `${e.type}/${e.id} has changed: it is at version ${e.current ?? 'none'}, not the version in If-Match; read it again and retry`,
        `${e.type}.meta.versionId`);
    }
    throw e;
  }
}

/** Conditional-create lookup: what the If-None-Exist query matches (at most two, to tell one from many). */
export async function findExisting(type: string, query: string, tx: StoreTx, ctx: FhirContext): Promise<Stored[]> {
  const parsed = parseSearch(type, new URLSearchParams(query.replace(/^\?/, '')), { lenient: false, baseUrl: ctx.baseUrl });
  if (parsed.query.filters.length === 0) {
    throw new FhirError(400, 'invalid', `If-None-Exist must name search criteria, such as identifier=system|value`, `${type}`);
  }
  return (await tx.search({ ...parsed.query, count: 2, total: false })).matches;
}

/**
 * Create. A transaction passes the id it already handed out to references of the new resource, and
 * whether the entry was a conditional create (its If-None-Exist already searched). The write may
 * answer with a resource that exists (an idempotent re-send, or a record the caller is given): 200.
 */
export async function create(req: FhirRequest, tx: StoreTx, ctx: FhirContext, assignedId?: string, conditional = req.ifNoneExist !== undefined): Promise<FhirResult> {
  const type = requireType(req.type);
  requireWritable(type);
  const body = validateResource(req.body, type);
  if (req.ifNoneExist !== undefined) {
    const existing = await findExisting(type, req.ifNoneExist, tx, ctx);
    if (existing.length > 1) {
      throw new FhirError(412, 'multiple-matches', `If-None-Exist matches more than one ${type}; make the criteria more specific`, type);
    }
    if (existing[0]) return resultOf(existing[0], 200);
  }
  // The server assigns ids on create (R4 http.html#create): a client id in the body is ignored.
  const id = assignedId ?? randomUUID();
  const stored = await writeOrExplain(tx, { ...body, id }, 0, 'POST', conditional);
  return stored.id === id ? resultOf(stored, 201, true) : resultOf(stored, 200);
}

export async function update(req: FhirRequest, tx: StoreTx): Promise<FhirResult> {
  const type = requireType(req.type);
  requireWritable(type);
  const id = requireId(type, req.id);
  const body = validateResource(req.body, type, id) as fhir4.Resource & { id: string };
  const expect = req.ifMatch !== undefined ? parseETag(req.ifMatch, type) : undefined;
  const stored = await writeOrExplain(tx, body, expect, 'PUT');
  return stored.version === 1 ? resultOf(stored, 201, true) : resultOf(stored);
}

function parsePatch(body: unknown): Operation[] {
  const ops = ['add', 'remove', 'replace', 'move', 'copy', 'test'];
  if (!Array.isArray(body) || body.length === 0) {
    throw new FhirError(400, 'structure', 'A JSON Patch body is a non-empty array of operations (RFC 6902)');
  }
  // A JSON Pointer (RFC 6901) is empty or starts with '/'.
  const pointer = (v: unknown) => typeof v === 'string' && (v === '' || v.startsWith('/'));
  body.forEach((op: unknown, i) => {
    const o = op as Record<string, unknown> | null;
    if (!o || typeof o !== 'object' || !ops.includes(o.op as string) || !pointer(o.path)
      || (['move', 'copy'].includes(o.op as string) && !pointer(o.from))
      || (['add', 'replace', 'test'].includes(o.op as string) && !('value' in o))) {
      throw new FhirError(400, 'structure', `Patch operation ${i} is not a valid RFC 6902 operation`, `Parameters.parameter[${i}]`);
    }
  });
  return body as Operation[];
}

export async function patch(req: FhirRequest, tx: StoreTx): Promise<FhirResult> {
  const type = requireType(req.type);
  requireWritable(type);
  const id = requireId(type, req.id);
  const ops = parsePatch(req.body);
  const current = await tx.read(type, id);
  if (!current) throw notFound(type, id);
  const expect = req.ifMatch !== undefined ? parseETag(req.ifMatch, type) : undefined;
  if (expect !== undefined && expect !== current.version) {
    throw new FhirError(412, 'conflict', `${type}/${id} is at version ${current.version}, not ${expect}`, `${type}.meta.versionId`);
  }
  const doc = structuredClone(current.resource) as unknown as Record<string, unknown>;
  const results = applyPatch(doc, ops);
  const failed = results.findIndex((r) => r !== null);
  if (failed >= 0) {
    throw new FhirError(422, 'processing', `Patch operation ${failed} (${ops[failed]?.op} ${ops[failed]?.path}) cannot be applied: ${results[failed]?.message ?? 'failed'}`, `${type}`);
  }
  if (doc.id !== id || doc.resourceType !== type) {
    throw new FhirError(422, 'processing', 'A patch may not change resourceType or id', `${type}.id`);
  }
  const next = validateResource(doc, type, id) as fhir4.Resource & { id: string };
  // Within this transaction the version read is the current one; the write is told of If-Match only
  // when the client sent it, so that rules requiring one can tell.
  return resultOf(await writeOrExplain(tx, next, expect, 'PATCH'));
}
