import type { Request, RequestHandler, Response } from 'express';
import type { Deployment } from '../config/deployment.js';
import { allows } from '../auth/scopes.js';
import { FhirError } from '../fhir/errors.js';
import type { Caller, FhirContext } from '../fhir/interaction.js';
import type { FhirOperation } from '../http/fhir-routes.js';
import { interactionInfo } from '../http/request-context.js';
import { londonMidnight } from '../workflow/working-days.js';
import { measureReport, type ReportScope } from './measure-report.js';
import { reportCsv } from './report-csv.js';
import { CHANGE_SCORES, socialPrescribingFigures, type GroupFigures } from './social-prescribing.js';
import type { CohortRow } from '../store/report-facts.js';

const CSV = 'text/csv';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A parameter given once; one given empty counts as absent, as FHIR search ignores an empty parameter
 * (and as a plain HTML form sends a choice of "none": the reports page's "all practices covered").
 */
function param(query: URLSearchParams, name: string, required: boolean): string | undefined {
  const values = query.getAll(name).filter((v) => v !== '');
  if (values.length === 0) {
    if (required) throw new FhirError(400, 'required', `${name} is required, a date (YYYY-MM-DD)`, name);
    return undefined;
  }
  if (values.length > 1) throw new FhirError(400, 'invalid', `${name} may be given once`, name);
  return values[0]!;
}

function date(query: URLSearchParams, name: string): string {
  const v = param(query, name, true)!;
  if (!DATE.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`)) || new Date(`${v}T00:00:00Z`).toISOString().slice(0, 10) !== v) {
    throw new FhirError(400, 'value', `${name} must be a calendar date, YYYY-MM-DD, not ${v}`, name);
  }
  return v;
}

const nextDay = (d: string) => new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

/**
 * The practices a caller's reports may cover: a commissioner's own (config `practices`), an auditor's
 * every configured practice; nobody else may have the report.
 */
export function coveredPractices(caller: Caller, deployment: Deployment): string[] {
  // A token narrowed (SMART scope) to other types has not been given the report either.
  if (!allows(caller.scopes, 'MeasureReport', 's')) {
    throw new FhirError(403, 'forbidden', 'The token\'s scopes do not include searching MeasureReport', 'MeasureReport');
  }
  if (caller.role === 'commissioner') {
    return deployment.organizations.find((o) => o.ods === caller.organization && o.kind === 'commissioner')?.practices ?? [];
  }
  if (caller.role === 'auditor') return deployment.organizations.filter((o) => o.kind === 'gp-practice').map((o) => o.ods);
  throw new FhirError(403, 'forbidden', 'The social prescribing report is for commissioners and auditors', 'MeasureReport');
}

/** The practices a caller's reports may cover; `practice`, when given, must be among them. */
function practicesFor(caller: Caller, deployment: Deployment, practice: string | undefined): string[] {
  const covered = coveredPractices(caller, deployment);
  if (practice !== undefined && !covered.includes(practice)) {
    throw new FhirError(403, 'forbidden', `${practice} is not a practice this report may cover for ${caller.organization}`, 'practice');
  }
  return covered;
}

/** The query of the URL as sent: express's parser would fold a repeated parameter into an array. */
function rawQuery(req: Request): URLSearchParams {
  const i = req.originalUrl.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : req.originalUrl.slice(i + 1));
}

/** The report's figures and what they cover: the period, the reporter, and the practices. */
export interface SocialPrescribingReport {
  figures: GroupFigures[];
  scope: ReportScope;
  practices: string[];
}

/**
 * The social prescribing report a request asks for (`period-start`, `period-end`, optional `practice`
 * in its query; the caller in res.locals): referrals received in the period (London calendar days, both
 * inclusive) from the practices the caller may report on, every figure through disclosure control.
 * Computed in one audited interaction (subtype social-prescribing), so that every door onto the report
 * (the FHIR operation, the reports page) answers the same callers, refuses the same requests and
 * leaves the same audit record. Nothing patient-level is read by the caller.
 */
export async function socialPrescribingReport(ctx: FhirContext, deployment: Deployment, req: Request, res: Response): Promise<SocialPrescribingReport> {
  const caller = res.locals.caller as Caller;
  const query = rawQuery(req);
  res.locals.audited = true;
  let read: { cohort: CohortRow[]; covered: string[]; practice: string | undefined; scope: ReportScope } | undefined;
  await ctx.run(caller, interactionInfo(req, res, 'social-prescribing', 'MeasureReport', query.toString()), async (tx) => {
    // Who may have the report at all comes first: another role is refused whatever it asked.
    coveredPractices(caller, deployment);
    const start = date(query, 'period-start');
    const end = date(query, 'period-end');
    if (end < start) throw new FhirError(400, 'value', 'period-end must not be before period-start', 'period-end');
    const practice = param(query, 'practice', false);
    const covered = practicesFor(caller, deployment, practice);
    // All the caller's practices are read even for one: a practice's report is suppressed against their whole.
    const cohort = await tx.reportFacts.cohort({ from: londonMidnight(start) * 1000, to: londonMidnight(nextDay(end)) * 1000, practices: covered }, CHANGE_SCORES);
    read = {
      cohort, covered, practice,
      scope: { start, end, date: new Date(tx.now() / 1000).toISOString(), ...(caller.role === 'commissioner' ? { reporter: caller.organization } : {}) },
    };
    // The report names no stored resource, so the audit record lists none, as before.
    return { status: 200 };
  });
  // The figures are arithmetic on what was read: computed after the transaction, which other writers
  // (and on PostgreSQL, other instances) would otherwise wait behind.
  const { cohort, covered, practice, scope } = read!;
  const figures = socialPrescribingFigures({ cohort, practices: covered, ...(practice ? { practice } : {}) });
  return { figures, scope, practices: practice ? [practice] : covered };
}

/**
 * `GET /fhir/MeasureReport/$social-prescribing?period-start=&period-end=[&practice=]` (DESIGN.md
 * "Reports"): the report as a MeasureReport of our Measure, or as CSV when Accept asks for text/csv.
 */
function report(ctx: FhirContext, deployment: Deployment): RequestHandler {
  return async (req, res, next) => {
    try {
      const { figures, scope } = await socialPrescribingReport(ctx, deployment, req, res);
      const csv = String(res.locals.mediaType ?? '').startsWith(CSV);
      if (csv) res.status(200).type(`${CSV}; charset=utf-8`).send(reportCsv(figures));
      else res.status(200).type('application/fhir+json; charset=utf-8').send(JSON.stringify(measureReport(figures, scope)));
    } catch (e) {
      next(e);
    }
  };
}

export function reportOperations(ctx: FhirContext, deployment: Deployment): FhirOperation[] {
  return [{ method: 'get', path: '/MeasureReport/\\$social-prescribing', handler: report(ctx, deployment), alsoProduces: [CSV] }];
}
