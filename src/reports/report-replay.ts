import type { Micros } from '../fhir/instant.js';
import type { Stored, StoreTx, VersionCursor } from '../store/store.js';
import { PROJECTED_TYPES, projectReports, type ProjectionTx } from './report-projection.js';

/**
 * The reports' read model derived again from stored versions, for stores whose model was not kept as
 * the versions were written: an import (ops/import-store.ts), and a store that held referrals before
 * the model existed (migration 10, which the store runs with `rebuildReports`).
 */

/** Versions replayed per page of the rebuild's listing. */
const PAGE = 500;

/**
 * The store as it stood at `at`, as far as the projection reads it. A version is projected as when it
 * was written: its referral's patient as they were then (a patient who has since moved age band counts
 * in the band of the referral's day), the outcomes recorded by then.
 */
function asAt(tx: StoreTx, at: Micros): ProjectionTx {
  return {
    reportFacts: tx.reportFacts,
    read: async (type, id) => (await tx.history({ type, id, before: at + 1, count: 1 })).versions[0],
    search: (query) => tx.search({ ...query, asOf: at }),
  };
}

/** Projects one stored version into the read model as the gateway's projection did when it was written. */
export function replayVersion(tx: StoreTx, stored: Stored): Promise<void> {
  return projectReports(asAt(tx, stored.lastUpdated), [{ stored, audience: [] }]);
}

/** Empties the read model and replays, in commit order, every stored version that moves it. */
export async function rebuildReports(tx: StoreTx): Promise<void> {
  await tx.reportFacts.clear();
  let after: VersionCursor | undefined;
  do {
    const page = await tx.versions(after, PAGE, PROJECTED_TYPES);
    for (const version of page.versions) await replayVersion(tx, version);
    after = page.next;
  } while (after);
}
