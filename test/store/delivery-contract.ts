import { describe, expect, it } from 'vitest';
import type { DeliveryEvent } from '../../src/store/deliveries.js';
import { freshStorePerTest, type StoreHarness } from './store-contract.js';

const SECOND = 1_000_000;
const event = (receiver: string, stream: string, n: number, patient?: string, org?: string): DeliveryEvent => ({
  receiver, stream, resource: `Task/${stream}/_history/${n}`, ...(patient ? { patient } : {}), ...(org ? { org } : {}),
});

/** The outbox (store/deliveries.ts) every store keeps: leases, order per stream, settling, dead letters. */
export function deliveryQueueContract(name: string, harness: () => StoreHarness): void {
  describe(`Store contract (outbox): ${name}`, () => {
    const t = freshStorePerTest(harness);

    const lease = (holder: string, now: number, skip: string[] = [], limit = 10) =>
      t.store.transaction((tx) => tx.deliveries.lease(now, holder, now + 30 * SECOND, limit, skip));
    const clock = () => t.store.transaction(async (tx) => tx.now());

    it('leases only the oldest pending event of each receiver and stream, and the next once it is settled', async () => {
      await t.store.transaction((tx) => tx.deliveries.enqueue([
        event('endpoint:A', 's1', 1), event('endpoint:A', 's1', 2), event('endpoint:A', 's2', 1), event('endpoint:B', 's1', 1),
      ]));
      const now = await clock();
      const first = await lease('w1', now);
      expect(first.map((d) => [d.receiver, d.resource])).toEqual([
        ['endpoint:A', 'Task/s1/_history/1'], ['endpoint:A', 'Task/s2/_history/1'], ['endpoint:B', 'Task/s1/_history/1'],
      ]);
      expect(first.every((d) => d.state === 'pending' && d.attempts === 0)).toBe(true);
      // Leased events are no one else's, and the stream's next waits for its first.
      expect(await lease('w2', now)).toEqual([]);
      const a1 = first[0]!;
      expect(await t.store.transaction((tx) => tx.deliveries.settle(a1.seq, 'w1', { state: 'delivered' }, now))).toBe(true);
      const next = await lease('w2', now);
      expect(next.map((d) => d.resource)).toEqual(['Task/s1/_history/2']);
      expect(await t.store.transaction((tx) => tx.deliveries.get(a1.seq))).toMatchObject({ state: 'delivered', attempts: 1, settledAt: now });
    });

    it('keeps a stream in order while its first event waits to be tried again, and skips receivers it is told to', async () => {
      await t.store.transaction((tx) => tx.deliveries.enqueue([event('endpoint:A', 's1', 1), event('endpoint:A', 's1', 2), event('endpoint:B', 's9', 1)]));
      const now = await clock();
      const [first] = await lease('w1', now, ['endpoint:B']);
      expect(first?.resource).toBe('Task/s1/_history/1');
      const later = now + 5 * SECOND;
      expect(await t.store.transaction((tx) => tx.deliveries.settle(first!.seq, 'w1', { state: 'pending', due: later, error: '503 busy' }, now))).toBe(true);
      expect(await lease('w1', now, ['endpoint:B'])).toEqual([]);
      const again = await lease('w1', later, ['endpoint:B']);
      expect(again.map((d) => [d.resource, d.attempts, d.lastError])).toEqual([['Task/s1/_history/1', 1, '503 busy']]);
    });

    it('takes back an expired lease: the late worker cannot settle what another now holds', async () => {
      await t.store.transaction((tx) => tx.deliveries.enqueue([event('endpoint:A', 's1', 1)]));
      const now = await clock();
      const [held] = await lease('w1', now);
      const [retaken] = await lease('w2', now + 31 * SECOND);
      expect(retaken?.seq).toBe(held?.seq);
      expect(await t.store.transaction((tx) => tx.deliveries.settle(held!.seq, 'w1', { state: 'delivered' }, now))).toBe(false);
      expect(await t.store.transaction((tx) => tx.deliveries.settle(held!.seq, 'w2', { state: 'delivered' }, now))).toBe(true);
    });

    it('dead-letters with the reason, lists by state, and retries a failed event from zero tries', async () => {
      await t.store.transaction((tx) => tx.deliveries.enqueue([event('endpoint:A', 's1', 1), event('endpoint:A', 's2', 1)]));
      const now = await clock();
      const [bad, good] = await lease('w1', now);
      await t.store.transaction(async (tx) => {
        await tx.deliveries.settle(bad!.seq, 'w1', { state: 'failed', error: `400 ${'x'.repeat(2000)}` }, now);
        await tx.deliveries.settle(good!.seq, 'w1', { state: 'delivered' }, now);
      });
      const failed = await t.store.transaction((tx) => tx.deliveries.list({ state: 'failed', limit: 10 }));
      expect(failed.map((d) => d.seq)).toEqual([bad!.seq]);
      expect(failed[0]!.lastError).toMatch(/^400 x+$/);
      expect(failed[0]!.lastError!.length).toBe(1000);
      expect((await t.store.transaction((tx) => tx.deliveries.list({ limit: 10, afterSeq: bad!.seq }))).map((d) => d.seq)).toEqual([good!.seq]);
      expect(await t.store.transaction((tx) => tx.deliveries.retry(good!.seq, now))).toBeUndefined();
      const retried = await t.store.transaction((tx) => tx.deliveries.retry(bad!.seq, now + 1));
      expect(retried).toMatchObject({ state: 'pending', attempts: 0, due: now + 1 });
      expect((await lease('w1', now + 1)).map((d) => d.seq)).toEqual([bad!.seq]);
    });

    it('withholds a patient\'s pending events owed to the organisations named, and purges what was settled long ago', async () => {
      await t.store.transaction((tx) => tx.deliveries.enqueue([
        event('subscription:v', 's1', 1, 'Patient/p', 'V001'), event('endpoint:A', 's1', 1, 'Patient/p', 'A81001'), event('subscription:v', 's2', 1, 'Patient/q', 'V001'),
      ]));
      const now = await clock();
      expect(await t.store.transaction((tx) => tx.deliveries.withhold('Patient/p', ['V001'], now))).toBe(1);
      expect((await lease('w1', now)).map((d) => [d.receiver, d.patient])).toEqual([['endpoint:A', 'Patient/p'], ['subscription:v', 'Patient/q']]);
      expect((await t.store.transaction((tx) => tx.deliveries.list({ state: 'withheld', limit: 10 }))).map((d) => d.patient)).toEqual(['Patient/p']);
      expect(await t.store.transaction((tx) => tx.deliveries.purgeSettled(now))).toBe(0);
      expect(await t.store.transaction((tx) => tx.deliveries.purgeSettled(now + 1))).toBe(1);
      expect(await t.store.transaction((tx) => tx.deliveries.list({ limit: 10 }))).toHaveLength(2);
    });
  });
}
