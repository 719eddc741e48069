import path from 'node:path';
import { loadEnv } from '../config/env.js';
import { indexEntries } from '../fhir/index-values.js';
import { openStore } from '../store/open-store.js';
import { verifyChain } from './hash-chain.js';

/**
 * `npm run audit:verify [-- --data-dir DIR]`: checks the AuditEvent hash chain of a gateway's store
 * from outside the running service: the store the environment names (DATABASE_URL, else the SQLite file
 * in SIGNPOST_DATA_DIR), or the SQLite file in DIR. Exit 0 when intact, 1 when broken (naming the first
 * bad event), 2 on a usage or access error.
 */
async function main(argv: string[]): Promise<number> {
  const i = argv.indexOf('--data-dir');
  if (i >= 0 && !argv[i + 1]) {
    process.stderr.write('usage: npm run audit:verify [-- --data-dir DIR]\n');
    return 2;
  }
  const env = loadEnv(process.env);
  const store = await openStore(i >= 0 ? { ...env, dataDir: path.resolve(argv[i + 1]!), databaseUrl: undefined } : env, (r) => indexEntries(r, ''));
  try {
    const verdict = await verifyChain(store);
    if (verdict.result) {
      process.stdout.write(`audit chain intact: ${verdict.events} events verified\n`);
      return 0;
    }
    process.stdout.write(`audit chain BROKEN at event ${verdict.seq} (AuditEvent/${verdict.eventId}): ${verdict.reason}; ${verdict.events} events before it verified\n`);
    return 1;
  } finally {
    await store.close();
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`audit:verify: ${(e as Error).message}\n`);
  process.exit(2);
});
