import path from 'node:path';
import { renderStoredAuditRecord } from '../audit/audit-event.js';
import { loadEnv, localOrigin } from '../config/env.js';
import { indexEntries } from '../fhir/index-values.js';
import { openStore } from '../store/open-store.js';
import { exportStore } from './export-store.js';
import { importStore } from './import-store.js';

/**
 * `npm run export -- --out DIR` and `npm run import -- --in DIR`: the operator's way to back up a
 * deployment's store or move it (SQLite to PostgreSQL, say) without losing history. Both work on the
 * store the environment names, as the gateway would open it (DATABASE_URL, else the SQLite file in
 * SIGNPOST_DATA_DIR); run them while no gateway writes to it. SIGNPOST_BASE_URL (or HOST and PORT) must be the
 * gateway's, for references to be indexed as the gateway indexes them. Exit 0 when done, 2 on a usage or access error.
 */
async function main(argv: string[]): Promise<number> {
  const [command, flag, dir] = argv;
  const expected = command === 'export' ? '--out' : command === 'import' ? '--in' : undefined;
  if (!expected || flag !== expected || !dir) {
    process.stderr.write('usage: npm run export -- --out DIR | npm run import -- --in DIR\n');
    return 2;
  }
  const env = loadEnv(process.env);
  // The gateway's public origin, as it works it out when SIGNPOST_BASE_URL is unset.
  const baseUrl = env.baseUrl ?? localOrigin(env.host, env.port);
  const store = await openStore(env, (r) => indexEntries(r, baseUrl), renderStoredAuditRecord);
  try {
    const where = path.resolve(dir);
    if (command === 'export') {
      const m = await exportStore(store, where);
      process.stdout.write(`exported ${m.extension.versions} versions of ${m.output.length} resource types, ${m.extension.files.map((f) => `${f.count} ${f.name}`).join(', ')} to ${where}\n`);
    } else {
      const n = await importStore(store, where);
      process.stdout.write(`imported ${n.versions} versions, ${n.auditEvents} audit events, ${n.grants} grants and ${n.claims} claims from ${where}\n`);
    }
    return 0;
  } finally {
    await store.close();
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`${process.argv[2] ?? 'store'}: ${(e as Error).message}\n`);
  process.exit(2);
});
