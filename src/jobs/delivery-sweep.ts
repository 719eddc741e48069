import type { Logger } from 'pino';
import type { DeliveryWorker } from '../delivery/delivery-worker.js';
import type { Store } from '../store/store.js';
import type { Job } from './job.js';

/** A pending event this long past its due time is stuck: no worker is getting to it. */
const OVERDUE_MS = 5 * 60_000;

/**
 * The outbox retry sweep: wakes this instance's delivery worker (due retries go at once rather than at
 * its next poll) and reports what the outbox holds; events overdue by more than five minutes, which a
 * running worker would have tried, are logged as a warning for the operator.
 */
export function deliverySweepJob(store: Store, worker: DeliveryWorker, logger: Logger): Job {
  return {
    name: 'delivery-sweep',
    async run(now) {
      worker.wake();
      const summary = await store.transaction((tx) => tx.deliveries.summary(now - OVERDUE_MS * 1000));
      if (summary.overdue > 0) logger.warn(summary, 'outbox events are overdue: is a delivery worker running?');
      return summary;
    },
  };
}
