import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chromium, CHROMIUM, type CdpEvent } from '../fixtures/chromium.js';
import { reportCells } from '../fixtures/report-cells.js';
import { seedReportPopulation } from '../fixtures/report-population.js';
import { startSecureTestGateway, type SecureTestGateway } from '../fixtures/secure-gateway.js';

/**
 * Issue 10's page as a person gets it: the gateway listening on a port, Debian's headless chromium
 * signing in through the form (clicks and typing), then the report: its charts drawn, its tables those
 * of the MeasureReport, nothing refused by the content security policy or logged as an error. The page
 * as drawn is saved for the README (docs/report-page.png).
 */

const SCREENSHOT = path.resolve(import.meta.dirname, '../../docs/report-page.png');
const present = fs.existsSync(CHROMIUM);
if (!present) console.warn(`Skipping the report page's browser test: ${CHROMIUM} is absent (apt-get install chromium; .ci/run installs it).`);

describe.skipIf(!present)('the report page in headless Chromium', () => {
  const today = new Date().toISOString().slice(0, 10);
  const period = `period-start=${today}&period-end=${today}`;
  let gw: SecureTestGateway;
  let server: Server;
  let origin: string;
  let browser: Chromium;

  beforeAll(async () => {
    gw = await startSecureTestGateway();
    const [gp, lw] = await Promise.all([gw.as('referrer'), gw.as('linkWorker')]);
    await Promise.all([seedReportPopulation(gp, lw), Chromium.launch().then((b) => { browser = b; })]);
    server = gw.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (server) await new Promise((resolve) => server.close(resolve));
    await gw?.close();
  });

  it('signs in through the form, draws the charts, shows the MeasureReport\'s figures, and breaks no rule', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    browser.on((e: CdpEvent) => {
      if (e.sessionId !== page) return;
      const p = e.params as { type?: string; args?: unknown; exceptionDetails?: unknown; entry?: { level: string; source: string; text: string; url?: string } };
      if (e.method === 'Runtime.exceptionThrown') problems.push(`exception: ${JSON.stringify(p.exceptionDetails)}`);
      if (e.method === 'Runtime.consoleAPICalled' && p.type === 'error') problems.push(`console: ${JSON.stringify(p.args)}`);
      if (p.entry && (p.entry.level === 'error' || p.entry.source === 'security')) problems.push(`${p.entry.source}: ${p.entry.text} ${p.entry.url ?? ''}`);
    });
    for (const domain of ['Page', 'Runtime', 'Log']) await browser.send(`${domain}.enable`, {}, page);
    // The test's own listener (DevTools scripts are not the page's, and the policy does not apply to them).
    await browser.send('Page.addScriptToEvaluateOnNewDocument', {
      source: "window.__violations = []; document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));",
    }, page);
    await browser.send('Emulation.setDeviceMetricsOverride', { width: 1024, height: 900, deviceScaleFactor: 1, mobile: false }, page);

    const load = async (action: () => Promise<unknown>) => {
      const loaded = browser.next('Page.loadEventFired', page);
      await action();
      await loaded;
    };
    const click = async (selector: string) => {
      const box = await browser.evaluate<{ x: number; y: number }>(page,
        `(() => { const r = document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect(); return { x: r.x + r.width / 2, y: r.y + r.height / 2 }; })()`);
      for (const type of ['mousePressed', 'mouseReleased']) await browser.send('Input.dispatchMouseEvent', { type, ...box, button: 'left', clickCount: 1 }, page);
    };
    const type = async (selector: string, text: string) => {
      await click(selector);
      await browser.send('Input.insertText', { text }, page);
    };

    // No sign-in yet: the page says so and links to the form, which a person fills in.
    await load(() => browser.send('Page.navigate', { url: `${origin}/reports/social-prescribing?${period}` }, page));
    expect(await browser.evaluate(page, 'document.title')).toBe('Sign in to see the report');
    // The browser logs the 401 it was meant to get; nothing else may be logged from here on.
    expect(problems.splice(0)).toEqual([expect.stringMatching(/^network: .* status of 401 \(Unauthorized\)/)]);
    await load(() => click('main a'));
    const { clientId, secret } = gw.clients.commissioner as { clientId: string; secret: string };
    await type('#client_id', clientId);
    await type('#client_secret', secret);
    await load(() => click('button[type=submit]'));
    expect(await browser.evaluate(page, 'location.pathname + location.search')).toBe(`/reports/social-prescribing?${period}`);

    // Every chart is drawn, with marks inside it; the stylesheet applied under the policy.
    const charts = await browser.evaluate<{ title: string; width: number; height: number; marks: number }[]>(page, `[...document.querySelectorAll('figure svg[role=img]')].map((svg) => {
      const r = svg.getBoundingClientRect();
      const marks = [...svg.querySelectorAll('rect[stroke="#1f4e79"], circle, g.suppressed')].filter((m) => { const b = m.getBoundingClientRect(); return b.width > 0 && b.height > 0; });
      return { title: svg.querySelector('title').textContent, width: r.width, height: r.height, marks: marks.length };
    })`);
    expect(charts).toHaveLength(11);
    for (const chart of charts) {
      expect(chart.width, chart.title).toBeGreaterThan(600);
      expect(chart.height, chart.title).toBeGreaterThan(80);
      expect(chart.marks, chart.title).toBeGreaterThan(0);
    }
    expect(await browser.evaluate(page, "getComputedStyle(document.querySelector('header.masthead')).borderBottomWidth")).toBe('4px');

    // The tables, as the browser renders their text, are the MeasureReport's figures.
    const shown = await browser.evaluate<[string, string][]>(page, `[...document.querySelectorAll('table[data-table]')].flatMap((table) =>
      [...table.querySelectorAll('tr[data-stratum]')].flatMap((tr) => [...tr.querySelectorAll('td[data-figure]')].map((td) =>
        [table.dataset.table + '|' + table.dataset.stratifier + '|' + tr.dataset.stratum + '|' + td.dataset.figure, td.innerText.replace(/\\n/g, ' | ').replace(/\\s+/g, ' ').trim()])))`);
    const report = await fetch(`${origin}/fhir/MeasureReport/$social-prescribing?${period}`, {
      headers: { authorization: `Bearer ${(await gw.as('commissioner')).token}`, accept: 'application/fhir+json' },
    });
    expect(Object.fromEntries(shown)).toEqual(Object.fromEntries(reportCells((await report.json()) as fhir4.MeasureReport)));

    expect(await browser.evaluate(page, 'window.__violations')).toEqual([]);
    expect(problems).toEqual([]);

    // The top of the page for the README (the whole is some 14,000 pixels tall: unreadable as one
    // picture); and it prints.
    const { cssContentSize } = await browser.send<{ cssContentSize: { width: number; height: number } }>('Page.getLayoutMetrics', {}, page);
    const shot = await browser.send<{ data: string }>('Page.captureScreenshot', {
      format: 'png', captureBeyondViewport: true, clip: { x: 0, y: 0, width: cssContentSize.width, height: Math.min(cssContentSize.height, 2000), scale: 1 },
    }, page);
    fs.writeFileSync(SCREENSHOT, Buffer.from(shot.data, 'base64'));
    const pdf = await browser.send<{ data: string }>('Page.printToPDF', {}, page);
    expect(Buffer.from(pdf.data, 'base64').subarray(0, 5).toString()).toBe('%PDF-');
  }, 30_000);
});
