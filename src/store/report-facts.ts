import type { Micros } from '../fhir/instant.js';
import type { StoreTx } from './store.js';

/**
 * The commissioners' reports' read model (issue 10): one row per referral with what the reports count
 * and stratify by, and one per referral and outcome score, kept in the transaction of every change that
 * moves them (reports/report-projection.ts), so that a report over 100,000 referrals is one indexed
 * query and arithmetic, not a read of every resource. Nothing here names a patient: a row carries the
 * referral's id (to be kept up to date), never the patient's.
 */
export interface ReferralFact {
  /** The ServiceRequest's id. */
  referral: string;
  /** ODS codes of the referring practice and of the service that owns the referral's Task now. */
  practice: string;
  service: string;
  /** When the referral arrived (its first version's meta.lastUpdated). */
  received: Micros;
  /** The first reason's code (SNOMED CT), or '' when it gave none coded. */
  reason: string;
  /** The patient as at the referral: age band, administrative gender, ethnic category (reports/strata.ts). */
  ageBand: string;
  gender: string;
  ethnicity: string;
  /** The referral's Task now, when it was first accepted and when it completed, and why it was declined. */
  status: string;
  acceptedAt: Micros | null;
  completedAt: Micros | null;
  declineReason: string | null;
}

/** One outcome score of a referral: its first value (the baseline), its latest, and how many were recorded. */
export interface ScoreFact {
  referral: string;
  /** The score's code (outcomes/scoring.ts: swemwbs-metric, ons4-…, ucla3-total). */
  code: string;
  first: number;
  latest: number;
  count: number;
}

export interface FactQuery {
  /** Referrals received at or after `from` and before `to`. */
  from: Micros;
  to: Micros;
  /** Of these practices only. */
  practices: readonly string[];
}

/** The column of a cohort row holding one score's change. */
export const changeColumn = (code: string) => `change:${code}` as const;

/**
 * A referral as a report counts it: its row less what identifies it, and for each score asked for its
 * change (latest less first) where it has a baseline and a follow-up, else null.
 */
export type CohortRow = Omit<ReferralFact, 'referral' | 'service'> & { readonly [change: `change:${string}`]: number | null };

export interface ReportFacts {
  /** Writes a referral's row (a new one, or the whole row again). */
  putReferral(fact: ReferralFact): Promise<void>;
  getReferral(referral: string): Promise<ReferralFact | undefined>;
  /** Replaces a referral's score rows with these. */
  putScores(referral: string, scores: readonly Omit<ScoreFact, 'referral'>[]): Promise<void>;
  /** The rows of the referrals a query selects, and their scores. */
  referrals(query: FactQuery): Promise<ReferralFact[]>;
  scores(query: FactQuery): Promise<ScoreFact[]>;
  /**
   * What a report reads: the referrals a query selects, each with these scores' changes (one query,
   * one row per referral, nothing that names it: a report over 100,000 builds no more than it needs).
   */
  cohort(query: FactQuery, codes: readonly string[]): Promise<CohortRow[]>;
  /** Removes every row, ahead of rebuilding the model from the stored versions in the same transaction. */
  clear(): Promise<void>;
}

/**
 * Rebuilds the read model from the stored versions (reports/report-replay.ts). The stores take it as an
 * option for the migration that calls for it (10): the projection is the server's, not the store's.
 */
export type RebuildReports = (tx: StoreTx) => Promise<void>;
