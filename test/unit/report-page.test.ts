import { describe, expect, it } from 'vitest';
import { escapeHtml, html } from '../../src/reports/html.js';
import type { ReportLabels } from '../../src/reports/report-labels.js';
import { reportPage } from '../../src/reports/report-page.js';
import type { GroupFigures } from '../../src/reports/social-prescribing.js';

/** The reports page's markup: every string escaped, whatever a code or a name holds; suppressed never drawn as zero. */

const SCRIPT = '<script>alert(1)</script>';
const ATTRIBUTE = '"><img src=x onerror=alert(1)>';

describe('escaping', () => {
  it.each([
    [SCRIPT, '&lt;script&gt;alert(1)&lt;/script&gt;'],
    [ATTRIBUTE, '&quot;&gt;&lt;img src=x onerror=alert(1)&gt;'],
    ["' onmouseover='x", '&#39; onmouseover=&#39;x'],
    ['Tom & Jerry &amp;', 'Tom &amp; Jerry &amp;amp;'],
    ['plain A81001', 'plain A81001'],
  ])('escapes %s', (input, escaped) => {
    expect(escapeHtml(input)).toBe(escaped);
  });

  it('escapes what a template interpolates, in text and attributes, and passes markup it made itself', () => {
    const inner = html`<b>${SCRIPT}</b>`;
    expect(html`<p title="${ATTRIBUTE}">${inner}${[1, ' & ', 2]}${false}${undefined}${null}</p>`.markup)
      .toBe('<p title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"><b>&lt;script&gt;alert(1)&lt;/script&gt;</b>1 &amp; 2</p>');
    // A string that merely looks like markup is text.
    expect(html`${'<b>bold</b>'}`.markup).toBe('&lt;b&gt;bold&lt;/b&gt;');
  });
});

describe('the report page', () => {
  const hostileReason = SCRIPT;
  const hostilePractice = ATTRIBUTE;
  const labels: ReportLabels = {
    organizations: new Map([[hostilePractice, `Surgery ${SCRIPT}`], ['QWE', `Board ${ATTRIBUTE}`]]),
    reasons: new Map([[hostileReason, `Lonely ${SCRIPT}`]]),
    declineReasons: new Map(),
  };
  const figures: GroupFigures[] = [
    {
      code: 'received', total: { count: 12 },
      stratified: [
        { stratifier: 'reason', strata: [{ value: hostileReason, figure: { count: 12 } }] },
        { stratifier: 'practice', strata: [{ value: hostilePractice, figure: { count: null } }, { value: 'A81001', figure: { count: null } }] },
      ],
    },
    {
      code: 'completed', total: { count: 12 },
      stratified: [{ stratifier: 'practice', strata: [{ value: hostilePractice, figure: { count: null } }, { value: 'A81001', figure: { count: null } }] }],
    },
    { code: 'change-swemwbs-metric', total: { count: 12, value: 1.5, low: 0.5, high: 2.5 }, stratified: [] },
  ];
  const markup = reportPage({
    report: { figures, practices: [hostilePractice], scope: { start: '2026-01-01', end: '2026-03-31', date: '2026-04-01T09:00:00.000Z', reporter: 'QWE' } },
    labels, choosable: [hostilePractice], practice: hostilePractice, signedIn: true,
  });

  it('escapes codes and names wherever they appear: header, form, tables, charts', () => {
    expect(markup).not.toMatch(/<script|<img|onerror=alert\(1\)>/);
    expect(markup).toContain('Lonely &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(markup).toContain('<tr data-stratum="&lt;script&gt;alert(1)&lt;/script&gt;">');
    expect(markup).toContain('<option value="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" selected>');
    expect(markup).toContain('Board &quot;&gt;&lt;img src=x onerror=alert(1)&gt; (QWE)');
    expect(markup).toContain('practice=%22%3E%3Cimg+src%3Dx+onerror%3Dalert%281%29%3E');
  });

  it('writes suppressed figures as such and draws them hatched, not as zero; numbers in en-GB', () => {
    expect(markup).toContain('<tr data-stratum="A81001"><th scope="row">A81001 <span class="code">A81001</span></th><td data-figure="received" class="suppressed">suppressed (fewer than 8)</td>');
    const practiceChart = /<svg [^>]*aria-labelledby="counts-practice-title[\s\S]*?<\/svg>/.exec(markup)![0];
    expect(practiceChart.match(/<g class="suppressed">/g)).toHaveLength(4); // received and completed for each practice
    expect(practiceChart).not.toMatch(/<text x="[\d.]+" y="[\d.]+">0<\/text>/); // a bar's count (axis ticks have a class)
    expect(markup).toContain('<span data-part="value">+1.50</span> <span data-part="interval">(+0.50 to +2.50)</span><br><span data-part="count">n = 12</span>');
    expect(markup).toContain('1 January 2026 to 31 March 2026');
  });
});
