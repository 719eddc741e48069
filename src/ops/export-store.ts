import fs from 'node:fs';
import path from 'node:path';
import { formatInstant } from '../fhir/instant.js';
import type { AuditEntry, ClaimRow, GrantRow, Store, StoreTx, VersionCursor } from '../store/store.js';
import { CLAIMS, FORMAT, GRANTS, LEDGER, MANIFEST, METHODS, typeFile, usualMethod, type Manifest } from './export-format.js';

/** Rows read per store transaction: small enough not to hold the writer up for long. */
const PAGE = 1000;

/** Appends lines to files, opening each once. */
class Files {
  private readonly open = new Map<string, { fd: number; count: number }>();
  constructor(private readonly dir: string) {}

  line(name: string, value: unknown): void {
    let f = this.open.get(name);
    if (!f) {
      f = { fd: fs.openSync(path.join(this.dir, name), 'wx', 0o600), count: 0 };
      this.open.set(name, f);
    }
    fs.writeSync(f.fd, `${JSON.stringify(value)}\n`);
    f.count++;
  }

  count(name: string): number {
    return this.open.get(name)?.count ?? 0;
  }

  names(): string[] {
    return [...this.open.keys()];
  }

  close(): void {
    for (const { fd } of this.open.values()) {
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
  }
}

/** Copies a listing into a file, a page per store transaction, each page continuing after the last row of the one before. */
async function copyListing<T>(store: Store, files: Files, name: string, page: (tx: StoreTx, last: T | undefined) => Promise<T[]>): Promise<void> {
  let last: T | undefined;
  for (;;) {
    const rows = await store.transaction((tx) => page(tx, last));
    for (const row of rows) files.line(name, row);
    if (rows.length < PAGE) return;
    last = rows.at(-1);
  }
}

/**
 * Writes everything `store` holds into `dir` (created; it must not exist): every version of every
 * resource, the audit ledger, the grants and the unexpired claims (export-format.ts). Each page is read
 * in a transaction of its own, so a running gateway keeps serving; what it writes meanwhile may or may
 * not be included, so export a store that no gateway is writing to when moving a deployment.
 */
export async function exportStore(store: Store, dir: string): Promise<Manifest> {
  fs.mkdirSync(dir, { recursive: false, mode: 0o700 });
  const files = new Files(dir);
  const transactionTime = formatInstant(await store.transaction(async (tx) => tx.now()));
  const types = new Set<string>();
  let versions = 0;
  try {
    let cursor: VersionCursor | undefined;
    do {
      const page = await store.transaction((tx) => tx.versions(cursor, PAGE));
      for (const v of page.versions) {
        files.line(typeFile(v.type), v.resource);
        types.add(v.type);
        if (v.method !== usualMethod(v.version)) files.line(METHODS, { type: v.type, id: v.id, version: v.version, method: v.method });
        versions++;
      }
      cursor = page.next;
    } while (cursor);

    await copyListing(store, files, LEDGER, (tx, last: Pick<AuditEntry, 'seq'> | undefined) => tx.auditEntries(last?.seq ?? 0, PAGE));
    await copyListing(store, files, GRANTS, (tx, last: GrantRow | undefined) => tx.grantRows(last, PAGE));
    await copyListing(store, files, CLAIMS, (tx, last: ClaimRow | undefined) => tx.claimRows(last, PAGE));
  } finally {
    files.close();
  }
  const manifest: Manifest = {
    transactionTime,
    request: 'npm run export',
    requiresAccessToken: false,
    output: [...types].sort().map((type) => ({ type, url: typeFile(type), count: files.count(typeFile(type)) })),
    error: [],
    extension: {
      format: FORMAT,
      versions,
      files: [LEDGER, GRANTS, CLAIMS, METHODS].map((name) => ({ name, count: files.count(name) })),
    },
  };
  fs.writeFileSync(path.join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return manifest;
}
