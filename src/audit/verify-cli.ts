import path from 'node:path';
import { indexEntries } from '../fhir/index-values.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { verifyChain } from './hash-chain.js';

/**
 * `npm run audit:verify -- --data-dir DIR`: checks the AuditEvent hash chain of a gateway's store
 * from outside the running service. Exit 0 when intact, 1 when broken (naming the first bad event),
 * 2 on a usage or access error.
 */
async function main(argv: string[]): Promise<number> {
  const i = argv.indexOf('--data-dir');
  const dataDir = i >= 0 ? argv[i + 1] : process.env.SIGNPOST_DATA_DIR;
  if (!dataDir) {
    process.stderr.write('usage: npm run audit:verify -- --data-dir DIR\n');
    return 2;
  }
  const store = await SqliteStore.open({ file: path.join(path.resolve(dataDir), 'signpost.sqlite'), indexer: (r) => indexEntries(r, '') });
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
