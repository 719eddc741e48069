import { SWEMWBS_MEANINGFUL_CHANGE } from '../outcomes/scoring.js';
import { FEWEST_PEOPLE, SMALL_NUMBER_MAX, type Published } from './disclosure.js';
import { html, type Html } from './html.js';
import { page, REPORT_PAGE_PATH, SIGN_OUT_PATH } from './page-layout.js';
import { barChart, changeChart, type ChangeRow } from './report-charts.js';
import type { ReportLabels } from './report-labels.js';
import type { SocialPrescribingReport } from './report-operation.js';
import { CHANGE_SCORES, STRATIFIERS, type Figure, type GroupCode, type GroupFigures, type Stratifier } from './social-prescribing.js';
import { ETHNIC_CATEGORIES } from './strata.js';

/**
 * The social prescribing report as a page for people (issue 10): pure, the report's figures and scope
 * in, HTML out. A header says what the figures cover; then, overall and for each stratifier, charts
 * for those who would rather look and, after each, a table with the exact figures for those who would
 * rather read. The figures are those the MeasureReport publishes, already through disclosure control:
 * a suppressed one says so in words and in the charts' hatching, never as zero.
 */

/** What a suppressed cell says; explained once, in the note about suppression. */
const SUPPRESSED = `suppressed (fewer than ${FEWEST_PEOPLE})`;

const COUNT = new Intl.NumberFormat('en-GB');
const CHANGE = new Intl.NumberFormat('en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2, signDisplay: 'exceptZero' });
const DAYS = new Intl.NumberFormat('en-GB', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const SHARE = new Intl.NumberFormat('en-GB', { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });
const DAY = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
const INSTANT = new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/London' });

/** How each published number is written: counts whole, changes signed to 2 places, days to 1, shares as percentages. */
const FORMATS = {
  count: (v: number) => COUNT.format(v),
  change: (v: number) => CHANGE.format(v),
  days: (v: number) => DAYS.format(v),
  share: (v: number) => SHARE.format(v),
};

type ChangeCode = `change-${(typeof CHANGE_SCORES)[number]}`;

/** The well-being scores, in the order of the Measure, with how a person reads each. */
const CHANGE_COLUMNS: readonly { code: ChangeCode; name: string; heading: readonly string[] }[] = [
  { code: 'change-swemwbs-metric', name: 'SWEMWBS metric score', heading: ['SWEMWBS', 'well-being', 'rise is better'] },
  { code: 'change-ons4-satisfaction', name: 'ONS4 life satisfaction', heading: ['ONS4', 'life satisfaction', 'rise is better'] },
  { code: 'change-ons4-worthwhile', name: 'ONS4 worthwhile', heading: ['ONS4', 'worthwhile', 'rise is better'] },
  { code: 'change-ons4-happiness', name: 'ONS4 happiness', heading: ['ONS4', 'happiness', 'rise is better'] },
  { code: 'change-ons4-anxiety', name: 'ONS4 anxiety', heading: ['ONS4', 'anxiety', 'fall is better'] },
  { code: 'change-ucla3-total', name: 'UCLA-3 loneliness', heading: ['UCLA-3', 'loneliness', 'fall is better'] },
];

const STRATIFIER_NAMES: Readonly<Record<(typeof STRATIFIERS)[number], string>> = {
  'age-band': 'age band', gender: 'gender', ethnicity: 'ethnic category', practice: 'referring practice', reason: 'referral reason',
};

const GENDER_NAMES: Readonly<Record<string, string>> = { female: 'Female', male: 'Male', other: 'Other', unknown: 'Not known' };

/** A stratum as a person reads it, and the code it has in the MeasureReport where that helps an auditor. */
function stratumName(stratifier: Stratifier, value: string, labels: ReportLabels): { name: string; code?: string } {
  switch (stratifier) {
    case 'age-band': return { name: value === 'unknown' ? 'Age not known' : value === '80+' ? '80 and over' : value.replace('-', ' to ') };
    case 'gender': return { name: GENDER_NAMES[value] ?? value };
    case 'ethnicity': return { name: ETHNIC_CATEGORIES[value] ?? value, code: value };
    case 'practice': return { name: labels.organizations.get(value) ?? value, code: value };
    case 'reason': return value === 'not-coded' ? { name: 'Not coded' } : { name: labels.reasons.get(value) ?? value, code: value };
    case 'decline-reason': return value === 'unspecified' ? { name: 'No reason given' } : { name: labels.declineReasons.get(value) ?? value, code: value };
  }
}

/** One row of a table or chart: the whole cohort, or one stratum, with its figure in each group. */
interface Row {
  key: string;
  name: string;
  code?: string;
  figure(group: GroupCode): Figure;
}

const NOTHING: Figure = { count: 0 };

function rowsOf(groups: ReadonlyMap<GroupCode, GroupFigures>, stratifier: Stratifier, labels: ReportLabels, anchor: GroupCode = 'received'): Row[] {
  const strata = groups.get(anchor)?.stratified.find((s) => s.stratifier === stratifier)?.strata ?? [];
  return strata.map(({ value }) => ({
    key: value,
    ...stratumName(stratifier, value, labels),
    figure: (group) => groups.get(group)?.stratified.find((s) => s.stratifier === stratifier)?.strata.find((s) => s.value === value)?.figure ?? NOTHING,
  }));
}

function totalRow(groups: ReadonlyMap<GroupCode, GroupFigures>): Row {
  return { key: 'all', name: 'All referrals', figure: (group) => groups.get(group)?.total ?? NOTHING };
}

/** A published value in words: the number, suppressed, or "no data" when nobody could be measured. */
function valueText(value: Published | undefined, count: Published, format: (v: number) => string): string {
  if (typeof value === 'number') return format(value);
  return count === 0 ? 'no data' : SUPPRESSED;
}

function rowHeader(row: Row): Html {
  return html`<th scope="row">${row.name}${row.code && html` <span class="code">${row.code}</span>`}</th>`;
}

function countCell(group: GroupCode, f: Figure): Html {
  return f.count === null
    ? html`<td data-figure="${group}" class="suppressed">${SUPPRESSED}</td>`
    : html`<td data-figure="${group}">${FORMATS.count(f.count)}</td>`;
}

/** A measured figure's cell: its value (and interval), and on a line of its own how many people it rests on. */
function measuredCell(group: GroupCode, f: Figure, format: (v: number) => string): Html {
  if (f.count === null) return html`<td data-figure="${group}" class="suppressed">${SUPPRESSED}</td>`;
  const value = valueText(f.value, f.count, format);
  const interval = typeof f.low === 'number' && typeof f.high === 'number' ? html` <span data-part="interval">(${format(f.low)} to ${format(f.high)})</span>` : '';
  return html`<td data-figure="${group}"><span data-part="value"${value === SUPPRESSED && html` class="suppressed"`}>${value}</span>${interval}<br><span data-part="count">n = ${FORMATS.count(f.count)}</span></td>`;
}

function table(kind: string, stratifier: Stratifier | 'total', caption: string, columns: readonly string[], body: Html[]): Html {
  return html`<table data-table="${kind}" data-stratifier="${stratifier}">
<caption>${caption}</caption>
<thead><tr>${columns.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
<tbody>
${body}
</tbody>
</table>`;
}

const COUNT_GROUPS: readonly { code: GroupCode; name: string }[] = [
  { code: 'received', name: 'Received' }, { code: 'accepted', name: 'Accepted' }, { code: 'declined', name: 'Declined' }, { code: 'completed', name: 'Completed' },
];

function countsTable(stratifier: Stratifier | 'total', first: string, caption: string, rows: readonly Row[]): Html {
  return table('counts', stratifier, caption, [first, ...COUNT_GROUPS.map((g) => g.name)],
    rows.map((row) => html`<tr data-stratum="${row.key}">${rowHeader(row)}${COUNT_GROUPS.map((g) => countCell(g.code, row.figure(g.code)))}</tr>\n`));
}

function timingsTable(stratifier: Stratifier | 'total', first: string, caption: string, rows: readonly Row[]): Html {
  return table('timings', stratifier, caption, [first, 'Median days from referral to acceptance', 'Median days from referral to completion'],
    rows.map((row) => html`<tr data-stratum="${row.key}">${rowHeader(row)}${measuredCell('days-to-acceptance', row.figure('days-to-acceptance'), FORMATS.days)}${measuredCell('days-to-completion', row.figure('days-to-completion'), FORMATS.days)}</tr>\n`));
}

function changeTable(stratifier: Stratifier | 'total', first: string, caption: string, rows: readonly Row[]): Html {
  const columns = [first, ...CHANGE_COLUMNS.map((c) => `${c.name}: mean change (95% CI)`), `SWEMWBS rise of ${SWEMWBS_MEANINGFUL_CHANGE} or more: share`];
  return table('change', stratifier, caption, columns, rows.map((row) => html`<tr data-stratum="${row.key}">${rowHeader(row)}${CHANGE_COLUMNS.map((c) => measuredCell(c.code, row.figure(c.code), FORMATS.change))}${measuredCell('swemwbs-improved', row.figure('swemwbs-improved'), FORMATS.share)}</tr>\n`));
}

function figure(chart: Html, caption: string): Html {
  return html`<figure>
<figcaption>${caption}</figcaption>
${chart}
</figure>`;
}

function changeFigure(id: string, what: string, rows: readonly Row[]): Html {
  const chartRows: ChangeRow[] = rows.map((row) => ({ label: row.name, figures: CHANGE_COLUMNS.map((c) => row.figure(c.code)) }));
  const chart = changeChart({
    id, title: `Well-being change, ${what}`,
    description: `For each score, the mean change from the first to the latest questionnaire, ${what}, as a dot with its 95% confidence interval as a line; hatched boxes mark suppressed figures. The exact figures are in the table after the chart.`,
  }, CHANGE_COLUMNS.map((c) => ({ heading: c.heading })), chartRows);
  return figure(chart, `Well-being change from first to latest questionnaire, ${what} (mean and 95% confidence interval)`);
}

function stratifierSection(groups: ReadonlyMap<GroupCode, GroupFigures>, stratifier: (typeof STRATIFIERS)[number], labels: ReportLabels): Html {
  const name = STRATIFIER_NAMES[stratifier];
  const heading = name[0]!.toUpperCase() + name.slice(1);
  const rows = rowsOf(groups, stratifier, labels);
  const bars = barChart({
    id: `counts-${stratifier}`, title: `Referrals received and completed, by ${name}`,
    description: `Two bars for each ${name}: referrals received (solid) and completed (light); hatched boxes mark suppressed figures. The exact figures are in the table after the chart.`,
  }, [{ name: 'Received', style: 'solid' }, { name: 'Completed', style: 'outlined' }],
  rows.map((row) => ({ label: row.name, values: [row.figure('received').count, row.figure('completed').count] })));
  return html`<section aria-labelledby="by-${stratifier}">
<h2 id="by-${stratifier}">By ${name}</h2>
<h3>Referrals received and completed</h3>
${figure(bars, `Referrals received and completed, by ${name}`)}
${countsTable(stratifier, heading, `Referrals by ${name}: received, accepted, declined and completed`, rows)}
<h3>Time to acceptance and completion</h3>
${timingsTable(stratifier, heading, `Median days from referral to acceptance and to completion, by ${name}`, rows)}
<h3>Well-being change</h3>
${changeFigure(`change-${stratifier}`, `by ${name}`, [totalRow(groups), ...rows])}
${changeTable(stratifier, heading, `Well-being change by ${name}: mean change (95% confidence interval) and people measured (n)`, rows)}
</section>`;
}

/** Everything the page shows besides the figures: what they cover, and the names to show for codes. */
export interface ReportPageInput {
  report: SocialPrescribingReport;
  labels: ReportLabels;
  /** The practices the caller may choose among (the period form's choices). */
  choosable: readonly string[];
  /** The practice asked for, if the report was narrowed to one. */
  practice?: string;
  /** Signed in by the reports' cookie, so a sign-out button means something. */
  signedIn: boolean;
}

const dayText = (d: string) => DAY.format(new Date(`${d}T00:00:00Z`));
const organisation = (ods: string, labels: ReportLabels) => `${labels.organizations.get(ods) ?? ods} (${ods})`;

/** The form that asks for another period or practice (a plain GET of this page), and, signed in, the sign-out. */
export function controls(values: { start?: string; end?: string; practice?: string }, choosable: readonly string[], labels: ReportLabels, signedIn: boolean): Html {
  return html`<nav class="controls" aria-label="Choose the report">
<form class="fields" method="get" action="${REPORT_PAGE_PATH}">
<div><label for="period-start">From</label><input type="date" id="period-start" name="period-start" required value="${values.start ?? ''}"></div>
<div><label for="period-end">To</label><input type="date" id="period-end" name="period-end" required value="${values.end ?? ''}"></div>
<div><label for="practice">Practice</label><select id="practice" name="practice">
<option value="">All practices covered</option>
${choosable.map((ods) => html`<option value="${ods}"${ods === values.practice && ' selected'}>${organisation(ods, labels)}</option>`)}
</select></div>
<div><button type="submit">Show report</button></div>
</form>
${signedIn && html`<form method="post" action="${SIGN_OUT_PATH}"><button type="submit" class="secondary">Sign out</button></form>`}
</nav>`;
}

/** The report page. */
export function reportPage({ report, labels, choosable, practice, signedIn }: ReportPageInput): string {
  const { figures, scope, practices } = report;
  const groups = new Map(figures.map((g) => [g.code, g]));
  const total = [totalRow(groups)];
  const declined = rowsOf(groups, 'decline-reason', labels, 'declined');
  const fhirQuery = new URLSearchParams({ 'period-start': scope.start, 'period-end': scope.end, ...(practice ? { practice } : {}) });
  return page(`Social prescribing report, ${dayText(scope.start)} to ${dayText(scope.end)}`, html`<header class="masthead">
<p class="service">Signpost · social prescribing reports</p>
<h1>Social prescribing: who is referred, who takes it up, and whose well-being changes</h1>
<dl class="scope">
<dt>Period</dt><dd>${dayText(scope.start)} to ${dayText(scope.end)}: referrals received on these days (UK time)</dd>
<dt>Practices covered</dt><dd>${practices.length ? practices.map((p) => organisation(p, labels)).join(', ') : 'none'}</dd>
<dt>Reporter</dt><dd>${scope.reporter ? organisation(scope.reporter, labels) : 'none named: an auditor\'s view of every configured practice'}</dd>
<dt>Figures as at</dt><dd>${INSTANT.format(new Date(scope.date))} (UK time)</dd>
</dl>
</header>
${controls({ start: scope.start, end: scope.end, ...(practice ? { practice } : {}) }, choosable, labels, signedIn)}
<main>
<section aria-labelledby="about">
<h2 id="about">About these figures</h2>
<div class="note" id="suppression">
<p>No patient is shown. To protect privacy, a figure is <strong>${SUPPRESSED}</strong> where publishing it could reveal a small group: counts from 1 to ${SMALL_NUMBER_MAX} are not published, nor any figure (a median, a mean, its interval, a share) that rests on fewer than ${FEWEST_PEOPLE} people; and where a small group could be worked out by arithmetic on what is shown (a total less the other counts of the same breakdown, referrals received less those accepted and declined), further counts, or the total, are suppressed too (secondary suppression); so is a single practice's figure that, taken from the figure for all the practices covered, would give the others' as a small group. Zero is published. The rule is that of <a href="https://github.com/opensafely-core/ehrql/pull/1746">OpenSAFELY's disclosure control guidance</a> for NHS England GP data.</p>
<p>Well-being change is the latest score less the first for each referral with both, on SWEMWBS (short Warwick-Edinburgh Mental Wellbeing Scale, metric score), the four ONS personal well-being questions and the three-item UCLA loneliness scale (for anxiety and loneliness a fall is an improvement). A SWEMWBS rise of ${SWEMWBS_MEANINGFUL_CHANGE} points or more is counted as meaningful (Shah et al. 2018). n is the number of people a figure rests on.</p>
</div>
</section>
<section aria-labelledby="summary">
<h2 id="summary">All referrals</h2>
${countsTable('total', 'Referrals', 'Referrals received, accepted, declined and completed', total)}
${timingsTable('total', 'Referrals', 'Median days from referral to acceptance and to completion', total)}
<h3>Well-being change</h3>
${changeFigure('change-total', 'all referrals', total)}
${changeTable('total', 'Referrals', 'Well-being change, all referrals: mean change (95% confidence interval) and people measured (n)', total)}
<h3>Declined referrals by reason</h3>
${declined.length
    ? table('counts', 'decline-reason', 'Declined referrals by the reason given', ['Reason', 'Declined'], declined.map((row) => html`<tr data-stratum="${row.key}">${rowHeader(row)}${countCell('declined', row.figure('declined'))}</tr>\n`))
    : html`<p>No referral in the period was declined.</p>`}
</section>
${STRATIFIERS.map((s) => stratifierSection(groups, s, labels))}
</main>
<footer>
<p>The same figures, for systems: <code>GET /fhir/MeasureReport/$social-prescribing?${fhirQuery.toString()}</code> with a bearer token (FHIR MeasureReport, or CSV with <code>Accept: text/csv</code>).</p>
</footer>`);
}
