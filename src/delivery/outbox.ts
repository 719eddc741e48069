import type { AfterWrites } from '../audit/audited-run.js';
import type { Announcer } from './announcements.js';

/**
 * The outbox's writer: every announcer's events for the versions an interaction wrote, enqueued in
 * its transaction; `enqueued` then
 * wakes the delivery worker (its round's lease queues behind this commit, so it finds the events).
 */
export function outboxWriter(announcers: readonly Announcer[], enqueued: () => void): AfterWrites {
  return async (tx, written) => {
    if (written.length === 0) return;
    const events = [];
    for (const announce of announcers) events.push(...await announce(tx, written));
    if (events.length === 0) return;
    await tx.deliveries.enqueue(events);
    enqueued();
  };
}
