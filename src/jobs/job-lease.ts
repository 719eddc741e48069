import type { Store } from '../store/store.js';

/** The claim scope under which an instance holds a job while it runs. */
const SCOPE = 'job';

/**
 * Runs `fn` only if no other instance is running the job `name`: the lease is a once-only claim in the
 * store (with several instances, decided under the store's lock like every write), held until `fn`
 * ends or, should its instance die, until `leaseMs` has passed. Answers whether it ran.
 */
export async function runExclusively(store: Store, name: string, holder: string, leaseMs: number, fn: () => Promise<void>): Promise<boolean> {
  const taken = await store.transaction(async (tx) => {
    const other = await tx.claimOnce(SCOPE, name, holder, tx.now() + leaseMs * 1000);
    return other === undefined || other === holder;
  });
  if (!taken) return false;
  try {
    await fn();
  } finally {
    // Released by letting it expire now, unless it ran out and another instance holds it by now.
    await store.transaction(async (tx) => {
      if (await tx.recall(SCOPE, name) === holder) await tx.remember(SCOPE, name, holder, tx.now());
    });
  }
  return true;
}
