import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { reportCells, SUPPRESSED } from '../fixtures/report-cells.js';
import { seedReportPopulation } from '../fixtures/report-population.js';
import { gatewayForFile } from '../fixtures/secure-gateway.js';

/**
 * Issue 10's page for people, `/reports/social-prescribing`, over HTTP: the same callers, audit and
 * figures as `GET /fhir/MeasureReport/$social-prescribing` (every table cell is checked against the
 * MeasureReport of the same query), the sign-in form and its cookie, and refusals as readable pages.
 */

const t = gatewayForFile(['referrer', 'linkWorker', 'commissioner', 'auditor']);
const today = new Date().toISOString().slice(0, 10);
const period = `period-start=${today}&period-end=${today}`;

beforeAll(async () => {
  await seedReportPopulation(t.referrer, t.linkWorker);
}, 120_000);

const app = () => request(t.gw.app);
const withBearer = (token: string, url: string) => app().get(url).set('Authorization', `Bearer ${token}`);

// ---- Reading the page as text: the tables it is built from, cell by cell ----

const decode = (s: string) => s.replace(/<br>/g, ' | ').replace(/<[^>]+>/g, ' ').replace(/&lt;/g, '<').replace(/&gt;/g, '>')
  .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/\s+/g, ' ').trim();

/** Every figure cell of the page's tables, keyed table kind | stratifier | stratum | group, as text. */
function pageCells(page: string): Map<string, string> {
  const cells = new Map<string, string>();
  for (const [, kind, stratifier, body] of page.matchAll(/<table data-table="([^"]+)" data-stratifier="([^"]+)">([\s\S]*?)<\/table>/g)) {
    for (const [, stratum, row] of body!.matchAll(/<tr data-stratum="([^"]*)">([\s\S]*?)<\/tr>/g)) {
      for (const [, group, cell] of row!.matchAll(/<td data-figure="([^"]+)"[^>]*>([\s\S]*?)<\/td>/g)) {
        cells.set(`${kind}|${stratifier}|${stratum}|${group}`, decode(cell!));
      }
    }
  }
  return cells;
}

async function measureReport(token: string, query: string): Promise<fhir4.MeasureReport> {
  const res = await withBearer(token, `/fhir/MeasureReport/$social-prescribing?${query}`).set('Accept', 'application/fhir+json');
  expect(res.status).toBe(200);
  return res.body as fhir4.MeasureReport;
}

function signIn(clientId: string, secret: string, extra: Record<string, string> = {}) {
  return app().post('/reports/sign-in').type('form').send({ client_id: clientId, client_secret: secret, 'period-start': today, 'period-end': today, ...extra });
}

const cookieOf = (res: request.Response) => ([res.headers['set-cookie'] ?? []].flat() as string[]).find((c) => c.startsWith('signpost_report='));
async function refusalsAudited(): Promise<number> {
  const res = await t.auditor.get('/fhir/AuditEvent?subtype=social-prescribing&outcome=4&_summary=count');
  expect(res.status).toBe(200);
  return res.body.total as number;
}

describe('the report page', () => {
  it('shows a commissioner, signed in by bearer token, exactly the figures of the MeasureReport, in tables after charts', async () => {
    const res = await withBearer(t.commissioner.token, `/reports/social-prescribing?${period}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html; charset=utf-8/);
    expect(res.headers['cache-control']).toBe('no-store');
    const csp = res.headers['content-security-policy'];
    expect(csp).toMatch(/default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; form-action 'self'; frame-ancestors 'none'/);
    expect(csp).not.toContain('unsafe-inline');
    const page = res.text;
    expect(page).toMatch(/^<!doctype html>\n<html lang="en-GB">/);
    expect(page).not.toMatch(/<script|<link|<img|\sstyle="|\son\w+=/i); // nothing to run or fetch, no style attribute the policy would block
    // No drill-down: the only links leave for the published disclosure rule; forms post back to /reports.
    expect([...page.matchAll(/href="([^"]*)"/g)].map((m) => m[1])).toEqual(['https://github.com/opensafely-core/ehrql/pull/1746']);
    for (const [, action] of page.matchAll(/<form [^>]*action="([^"]*)"/g)) expect(action).toMatch(/^\/reports\//);

    const cells = pageCells(page);
    expect(cells.size).toBeGreaterThan(200);
    expect(Object.fromEntries(cells)).toEqual(Object.fromEntries(reportCells(await measureReport(t.commissioner.token, period))));
    expect(cells.get('counts|total|all|received')).toBe('40');
    expect(cells.get('change|total|all|change-swemwbs-metric')).toMatch(/^\+\d\.\d\d \(\+?-?\d\.\d\d to \+\d\.\d\d\) \| n = 20$/);

    // The header: period, practices covered, reporter.
    expect(decode(page)).toContain(`Practices covered Riverside Surgery (A81001) Reporter Riverside Integrated Care Board (QWE)`);
    // Eleven charts (well-being overall, and two per stratifier), each a figure with a caption, named for
    // assistive technology, and followed by its table.
    const figures = [...page.matchAll(/<figure>\n<figcaption>[^<]+<\/figcaption>\n<svg [^>]*role="img" aria-labelledby="([\w-]+)-title \1-desc"[^>]*>\n<title id="\1-title">[^<]+<\/title><desc id="\1-desc">[^<]+<\/desc>[\s\S]*?<\/svg>\n<\/figure>\n<table /g)];
    expect(figures).toHaveLength(11);
    // Headings in order, none skipped.
    const levels = [...page.matchAll(/<h([1-6])[ >]/g)].map((m) => Number(m[1]));
    levels.forEach((level, i) => expect(level - (levels[i - 1] ?? 0)).toBeLessThanOrEqual(1));
  });

  it('says "suppressed" where the MeasureReport masks a figure, draws it hatched, and explains the rule once', async () => {
    const page = (await withBearer(t.commissioner.token, `/reports/social-prescribing?${period}`)).text;
    const cells = pageCells(page);
    // 2 of unknown gender, 7 and 3 in two ethnic categories, 5 declined (and whatever secondary suppression adds).
    expect(cells.get('counts|gender|unknown|received')).toBe(SUPPRESSED);
    expect(cells.get('counts|ethnicity|N|received')).toBe(SUPPRESSED);
    expect(cells.get('counts|ethnicity|Z|received')).toBe(SUPPRESSED);
    expect(cells.get('counts|total|all|declined')).toBe(SUPPRESSED);
    expect(cells.get('counts|decline-reason|service-at-capacity|declined')).toBe(SUPPRESSED);
    for (const [key, text] of cells) {
      const n = /^(\d+)$/.exec(text) ?? /n = (\d+)$/.exec(text);
      if (n) expect(Number(n[1]) === 0 || Number(n[1]) >= 8, `${key}: ${text}`).toBe(true);
    }
    expect(page.match(/<g class="suppressed">/g)!.length).toBeGreaterThan(10);
    expect(page.match(/id="suppression"/g)).toHaveLength(1);
    expect(decode(page)).toContain('counts from 1 to 7 are not published, nor any figure (a median, a mean, its interval, a share) that rests on fewer than 8 people');
    expect(decode(page)).toContain('(secondary suppression)');
  });

  it('covers every configured practice for an auditor, and one when asked, as the MeasureReport does', async () => {
    for (const query of [period, `${period}&practice=A81001`, `${period}&practice=B82002`]) {
      const page = (await withBearer(t.auditor.token, `/reports/social-prescribing?${query}`)).text;
      expect(Object.fromEntries(pageCells(page))).toEqual(Object.fromEntries(reportCells(await measureReport(t.auditor.token, query))));
      expect(decode(page)).toContain('Reporter none named');
    }
    const all = decode((await withBearer(t.auditor.token, `/reports/social-prescribing?${period}`)).text);
    expect(all).toContain('Practices covered Riverside Surgery (A81001), Hillside Practice (B82002)');
    // The period form's "all practices" sends practice= empty, which means all.
    expect(pageCells((await withBearer(t.auditor.token, `/reports/social-prescribing?${period}&practice=`)).text).get('counts|total|all|received')).toBe('40');
  });

  it('answers no sign-in with a 401 page linking to the sign-in form, and audits it', async () => {
    const before = await refusalsAudited();
    const res = await app().get(`/reports/social-prescribing?${period}`);
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="signpost"');
    expect(res.text).toContain(`<a href="/reports/sign-in?${period.replace('&', '&amp;')}">Sign in to see the report</a>`);
    expect(await refusalsAudited()).toBe(before + 1);
    const expired = await app().get(`/reports/social-prescribing?${period}`).set('Cookie', 'signpost_report=not-a-token');
    expect(expired.status).toBe(401);
    expect(decode(expired.text)).toContain('Your sign-in has ended or is not valid');
  });

  it('signs a commissioner in with the form: a cookie for /reports alone, then the page, then out', async () => {
    const form = await app().get(`/reports/sign-in?${period}&client_secret=ignored`);
    expect(form.status).toBe(200);
    expect(form.text).toContain('<input id="client_secret" name="client_secret" type="password" required autocomplete="off">');
    expect(form.text).toContain(`<input type="hidden" name="period-start" value="${today}">`);
    expect(form.text).not.toContain('ignored');

    const { clientId, secret } = t.gw.clients.commissioner as { clientId: string; secret: string };
    const res = await signIn(clientId, secret);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/reports/social-prescribing?${period}`);
    const cookie = cookieOf(res)!;
    expect(cookie).toMatch(/^signpost_report=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=300; Path=\/reports; Expires=[^;]+; HttpOnly; SameSite=Strict$/);

    const page = await app().get(res.headers.location!).set('Cookie', cookie.split(';')[0]!);
    expect(page.status).toBe(200);
    expect(Object.fromEntries(pageCells(page.text))).toEqual(Object.fromEntries(reportCells(await measureReport(t.commissioner.token, period))));
    expect(page.text).toContain('<form method="post" action="/reports/sign-out">');

    const out = await app().post('/reports/sign-out');
    expect(out.status).toBe(303);
    expect(out.headers.location).toBe('/reports/sign-in');
    expect(cookieOf(out)).toMatch(/^signpost_report=; Path=\/reports; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Strict$/);
  });

  it('marks the cookie Secure unless the page is plain http on this machine, and opens the last year without a period', async () => {
    const { clientId, secret } = t.gw.clients.auditor as { clientId: string; secret: string };
    const behindTls = await app().post('/reports/sign-in').set('X-Forwarded-Proto', 'https').type('form').send({ client_id: clientId, client_secret: secret });
    expect(behindTls.status).toBe(303);
    expect(cookieOf(behindTls)).toMatch(/; HttpOnly; Secure; SameSite=Strict$/);
    expect(behindTls.headers.location).toMatch(/^\/reports\/social-prescribing\?period-start=\d{4}-\d{2}-01&period-end=\d{4}-\d{2}-\d{2}$/);
    const elsewhere = await signIn(clientId, secret).set('Host', 'reports.example.nhs.uk');
    expect(cookieOf(elsewhere)).toContain('; Secure;');
  });

  it('refuses a wrong secret (no cookie) and a client of another role (audited), showing the form again', async () => {
    const commissioner = t.gw.clients.commissioner as { clientId: string };
    const wrong = await signIn(commissioner.clientId, 'not-the-secret');
    expect(wrong.status).toBe(401);
    expect(cookieOf(wrong)).toBeUndefined();
    expect(decode(wrong.text)).toContain('The client id and secret do not match a client of this gateway.');
    expect(wrong.text).toContain(`value="${commissioner.clientId}"`);
    expect(wrong.text).not.toContain('not-the-secret');
    expect((await signIn(commissioner.clientId, '')).status).toBe(400);

    const before = await refusalsAudited();
    const gp = t.gw.clients.referrer as { clientId: string; secret: string };
    const refused = await signIn(gp.clientId, gp.secret);
    expect(refused.status).toBe(403);
    expect(cookieOf(refused)).toBeUndefined();
    expect(decode(refused.text)).toContain('The reports are for commissioners and auditors; gp-a81001 is a referrer client.');
    expect(await refusalsAudited()).toBe(before + 1);
  });

  it('honours the cookie on GET /reports only: never on /fhir or the JSON API, and its token reads reports alone', async () => {
    const { clientId, secret } = t.gw.clients.auditor as { clientId: string; secret: string };
    const cookie = cookieOf(await signIn(clientId, secret))!.split(';')[0]!;
    expect((await app().get(`/fhir/MeasureReport/$social-prescribing?${period}`).set('Cookie', cookie).set('Accept', 'application/fhir+json')).status).toBe(401);
    expect((await app().get('/api/v1/referrals').set('Cookie', cookie).set('Accept', 'application/json')).status).toBe(401);
    // Taken out of the browser, the token is an auditor's narrowed to MeasureReport: no Patient, no audit trail.
    const token = cookie.slice('signpost_report='.length);
    expect((await withBearer(token, '/fhir/Patient').set('Accept', 'application/fhir+json')).status).toBe(403);
    expect((await withBearer(token, `/fhir/MeasureReport/$social-prescribing?${period}`).set('Accept', 'application/fhir+json')).status).toBe(200);
  });

  it('refuses a sign-in or sign-out posted from another site', async () => {
    const { clientId, secret } = t.gw.clients.commissioner as { clientId: string; secret: string };
    const res = await signIn(clientId, secret).set('Sec-Fetch-Site', 'cross-site');
    expect(res.status).toBe(403);
    expect(cookieOf(res)).toBeUndefined();
    expect((await app().post('/reports/sign-out').set('Sec-Fetch-Site', 'same-site')).status).toBe(403);
    expect((await signIn(clientId, secret).set('Sec-Fetch-Site', 'same-origin')).status).toBe(303);
  });

  it('answers bad requests with readable pages, every string escaped, never a 500', async () => {
    const page = (url: string) => withBearer(t.commissioner.token, url);
    const cases: [string, number, string][] = [
      ['/reports/social-prescribing', 400, 'period-start is required, a date (YYYY-MM-DD)'],
      [`/reports/social-prescribing?period-start=${today}&period-end=2020-01-01`, 400, 'period-end must not be before period-start'],
      [`/reports/social-prescribing?${period}&period-start=${today}`, 400, 'period-start may be given once'],
      ['/reports/social-prescribing?period-start=%3Cscript%3Ealert(1)%3C%2Fscript%3E&period-end=2026-01-01', 400, 'period-start must be a calendar date, YYYY-MM-DD, not <script>alert(1)</script>'],
      [`/reports/social-prescribing?${period}&practice=%22%3E%3Csvg%20onload%3Dalert(1)%3E`, 403, '"><svg onload=alert(1)> is not a practice this report may cover for QWE'],
      [`/reports/social-prescribing?${period}&practice=B82002`, 403, 'B82002 is not a practice this report may cover for QWE'],
      ['/reports/nothing-here', 404, 'Nothing is served at GET /reports/nothing-here'],
    ];
    for (const [url, status, message] of cases) {
      const res = await page(url);
      expect(res.status, url).toBe(status);
      expect(res.headers['content-type'], url).toMatch(/^text\/html/);
      expect(decode(res.text), url).toContain(message);
      expect(res.text, url).not.toMatch(/<script|<svg onload|<[^>]*\sonload=|at \w+ \(/);
    }
    // A 400 offers the period form again, its values escaped.
    const bad = await page('/reports/social-prescribing?period-start=%22%3E%3Cb%3E&period-end=2026-01-01');
    expect(bad.text).toContain('<input type="date" id="period-start" name="period-start" required value="&quot;&gt;&lt;b&gt;">');
    // Other roles are refused the page as they are the operation.
    expect((await withBearer(t.referrer.token, `/reports/social-prescribing?${period}`)).status).toBe(403);
    expect((await withBearer(t.linkWorker.token, `/reports/social-prescribing?${period}`)).status).toBe(403);
  });

  // Last: it blocks this test process's address for the window, as it should.
  it('counts failed sign-ins at the form with the token endpoint\'s: guessing at one door blocks both', async () => {
    const asset = t.gw.clients.communityAsset as { clientId: string; secret: string };
    // Ten failures block (the form's earlier wrong secret counted against this address already).
    let guesses = 0;
    while ((await signIn(asset.clientId, `guess-${guesses}`)).status === 401) guesses++;
    expect(guesses).toBeGreaterThan(0);
    expect(guesses).toBeLessThan(10);
    const blocked = await signIn(asset.clientId, asset.secret);
    expect(blocked.status).toBe(429);
    expect(blocked.headers['retry-after']).toMatch(/^\d+$/);
    const token = await app().post('/oauth2/token').type('form').auth(asset.clientId, asset.secret).send({ grant_type: 'client_credentials' });
    expect(token.status).toBe(429);
  });
});
