import { endpointReceiver } from '../src/delivery/announcements.js';
import { indexEntries } from '../src/fhir/index-values.js';
import { sqliteFileIn } from '../src/store/open-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { PRACTICE } from './clients.js';

/**
 * Compiled script: writes `count` outbox events owed to the bench practice's endpoint, one per stored
 * Task version (each its own stream, as events of that many referrals are), straight into the store
 * of a data directory, so that a gateway started on it finds a backlog to deliver. Usage:
 * outbox-fill.js DATA_DIR COUNT; prints how many it wrote.
 */
const [dataDir, countArg] = process.argv.slice(2);
if (!dataDir || !countArg) throw new Error('usage: outbox-fill.js DATA_DIR COUNT');
const count = Number(countArg);
const store = await SqliteStore.open({ file: sqliteFileIn(dataDir), indexer: (r) => indexEntries(r, ''), synchronous: 'normal' });
const hold = setInterval(() => undefined, 1000); // see seed.ts: close() waits on an unref'd worker
try {
  const tasks = await store.transaction((tx) => tx.search({ type: 'Task', sort: 'default', count, filters: [] }));
  if (tasks.matches.length < count) throw new Error(`the store holds ${tasks.matches.length} Tasks, not ${count}`);
  for (let i = 0; i < count; i += 1000) {
    await store.transaction((tx) => tx.deliveries.enqueue(tasks.matches.slice(i, i + 1000).map((t) => ({
      receiver: endpointReceiver(PRACTICE), stream: `Task/${t.id}`, resource: `Task/${t.id}/_history/${t.version}`,
    }))));
  }
  process.stdout.write(String(count));
} finally {
  await store.close();
  clearInterval(hold);
}
