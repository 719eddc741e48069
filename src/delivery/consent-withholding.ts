import type { WrittenVersion } from '../auth/caller-tx.js';
import type { Deployment } from '../config/deployment.js';
import { consentState } from '../referral/consent.js';
import type { StoreTx } from '../store/store.js';
import { heldForConsent } from '../workflow/consent-hold.js';
import { subscriptionReceiver } from './subscriptions.js';

/** What an interaction's changes take back from the outbox before its own events are enqueued. */
export type Withhold = (tx: StoreTx, written: readonly WrittenVersion[]) => Promise<void>;

/**
 * Consent that lapses stops delivery to community groups at once (issue 9): in the transaction that
 * records the withdrawal (a Consent no longer in force where its version before was) or puts Tasks
 * on hold for it, every event still owed to a community group's subscriptions about that patient is
 * withheld; an event already on the wire when this commits is the only one that can still arrive.
 * The new versions' own events are enqueued after this, so a group is still told, by id only, that
 * its Task is on hold.
 */
export function consentWithholding(deployment: Deployment): Withhold {
  const assets = deployment.organizations.filter((o) => o.kind === 'community-asset').map((o) => o.ods);
  return async (tx, written) => {
    const patients = new Set<string>();
    for (const { stored } of written) {
      if (stored.type === 'Task' && heldForConsent(stored.resource as fhir4.Task)) {
        const patient = (stored.resource as fhir4.Task).for?.reference;
        if (patient) patients.add(patient);
      } else if (stored.type === 'Consent' && stored.version > 1 && consentState(stored.resource as fhir4.Consent, tx.now()) !== 'in-force') {
        const before = await tx.vread('Consent', stored.id, stored.version - 1);
        const patient = (stored.resource as fhir4.Consent).patient?.reference;
        if (patient && before && consentState(before.resource as fhir4.Consent, tx.now()) === 'in-force') patients.add(patient);
      }
    }
    if (patients.size === 0 || assets.length === 0) return;
    const receivers: string[] = [];
    for (const org of assets) {
      // Every subscription of the group, whatever its status: one in error may still be owed events.
      const page = await tx.search({ type: 'Subscription', sort: 'default', count: 1000, filters: [{ kind: 'granted', org }] });
      receivers.push(...page.matches.map((m) => subscriptionReceiver(m.id)));
    }
    for (const patient of patients) await tx.deliveries.withhold(patient, receivers, tx.now());
  };
}
