import { beforeAll, describe, expect, it } from 'vitest';
import { MEASURE_URL } from '../../src/reports/measure-report.js';
import { expectOutcome } from '../fixtures/api.js';
import { r4Errors } from '../fixtures/r4-validator.js';
import { moveTask, refer } from '../fixtures/referrals.js';
import { gatewayForFile } from '../fixtures/secure-gateway.js';

/**
 * Issue 10 over HTTP: `GET /fhir/MeasureReport/$social-prescribing` for commissioners (their own
 * practices) and auditors, on referrals made through the gateway here: 16 from A81001, 8 of them accepted
 * (9 with 8 accepted would give away the 1 not accepted: secondary suppression would hide them).
 */

const t = gatewayForFile(['referrer', 'linkWorker', 'commissioner', 'auditor']);
const today = new Date().toISOString().slice(0, 10);
const period = `period-start=${today}&period-end=${today}`;

beforeAll(async () => {
  for (let i = 0; i < 16; i++) {
    const r = await refer(t.referrer, t.linkWorker, 9_800_000 + i * 11);
    if (i < 8) expect((await moveTask(t.linkWorker, r.task, { status: 'accepted' })).status).toBe(200);
  }
});

type Group = fhir4.MeasureReportGroup;
const groupOf = (report: fhir4.MeasureReport, code: string): Group => report.group!.find((g) => g.code?.coding?.[0]?.code === code)!;
const countOf = (g: Pick<Group, 'population'>) => g.population?.[0]?.count;
const stratum = (g: Group, stratifier: string, code: string) => g.stratifier!.find((s) => s.code?.[0]?.coding?.[0]?.code === stratifier)!
  .stratum!.find((s) => (s.value?.coding?.[0]?.code ?? s.value?.text) === code)!;

describe('the social prescribing report', () => {
  it('answers a commissioner with a valid R4 MeasureReport of its practices\' referrals in the period', async () => {
    const res = await t.commissioner.get(`/fhir/MeasureReport/$social-prescribing?${period}`);
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
    const report = res.body as fhir4.MeasureReport;
    expect(report).toMatchObject({ resourceType: 'MeasureReport', status: 'complete', type: 'summary', measure: MEASURE_URL, period: { start: today, end: today }, reporter: { reference: 'Organization/QWE' } });
    expect(r4Errors(report)).toEqual([]);
    expect(countOf(groupOf(report, 'received'))).toBe(16);
    expect(countOf(groupOf(report, 'accepted'))).toBe(8);
    expect(countOf(groupOf(report, 'declined'))).toBe(0);
    expect(countOf(stratum(groupOf(report, 'received'), 'practice', 'A81001'))).toBe(16);
  });

  it('publishes no count from 1 to 7, masking with data-absent-reason', async () => {
    const report = (await t.commissioner.get(`/fhir/MeasureReport/$social-prescribing?${period}`)).body as fhir4.MeasureReport;
    const days = groupOf(report, 'days-to-acceptance');
    expect(countOf(days)).toBe(8);
    expect(days.measureScore?.value).toBeGreaterThanOrEqual(0);
    const masked = report.group!.flatMap((g) => g.stratifier!.flatMap((s) => s.stratum!)).filter((s) => s.population?.[0]?._count);
    for (const s of masked) expect(s.population![0]!._count!.extension![0]).toEqual({ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'masked' });
    for (const g of report.group!) {
      for (const s of [g, ...g.stratifier!.flatMap((x) => x.stratum!)]) {
        const n = s.population?.[0]?.count;
        if (n !== undefined) expect(n === 0 || n >= 8, `${g.code?.coding?.[0]?.code}: ${n}`).toBe(true);
      }
    }
  });

  it('names our Measure, which every client may read and which lists exactly the report\'s groups', async () => {
    const found = await t.commissioner.get(`/fhir/Measure?url=${encodeURIComponent(MEASURE_URL)}`);
    expect(found.status).toBe(200);
    const measure = found.body.entry[0].resource as fhir4.Measure;
    expect(r4Errors(measure)).toEqual([]);
    const report = (await t.commissioner.get(`/fhir/MeasureReport/$social-prescribing?${period}`)).body as fhir4.MeasureReport;
    const codes = (groups: { code?: fhir4.CodeableConcept }[] | undefined) => (groups ?? []).map((g) => g.code?.coding?.[0]?.code);
    expect(codes(report.group)).toEqual(codes(measure.group));
    for (const g of measure.group!) {
      const reported = groupOf(report, g.code!.coding![0]!.code!);
      expect(reported.stratifier!.map((s) => s.code![0]!.coding![0]!.code)).toEqual(g.stratifier!.map((s) => s.code!.coding![0]!.code));
    }
  });

  it('covers every configured practice for an auditor, and one when asked', async () => {
    const all = (await t.auditor.get(`/fhir/MeasureReport/$social-prescribing?${period}`)).body as fhir4.MeasureReport;
    expect(all.reporter).toBeUndefined();
    const received = groupOf(all, 'received');
    expect(received.stratifier!.find((s) => s.code?.[0]?.coding?.[0]?.code === 'practice')!.stratum!.map((s) => s.value?.coding?.[0]?.code)).toEqual(['A81001', 'B82002']);
    expect(countOf(stratum(received, 'practice', 'B82002'))).toBe(0);
    const one = (await t.auditor.get(`/fhir/MeasureReport/$social-prescribing?${period}&practice=B82002`)).body as fhir4.MeasureReport;
    expect(countOf(groupOf(one, 'received'))).toBe(0);
  });

  it('answers the same figures as CSV when asked, suppressed cells saying so, and only JSON or CSV', async () => {
    const res = await t.commissioner.get(`/fhir/MeasureReport/$social-prescribing?${period}`).set('Accept', 'text/csv');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    const lines = res.text.trimEnd().split('\r\n');
    expect(lines[0]).toBe('group,stratifier,stratum,count,value,ci95_low,ci95_high');
    expect(lines).toContain('received,,,16,,,');
    expect(lines).toContain('accepted,practice,A81001,8,,,');
    expect(lines).toContain('received,gender,other,0,,,');
    const report = (await t.commissioner.get(`/fhir/MeasureReport/$social-prescribing?${period}`)).body as fhir4.MeasureReport;
    const median = groupOf(report, 'days-to-acceptance').measureScore!.value!;
    expect(lines).toContain(`days-to-acceptance,,,8,${median},,`);
    // No count of 1 to 7 anywhere in the table.
    for (const line of lines.slice(1)) expect(line.split(',')[3]).toMatch(/^(0|[89]|\d{2,}|suppressed)$/);
    expect((await t.commissioner.get(`/fhir/MeasureReport/$social-prescribing?${period}`).set('Accept', 'text/html')).status).toBe(406);
    expect((await t.commissioner.get('/fhir/Measure').set('Accept', 'text/csv')).status).toBe(406);
  });

  it('gives a commissioner no way to anything patient-level: FHIR, _include, history, the JSON API', async () => {
    const { sr, patient, task } = await refer(t.referrer, t.linkWorker, 9_800_500);
    const refusals = [
      `/fhir/Patient/${patient}`, `/fhir/Patient?_id=${patient}`, `/fhir/Patient/${patient}/_history`, `/fhir/ServiceRequest/${sr}`,
      `/fhir/Task/${task.id}`, `/fhir/Task?_include=Task:patient`,
      '/fhir/Task/_history', '/fhir/_history', '/fhir/Observation', '/fhir/Communication', '/fhir/AuditEvent', '/fhir/Consent',
    ];
    for (const url of refusals) {
      const res = await t.commissioner.get(url);
      expect([403, 404], `${url}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`).toContain(res.status);
      expect(JSON.stringify(res.body)).not.toContain(patient);
    }
    // Its own type reaches nothing else through _revinclude either.
    const own = await t.commissioner.get('/fhir/MeasureReport?_revinclude=Provenance:target');
    expect((own.body.entry ?? []).filter((e: fhir4.BundleEntry) => e.resource?.resourceType !== 'MeasureReport')).toEqual([]);
    const json = await t.commissioner.get('/api/v1/referrals').set('Accept', 'application/json');
    expect(json.status).toBe(403);
    expect((await t.commissioner.get(`/api/v1/referrals/${sr}`).set('Accept', 'application/json')).status).toBe(403);
    const refused = await t.auditor.get('/fhir/AuditEvent?agent=Organization/QWE&outcome=4&_count=100');
    expect((refused.body.entry ?? []).length).toBeGreaterThanOrEqual(refusals.length);
  });

  it('counts nothing outside the period', async () => {
    const report = (await t.commissioner.get('/fhir/MeasureReport/$social-prescribing?period-start=2020-01-01&period-end=2020-12-31')).body as fhir4.MeasureReport;
    expect(countOf(groupOf(report, 'received'))).toBe(0);
  });

  it('refuses other roles, another commissioner\'s practice and bad periods, and audits the report', async () => {
    for (const client of [t.referrer, t.linkWorker]) {
      expectOutcome(await client.get(`/fhir/MeasureReport/$social-prescribing?${period}`), { status: 403, code: 'forbidden' });
      // Refused for who it is, not for how it asked.
      expectOutcome(await client.get('/fhir/MeasureReport/$social-prescribing?period-start=nonsense'), { status: 403, code: 'forbidden' });
    }
    // An auditor's token narrowed to AuditEvent has not been given the report.
    const narrowed = await t.gw.as('auditor', 'system/AuditEvent.rs');
    expectOutcome(await narrowed.get(`/fhir/MeasureReport/$social-prescribing?${period}`), { status: 403, code: 'forbidden', expression: 'MeasureReport' });
    expectOutcome(await t.commissioner.get(`/fhir/MeasureReport/$social-prescribing?${period}&practice=B82002`), { status: 403, code: 'forbidden', expression: 'practice' });
    expectOutcome(await t.commissioner.get('/fhir/MeasureReport/$social-prescribing?period-end=2026-01-01'), { status: 400, code: 'required', expression: 'period-start' });
    expectOutcome(await t.commissioner.get('/fhir/MeasureReport/$social-prescribing?period-start=2026-02-30&period-end=2026-03-01'), { status: 400, code: 'value', expression: 'period-start' });
    expectOutcome(await t.commissioner.get('/fhir/MeasureReport/$social-prescribing?period-start=2026-03-01&period-end=2026-02-01'), { status: 400, code: 'value', expression: 'period-end' });
    const audit = await t.auditor.get('/fhir/AuditEvent?subtype=social-prescribing&outcome=0');
    expect((audit.body.entry ?? []).length).toBeGreaterThanOrEqual(1);
    const refused = await t.auditor.get('/fhir/AuditEvent?subtype=social-prescribing&outcome=4');
    expect((refused.body.entry ?? []).length).toBeGreaterThanOrEqual(9);
  });
});
