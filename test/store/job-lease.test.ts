import { describe, expect, it } from 'vitest';
import { indexEntries } from '../../src/fhir/index-values.js';
import { runExclusively } from '../../src/jobs/job-lease.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { freshSchema } from '../fixtures/postgres.js';

/**
 * Issue 9: "two instances on PostgreSQL never run the same job at once". Two stores on one schema are
 * two instances as far as the database can tell: separate pools, connections and clocks.
 */
describe('job leases across instances on one PostgreSQL database', () => {
  const open = (url: string) => PostgresStore.open({ url, indexer: (r) => indexEntries(r, 'http://x') });

  it('lets one instance run a job while the other skips it, and either run it next', async () => {
    const schema = await freshSchema();
    const [a, b] = [await open(schema.url), await open(schema.url)];
    try {
      let inside = 0;
      let most = 0;
      let release!: () => void;
      const barrier = new Promise<void>((r) => { release = r; });
      const job = (n: number) => async () => {
        inside++;
        most = Math.max(most, inside);
        if (n === 0) await barrier; // the first to take it holds it until the others have tried
        inside--;
      };
      const first = runExclusively(a, 'nightly', 'instance-a', 60_000, job(0));
      await new Promise((r) => setTimeout(r, 100));
      const others = await Promise.all([
        runExclusively(b, 'nightly', 'instance-b', 60_000, job(1)),
        runExclusively(a, 'nightly', 'instance-a2', 60_000, job(1)),
        runExclusively(b, 'other-job', 'instance-b', 60_000, async () => undefined),
      ]);
      release();
      expect(await first).toBe(true);
      expect(others).toEqual([false, false, true]); // a different job is not held
      expect(most).toBe(1);
      expect(await runExclusively(b, 'nightly', 'instance-b', 60_000, job(1))).toBe(true);
    } finally {
      await a.close();
      await b.close();
      await schema.drop();
    }
  });

  it('lets another instance take over a job whose holder died, once its lease has run out', async () => {
    const schema = await freshSchema();
    const [a, b] = [await open(schema.url), await open(schema.url)];
    try {
      // The holder "dies": its run never ends, so it never releases the lease (200 ms).
      void runExclusively(a, 'sweep', 'dead-instance', 200, () => new Promise(() => undefined));
      await new Promise((r) => setTimeout(r, 50));
      expect(await runExclusively(b, 'sweep', 'instance-b', 200, async () => undefined)).toBe(false);
      await new Promise((r) => setTimeout(r, 250));
      expect(await runExclusively(b, 'sweep', 'instance-b', 200, async () => undefined)).toBe(true);
    } finally {
      await b.close();
      await a.close().catch(() => undefined);
      await schema.drop();
    }
  });
});
