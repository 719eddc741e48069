import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { recordEntities, type AuditRecord } from '../audit/audit-event.js';
import { parseDateRange } from '../fhir/instant.js';
import { replayVersion } from '../reports/report-replay.js';
import type { AuditEntry, ClaimRow, GrantRow, Store, Stored } from '../store/store.js';
import { CLAIMS, FORMAT, GRANTS, LEDGER, MANIFEST, METHODS, usualMethod, type Manifest } from './export-format.js';

/** Rows written per store transaction (see bench/seed.ts on SQLite savepoints: small transactions stay fast). */
const CHUNK = 50;

async function* lines<T>(file: string): AsyncGenerator<T> {
  if (!fs.existsSync(file)) return;
  const rl = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (!line.trim()) continue;
    try {
      yield JSON.parse(line) as T;
    } catch (e) {
      throw new Error(`${path.basename(file)} line ${n} is not JSON: ${(e as Error).message}`, { cause: e });
    }
  }
}

async function countLines(file: string, check: (item: unknown, where: string) => void = () => undefined): Promise<number> {
  let n = 0;
  for await (const item of lines<unknown>(file)) check(item, `${path.basename(file)} line ${++n}`);
  return n;
}

/**
 * Reads the whole export before anything is written: every line parses, every version names its type,
 * id, versionId and lastUpdated, and each file holds as many lines as the manifest says. An export that
 * fails here leaves the target store as empty as it was.
 */
async function checkExport(dir: string, manifest: Manifest): Promise<void> {
  let versions = 0;
  for (const o of manifest.output) {
    const n = await countLines(path.join(dir, o.url), (item, where) => {
      const r = item as Partial<Stored['resource']> | null;
      if (r?.resourceType !== o.type || typeof r.id !== 'string' || !r.meta?.versionId) throw new Error(`${where} is not a ${o.type} version with an id and a versionId`);
      microsOf(r.meta.lastUpdated, where);
    });
    if (n !== o.count) throw new Error(`the manifest lists ${o.count} ${o.type} versions but ${o.url} holds ${n}`);
    versions += n;
  }
  if (versions !== manifest.extension.versions) throw new Error(`the export lists ${manifest.extension.versions} versions but its files hold ${versions}`);
  for (const f of manifest.extension.files) {
    const n = await countLines(path.join(dir, f.name));
    if (n !== f.count) throw new Error(`the manifest lists ${f.count} lines in ${f.name} but it holds ${n}`);
  }
}

const microsOf = (instant: string | undefined, what: string): number => {
  const at = instant === undefined ? undefined : parseDateRange(instant)?.lo;
  if (at === undefined) throw new Error(`${what} has no valid instant (${instant ?? 'none'})`);
  return at;
};

/**
 * The versions of every type file in commit order: each file is in commit order already, and they are
 * merged by lastUpdated, so that a unique identifier passes from one resource to another as it did.
 */
async function* inCommitOrder(dir: string, manifest: Manifest): AsyncGenerator<Stored['resource']> {
  const heads = await Promise.all(manifest.output.map(async (o) => {
    const it = lines<Stored['resource']>(path.join(dir, o.url));
    const first = await it.next();
    return { it, next: first.done ? undefined : first.value };
  }));
  for (;;) {
    let pick: (typeof heads)[number] | undefined;
    for (const h of heads) {
      if (h.next && (!pick || microsOf(h.next.meta.lastUpdated, 'a version') < microsOf(pick.next!.meta.lastUpdated, 'a version'))) pick = h;
    }
    if (!pick) return;
    yield pick.next!;
    const n = await pick.it.next();
    pick.next = n.done ? undefined : n.value;
  }
}

/** Runs `write` on the items in store transactions of CHUNK. */
async function inChunks<T>(store: Store, items: AsyncIterable<T>, write: (item: T, tx: Parameters<Parameters<Store['transaction']>[0]>[0]) => Promise<void>): Promise<number> {
  let chunk: T[] = [];
  let count = 0;
  const flush = async () => {
    const batch = chunk;
    chunk = [];
    await store.transaction(async (tx) => { for (const item of batch) await write(item, tx); });
    count += batch.length;
  };
  for await (const item of items) {
    chunk.push(item);
    if (chunk.length === CHUNK) await flush();
  }
  if (chunk.length) await flush();
  return count;
}

export interface ImportCounts {
  versions: number;
  auditEvents: number;
  grants: number;
  claims: number;
}

/**
 * Restores an export (export-store.ts) into `store`, which must be empty: every version with its id,
 * version, lastUpdated and history method; the audit ledger link by link, exactly as it was stored (a
 * chain broken before the export is still broken after it); grants and unexpired claims. Each version
 * is indexed as the target store indexes a new one.
 */
export async function importStore(store: Store, dir: string): Promise<ImportCounts> {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')) as Manifest;
  if (manifest.extension?.format !== FORMAT) throw new Error(`${dir} is not a Signpost store export (${FORMAT})`);
  const empty = await store.transaction(async (tx) => (await tx.versions(undefined, 1)).versions.length === 0 && (await tx.auditHead()) === undefined);
  if (!empty) throw new Error('the target store is not empty: import into a new database, so that no history is mixed');
  await checkExport(dir, manifest);
  try {
    return await restoreExport(store, dir, manifest);
  } catch (e) {
    throw new Error(`the import stopped part way (${(e as Error).message}): the target store holds part of the export; drop it and import into a new database`, { cause: e });
  }
}

async function restoreExport(store: Store, dir: string, manifest: Manifest): Promise<ImportCounts> {
  const methods = new Map<string, Stored['method']>();
  for await (const m of lines<{ type: string; id: string; version: number; method: Stored['method'] }>(path.join(dir, METHODS))) {
    methods.set(`${m.type}/${m.id}/${m.version}`, m.method);
  }
  const versions = await inChunks(store, inCommitOrder(dir, manifest), async (resource, tx) => {
    const version = Number(resource.meta.versionId);
    const key = `${resource.resourceType}/${resource.id}/${version}`;
    const stored: Stored = {
      resource, type: resource.resourceType, id: resource.id, version,
      lastUpdated: microsOf(resource.meta.lastUpdated, key), method: methods.get(key) ?? usualMethod(version),
    };
    await tx.restore(stored);
    // The reports' read model is derived: replayed version by version in commit order, it comes out as
    // the source's did (a referral's patient as at that day, each Task move at its moment).
    await replayVersion(tx, stored);
  });
  const auditEvents = await inChunks(store, lines<Pick<AuditEntry, 'seq' | 'json' | 'hash'>>(path.join(dir, LEDGER)), async (link, tx) => {
    // The columns the ledger is searched by come from the record itself, as when it was appended.
    const record = JSON.parse(link.json) as AuditRecord;
    await tx.appendAudit({
      seq: link.seq, json: link.json, hash: link.hash, recorded: microsOf(record.recorded, `audit event ${link.seq}`),
      outcome: record.outcome, subtype: record.interaction, ...(record.client ? { org: record.client.organization } : {}),
      entities: recordEntities(record),
    });
  });
  const grants = await inChunks(store, lines<GrantRow>(path.join(dir, GRANTS)), (g, tx) => tx.grant(g.type, g.id, [g.org]));
  const claims = await inChunks(store, lines<ClaimRow>(path.join(dir, CLAIMS)), (c, tx) => tx.remember(c.scope, c.key, c.value, c.expiresAt));
  return { versions, auditEvents, grants, claims };
}
