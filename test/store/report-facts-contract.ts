import { describe, expect, it } from 'vitest';
import type { ReferralFact } from '../../src/store/report-facts.js';
import { freshStorePerTest, type StoreHarness } from './store-contract.js';

const fact = (referral: string, practice: string, received: number, more: Partial<ReferralFact> = {}): ReferralFact => ({
  referral, practice, service: 'SP001', received, reason: '267076002', ageBand: '35-49', gender: 'female', ethnicity: 'A',
  status: 'requested', acceptedAt: null, completedAt: null, declineReason: null, ...more,
});

/** The reports' read model (store/report-facts.ts) every store keeps: rows by practice and period, scores with them. */
export function reportFactsContract(name: string, harness: () => StoreHarness): void {
  describe(`Store contract (report facts): ${name}`, () => {
    const t = freshStorePerTest(harness);

    it('selects the referrals of the practices asked for, received in [from, to), and writes a row again whole', async () => {
      await t.store.transaction(async (tx) => {
        await tx.reportFacts.putReferral(fact('r1', 'A81001', 100));
        await tx.reportFacts.putReferral(fact('r2', 'A81001', 200));
        await tx.reportFacts.putReferral(fact('r3', 'B82002', 150));
        await tx.reportFacts.putReferral(fact('r4', 'A81001', 300));
      });
      const ids = async (from: number, to: number, practices: string[]) =>
        (await t.store.transaction((tx) => tx.reportFacts.referrals({ from, to, practices }))).map((f) => f.referral).sort();
      expect(await ids(100, 300, ['A81001'])).toEqual(['r1', 'r2']);
      expect(await ids(0, 1000, ['A81001', 'B82002'])).toEqual(['r1', 'r2', 'r3', 'r4']);
      expect(await ids(0, 1000, [])).toEqual([]);
      const accepted = fact('r2', 'A81001', 200, { status: 'completed', acceptedAt: 250, completedAt: 900, service: 'SP002' });
      await t.store.transaction((tx) => tx.reportFacts.putReferral(accepted));
      expect(await t.store.transaction((tx) => tx.reportFacts.getReferral('r2'))).toEqual(accepted);
      expect(await t.store.transaction((tx) => tx.reportFacts.getReferral('none'))).toBeUndefined();
    });

    it('replaces a referral\'s scores, and selects them with their referrals', async () => {
      await t.store.transaction(async (tx) => {
        await tx.reportFacts.putReferral(fact('r1', 'A81001', 100));
        await tx.reportFacts.putReferral(fact('r2', 'B82002', 100));
        await tx.reportFacts.putScores('r1', [{ code: 'swemwbs-metric', first: 19.25, latest: 23.21, count: 2 }, { code: 'ucla3-total', first: 7, latest: 7, count: 1 }]);
        await tx.reportFacts.putScores('r2', [{ code: 'swemwbs-metric', first: 20, latest: 20, count: 1 }]);
      });
      await t.store.transaction((tx) => tx.reportFacts.putScores('r1', [{ code: 'swemwbs-metric', first: 19.25, latest: 25.03, count: 3 }]));
      const scores = await t.store.transaction((tx) => tx.reportFacts.scores({ from: 0, to: 1000, practices: ['A81001'] }));
      expect(scores).toEqual([{ referral: 'r1', code: 'swemwbs-metric', first: 19.25, latest: 25.03, count: 3 }]);
    });

    it('reads a report\'s cohort: a row per referral in scope, each score\'s change where it has a follow-up, nothing that names it', async () => {
      await t.store.transaction(async (tx) => {
        await tx.reportFacts.putReferral(fact('r1', 'A81001', 100, { status: 'completed', acceptedAt: 150, completedAt: 900 }));
        await tx.reportFacts.putReferral(fact('r2', 'A81001', 200, { gender: 'male' }));
        await tx.reportFacts.putReferral(fact('r3', 'B82002', 150));
        await tx.reportFacts.putReferral(fact('r4', 'A81001', 5000));
        await tx.reportFacts.putScores('r1', [
          { code: 'swemwbs-metric', first: 19.25, latest: 23.25, count: 3 }, { code: 'ucla3-total', first: 7, latest: 5, count: 2 },
          { code: 'ons4-anxiety', first: 6, latest: 6, count: 1 }, { code: 'swemwbs-raw', first: 20, latest: 24, count: 2 },
        ]);
        await tx.reportFacts.putScores('r2', [{ code: 'swemwbs-metric', first: 20, latest: 20, count: 1 }]);
        await tx.reportFacts.putScores('r3', [{ code: 'swemwbs-metric', first: 20, latest: 30, count: 2 }]);
      });
      const codes = ['swemwbs-metric', 'ucla3-total', 'ons4-anxiety'];
      const rows = await t.store.transaction((tx) => tx.reportFacts.cohort({ from: 0, to: 1000, practices: ['A81001'] }, codes));
      const base = { practice: 'A81001', reason: '267076002', ageBand: '35-49', gender: 'female', ethnicity: 'A', declineReason: null };
      expect(rows.sort((a, b) => a.received - b.received)).toEqual([
        { ...base, received: 100, status: 'completed', acceptedAt: 150, completedAt: 900, 'change:swemwbs-metric': 4, 'change:ucla3-total': -2, 'change:ons4-anxiety': null },
        { ...base, received: 200, gender: 'male', status: 'requested', acceptedAt: null, completedAt: null, 'change:swemwbs-metric': null, 'change:ucla3-total': null, 'change:ons4-anxiety': null },
      ]);
      expect(await t.store.transaction((tx) => tx.reportFacts.cohort({ from: 0, to: 1000, practices: [] }, codes))).toEqual([]);
    });

    it('clears every row, for a rebuild from the stored versions', async () => {
      await t.store.transaction(async (tx) => {
        await tx.reportFacts.putReferral(fact('r1', 'A81001', 100));
        await tx.reportFacts.putScores('r1', [{ code: 'ucla3-total', first: 7, latest: 6, count: 2 }]);
      });
      await t.store.transaction((tx) => tx.reportFacts.clear());
      const everything = { from: 0, to: Number.MAX_SAFE_INTEGER, practices: ['A81001'] };
      expect(await t.store.transaction((tx) => tx.reportFacts.referrals(everything))).toEqual([]);
      expect(await t.store.transaction((tx) => tx.reportFacts.scores(everything))).toEqual([]);
    });
  });
}
