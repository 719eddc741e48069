import type { Store } from '../store/store.js';
import type { Job } from './job.js';

/** Delivered and withheld events are kept this long for the auditor's view, then removed. */
export const SETTLED_DELIVERIES_KEPT_DAYS = 30;

/**
 * Daily: removes what has served its purpose: expired once-only claims (the replay cache of
 * private_key_jwt assertions, idempotency keys after their day, job leases) and outbox events settled
 * more than SETTLED_DELIVERIES_KEPT_DAYS ago. Failed events stay until an auditor retries them.
 */
export function cleanupJob(store: Store): Job {
  return {
    name: 'cleanup',
    async run(now) {
      return store.transaction(async (tx) => ({
        claims: await tx.forgetExpiredClaims(now),
        deliveries: await tx.deliveries.purgeSettled(now - SETTLED_DELIVERIES_KEPT_DAYS * 86_400_000_000),
      }));
    },
  };
}
