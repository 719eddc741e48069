import type { Request, RequestHandler } from 'express';
import type { Deployment } from '../config/deployment.js';
import { FhirError } from '../fhir/errors.js';
import type { Caller, FhirContext } from '../fhir/interaction.js';
import type { FhirOperation } from '../http/fhir-routes.js';
import { londonMidnight } from '../workflow/working-days.js';
import { measureReport } from './measure-report.js';
import { reportCsv } from './report-csv.js';
import { socialPrescribingFigures, type GroupFigures } from './social-prescribing.js';

const CSV = 'text/csv';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function param(req: Request, name: string, required: boolean): string | undefined {
  const v = req.query[name];
  if (v === undefined) {
    if (required) throw new FhirError(400, 'required', `${name} is required, a date (YYYY-MM-DD)`, name);
    return undefined;
  }
  if (typeof v !== 'string') throw new FhirError(400, 'invalid', `${name} may be given once`, name);
  return v;
}

function date(req: Request, name: string): string {
  const v = param(req, name, true)!;
  if (!DATE.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`)) || new Date(`${v}T00:00:00Z`).toISOString().slice(0, 10) !== v) {
    throw new FhirError(400, 'value', `${name} must be a calendar date, YYYY-MM-DD, not ${v}`, name);
  }
  return v;
}

const nextDay = (d: string) => new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

/**
 * The practices a caller's report may cover: a commissioner's own (config `practices`), an auditor's
 * every configured practice; narrowed to one by `practice`, which must be among them.
 */
function practicesFor(caller: Caller, deployment: Deployment, practice: string | undefined): string[] {
  let covered: string[];
  if (caller.role === 'commissioner') {
    covered = deployment.organizations.find((o) => o.ods === caller.organization && o.kind === 'commissioner')?.practices ?? [];
  } else if (caller.role === 'auditor') {
    covered = deployment.organizations.filter((o) => o.kind === 'gp-practice').map((o) => o.ods);
  } else {
    throw new FhirError(403, 'forbidden', 'The social prescribing report is for commissioners and auditors', 'MeasureReport');
  }
  if (practice === undefined) return covered;
  if (!covered.includes(practice)) throw new FhirError(403, 'forbidden', `${practice} is not a practice this report may cover for ${caller.organization}`, 'practice');
  return [practice];
}

/**
 * `GET /fhir/MeasureReport/$social-prescribing?period-start=&period-end=[&practice=]` (DESIGN.md
 * "Reports"): referrals received in the period (London calendar days, both inclusive) from the
 * practices the caller may report on, as a MeasureReport of our Measure with every figure through
 * disclosure control; as CSV when Accept asks for text/csv. Audited like any interaction; nothing
 * patient-level is read by the caller.
 */
function report(ctx: FhirContext, deployment: Deployment): RequestHandler {
  return async (req, res, next) => {
    try {
      const caller = res.locals.caller as Caller;
      res.locals.audited = true;
      const query = new URLSearchParams(req.query as Record<string, string>).toString();
      let figures: GroupFigures[] = [];
      const result = await ctx.run(caller, { subtype: 'social-prescribing', type: 'MeasureReport', query }, async (tx) => {
        const start = date(req, 'period-start');
        const end = date(req, 'period-end');
        if (end < start) throw new FhirError(400, 'value', 'period-end must not be before period-start', 'period-end');
        const practices = practicesFor(caller, deployment, param(req, 'practice', false));
        const scope = { from: londonMidnight(start) * 1000, to: londonMidnight(nextDay(end)) * 1000, practices };
        figures = socialPrescribingFigures({ facts: await tx.reportFacts.referrals(scope), scores: await tx.reportFacts.scores(scope), practices });
        const resource = measureReport(figures, {
          start, end, date: new Date(tx.now() / 1000).toISOString(), ...(caller.role === 'commissioner' ? { reporter: caller.organization } : {}),
        });
        return { status: 200, resource };
      });
      const csv = String(res.locals.mediaType ?? '').startsWith(CSV);
      if (csv) res.status(200).type(`${CSV}; charset=utf-8`).send(reportCsv(figures));
      else res.status(200).type('application/fhir+json; charset=utf-8').send(JSON.stringify(result.resource));
    } catch (e) {
      next(e);
    }
  };
}

export function reportOperations(ctx: FhirContext, deployment: Deployment): FhirOperation[] {
  return [{ method: 'get', path: '/MeasureReport/\\$social-prescribing', handler: report(ctx, deployment), alsoProduces: [CSV] }];
}
