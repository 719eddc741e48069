import type { Logger } from 'pino';
import { GATEWAY_CALLER } from '../auth/gateway-caller.js';
import type { RunInteraction } from '../fhir/interaction.js';
import { consentState } from '../referral/consent.js';
import type { Store } from '../store/store.js';
import { holdForLapsedConsent } from '../workflow/consent-hold.js';
import type { Job } from './job.js';
import { collectionResult, scanAll } from './job-support.js';

/** Claim scope: the Consent versions whose end has been acted on. */
const DONE = 'consent-expiry';
/** How long that is remembered: a Consent acted on is never in force again without a new version. */
const DONE_FOR_MICROS = 2 * 365 * 86_400_000_000;

/**
 * Hourly by default: a Consent still active whose provision.period has ended no longer lets its
 * referrals be shared; its referrals' open Tasks go on hold and community groups lose the patient
 * (workflow/consent-hold.ts), as when a practice withdraws consent, here in the gateway's name. Each
 * Consent is handled in one audited interaction and remembered by version, so a second run skips it.
 */
export function consentExpiryJob(store: Store, run: RunInteraction, logger: Logger): Job {
  return {
    name: 'consent-expiry',
    async run(now) {
      const ended = await scanAll(store, {
        type: 'Consent', sort: 'default',
        filters: [
          { kind: 'token', param: 'status', values: [{ code: 'active' }] },
          { kind: 'date', param: 'period', prefix: 'eb', range: { lo: now, hi: now } },
        ],
      }, (s) => consentState(s.resource as fhir4.Consent, now) === 'expired');
      const done = await store.transaction(async (tx) => Promise.all(ended.map((s) => tx.recall(DONE, s.id))));
      let consents = 0;
      let held = 0;
      let failed = 0;
      for (const [i, { id, version }] of ended.entries()) {
        if (done[i] === String(version)) continue;
        const description = `Consent expiry: Consent/${id} ended; its referrals' open Tasks are put on hold`;
        try {
          await run(GATEWAY_CALLER, { subtype: 'consent-expiry', type: 'Consent', description }, async (tx) => {
            const current = await tx.read('Consent', id);
            const consent = current?.resource as (fhir4.Consent & { id: string }) | undefined;
            if (!current || !consent || consentState(consent, now) !== 'expired') return collectionResult([]);
            const tasks = await holdForLapsedConsent(consent, 'expired', now, tx, (r, o) => tx.write(r, o ?? { method: 'PUT' }));
            await tx.remember(DONE, id, String(current.version), now + DONE_FOR_MICROS);
            consents++;
            held += tasks.length;
            return collectionResult([current, ...tasks]);
          });
        } catch (e) {
          // Refused (and audited) or failed: the others go on; the next run tries this one again.
          failed++;
          logger.error({ consent: id, err: (e as Error).message }, 'acting on an ended Consent failed');
        }
      }
      return { consents, held, failed };
    },
  };
}
