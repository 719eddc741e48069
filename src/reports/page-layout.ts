import { createHash } from 'node:crypto';
import { Html, html } from './html.js';

/**
 * The shell of the reports' HTML pages (the report, its sign-in form, its error pages): one inline
 * stylesheet, and no script or external asset of any kind, so the pages work without JavaScript and
 * offline, print cleanly and can be served under a content security policy that allows that one
 * stylesheet by its hash and nothing else.
 */

export const REPORTS_PATH = '/reports';
export const REPORT_PAGE_PATH = `${REPORTS_PATH}/social-prescribing`;
export const SIGN_IN_PATH = `${REPORTS_PATH}/sign-in`;
export const SIGN_OUT_PATH = `${REPORTS_PATH}/sign-out`;

// Colours: text #1a1a1a and #595959 on white (17:1 and 7:1), white on #1f4e79 (8.6:1): WCAG AA and more.
const STYLE = `
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1a1a1a; background: #ffffff; }
.page { max-width: 60rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
header.masthead { border-bottom: 4px solid #1f4e79; margin-bottom: 1rem; }
.service { margin: 0; font-weight: 600; color: #1f4e79; }
h1 { font-size: 1.8rem; line-height: 1.25; margin: .25rem 0 .75rem; }
h2 { font-size: 1.4rem; margin: 2.5rem 0 .75rem; padding-bottom: .25rem; border-bottom: 1px solid #c8c8c8; }
h3 { font-size: 1.15rem; margin: 1.75rem 0 .5rem; }
dl.scope { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0 0 1rem; }
dl.scope dt { font-weight: 600; }
dl.scope dd { margin: 0; }
.controls { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: flex-end; gap: 1rem; padding: .75rem 1rem; background: #f3f3f3; border: 1px solid #c8c8c8; }
form.fields { display: flex; flex-wrap: wrap; align-items: flex-end; gap: .75rem 1rem; margin: 0; }
form.stacked { display: grid; gap: .75rem; max-width: 24rem; }
label { display: block; font-weight: 600; font-size: .9rem; }
input, select, button { font: inherit; padding: .3rem .5rem; border: 1px solid #595959; border-radius: 3px; background: #ffffff; color: #1a1a1a; }
button { background: #1f4e79; border-color: #1f4e79; color: #ffffff; font-weight: 600; cursor: pointer; }
button.secondary { background: #ffffff; color: #1f4e79; }
a { color: #1f4e79; }
:focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }
.note { border-left: 5px solid #1f4e79; background: #f3f3f3; padding: .5rem 1rem; margin: 1rem 0; }
.alert { border-left: 5px solid #b10e1e; background: #fbeaea; padding: .5rem 1rem; margin: 1rem 0; }
figure { margin: 1rem 0 .5rem; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: .5rem; }
svg.chart { display: block; width: 100%; height: auto; }
svg.chart text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #1a1a1a; }
svg.chart .tick { font-size: 11px; }
svg.chart .heading { font-weight: 600; }
svg.chart .muted { fill: #595959; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; font-size: .875rem; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding-bottom: .35rem; }
th, td { border: 1px solid #c8c8c8; padding: .3rem .5rem; vertical-align: top; }
thead th { background: #e8eef5; text-align: left; }
tbody th { text-align: left; font-weight: normal; }
td { text-align: right; }
.code { color: #595959; font-size: .8rem; }
.suppressed { font-style: italic; color: #595959; }
footer { margin-top: 3rem; font-size: .875rem; color: #595959; }
@media print {
  .controls, .no-print { display: none !important; }
  body { font-size: 10pt; }
  .page { max-width: none; padding: 0; }
  h2, h3, caption { break-after: avoid; page-break-after: avoid; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  table { font-size: 8pt; }
  th, td { padding: .15rem .3rem; }
  a { color: inherit; text-decoration: none; }
  a[href^="http"]::after { content: " (" attr(href) ")"; }
}
@page { margin: 15mm; }
`;

/**
 * The pages' content security policy: nothing may load or run; the one inline stylesheet is allowed by
 * its SHA-256 (CSP Level 2 hash source), so neither 'unsafe-inline' nor a per-response nonce is
 * needed, and an injected <style> or style attribute would not apply; forms post only to the gateway.
 */
export const REPORT_PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE, 'utf8').digest('base64')}'`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** A whole page: the shell around `body`. */
export function page(title: string, body: Html): string {
  return html`<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${new Html(STYLE)}</style>
</head>
<body>
<div class="page">
${body}
</div>
</body>
</html>
`.markup;
}

const masthead = (title: string) => html`<header class="masthead"><p class="service">Signpost · social prescribing reports</p><h1>${title}</h1></header>`;

/** The report's query (period-start, period-end, practice) carried through a form unchanged. */
function kept(query: URLSearchParams): Html[] {
  return [...query].map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`);
}

export interface SignInPageOptions {
  /** What went wrong with the last attempt. */
  problem?: string;
  /** The client id the last attempt named (never the secret). */
  clientId?: string;
  /** The report's query, to open after signing in. */
  report: URLSearchParams;
}

/**
 * The sign-in form for people in a browser, who cannot send a bearer token without JavaScript: the
 * organisation's client id and secret, checked as the token endpoint checks them.
 */
export function signInPage({ problem, clientId, report }: SignInPageOptions): string {
  return page('Sign in: social prescribing report', html`${masthead('Sign in to the social prescribing report')}
<main>
<p>The report is for commissioners and auditors. Sign in with your organisation's client id and client secret for this gateway.</p>
${problem && html`<div class="alert" role="alert"><p>${problem}</p></div>`}
<form class="stacked" method="post" action="${SIGN_IN_PATH}">
<div><label for="client_id">Client id</label><input id="client_id" name="client_id" required autocapitalize="none" spellcheck="false" value="${clientId ?? ''}"></div>
<div><label for="client_secret">Client secret</label><input id="client_secret" name="client_secret" type="password" required autocomplete="off"></div>
${kept(report)}
<div><button type="submit">Sign in</button></div>
</form>
<p>You stay signed in for a few minutes; this browser keeps the sign-in only for the reports' pages.</p>
</main>`);
}

const TITLES: Readonly<Record<number, string>> = {
  400: 'The report cannot be made for this request',
  401: 'Sign in to see the report',
  403: 'Not allowed',
  404: 'Page not found',
  413: 'The form is too large',
  429: 'Too many attempts',
};

/** An error page: what went wrong in words, and what to do next (`next`, e.g. a sign-in link). */
export function errorPage(status: number, message: string, next: Html = html``): string {
  const title = TITLES[status] ?? (status >= 500 ? 'Something went wrong' : 'The request could not be answered');
  return page(title, html`${masthead(title)}
<main>
<div class="alert" role="alert"><p>${message}</p></div>
${next}
</main>`);
}
