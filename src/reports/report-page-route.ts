import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import type { AccessTokens } from '../auth/access-token.js';
import { bearerToken } from '../auth/bearer.js';
import { OAuthError, readClientCredentials } from '../auth/client-auth.js';
import { FORM_TYPE, readForm, TooManyFailures, type ClientSignIn } from '../auth/token-endpoint.js';
import type { Deployment } from '../config/deployment.js';
import { FhirError } from '../fhir/errors.js';
import type { Caller, FhirContext, InteractionInfo } from '../fhir/interaction.js';
import { interactionInfo } from '../http/request-context.js';
import { londonDate } from '../workflow/working-days.js';
import { html, type Html } from './html.js';
import { errorPage, REPORT_PAGE_CSP, REPORT_PAGE_PATH, REPORTS_PATH, SIGN_IN_PATH, signInPage } from './page-layout.js';
import type { ReportLabels } from './report-labels.js';
import { coveredPractices, socialPrescribingReport } from './report-operation.js';
import { controls, reportPage } from './report-page.js';

/**
 * The reports' pages for people in a browser, under /reports: the social prescribing report as HTML
 * (the same audited computation as the FHIR operation, for the same callers) and a sign-in form.
 *
 * A browser without JavaScript cannot send a bearer token, so signing in sets the token the token
 * endpoint would have issued as a cookie, scoped to these pages alone: HttpOnly (no script reads it),
 * SameSite=Strict (no other site's page or link sends it), Path=/reports, Secure unless the page is
 * plain http to this machine itself (where no network carries it, and a browser may refuse a Secure
 * cookie), and no longer-lived than the token. Only GET /reports/* honours it; /fhir and /api/v1 read the Authorization header alone, so the
 * cookie can never make a browser act on the APIs. The token is narrowed to reading MeasureReports.
 */

const REPORT_COOKIE = 'signpost_report';
/** What the cookie's token may do: read the report, nothing else the role might allow. */
const PAGE_SCOPE = 'system/MeasureReport.rs';
const REPORT_ROLES: readonly string[] = ['commissioner', 'auditor'];
const REPORT_PARAMS = ['period-start', 'period-end', 'practice'] as const;
/** A sign-in form is two short fields and the report's query. */
const FORM_LIMIT = 16 * 1024;

export interface ReportPageOptions {
  context: FhirContext;
  deployment: Deployment;
  tokens: AccessTokens;
  signIn: ClientSignIn;
  /** Records a refusal that no interaction has audited (no sign-in; a client whose role has no reports). */
  auditRefusal: (caller: Caller | undefined, info: InteractionInfo, error: unknown) => Promise<void>;
  labels: ReportLabels;
  logger: Logger;
}

/** The report's parameters among `params`, the empty ones left out: what a sign-in carries to the report. */
function reportQuery(params: Iterable<[string, string]>): URLSearchParams {
  return new URLSearchParams([...params].filter(([name, value]) => (REPORT_PARAMS as readonly string[]).includes(name) && value !== ''));
}

const queryOf = (req: Request) => new URLSearchParams(req.originalUrl.split('?')[1] ?? '');

/** The last twelve calendar months to today (UK time): what a sign-in without a period opens. */
function defaultPeriod(): URLSearchParams {
  const today = londonDate(Date.now());
  const [year, month] = today.split('-').map(Number) as [number, number];
  const start = new Date(Date.UTC(year, month - 12, 1)).toISOString().slice(0, 10);
  return new URLSearchParams({ 'period-start': start, 'period-end': today });
}

function cookieToken(req: Request): string | undefined {
  for (const pair of (req.headers.cookie ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === REPORT_COOKIE) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Plain http to this machine itself, as the browser names it (localhost, 127.x, ::1): nothing on a
 * network can read the cookie there, and not every browser keeps a Secure cookie from plain http.
 * Behind a trusted TLS proxy, req.protocol is https (X-Forwarded-Proto), so the cookie is Secure.
 */
function plainLoopback(req: Request): boolean {
  const host = req.hostname.replace(/^\[|\]$/g, '');
  return req.protocol === 'http' && (host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host));
}

function cookieOptions(req: Request): express.CookieOptions {
  return { httpOnly: true, sameSite: 'strict', path: REPORTS_PATH, secure: !plainLoopback(req) };
}

/**
 * A form posted from another site is refused: the cookie is SameSite=Strict already, and this stops a
 * page elsewhere from signing a browser in or out. Browsers say where a request comes from in
 * Sec-Fetch-Site; a client that does not send it (curl) is not a browser another site can drive.
 */
const fromOwnPages: RequestHandler = (req, _res, next) => {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return next(new FhirError(403, 'forbidden', 'Sign in and out from this gateway\'s own pages: this form was sent from another site.'));
  }
  next();
};

function sendPage(res: Response, status: number, markup: string): void {
  res.status(status).type('html').send(markup);
}

export function reportPageRouter(options: ReportPageOptions): express.Router {
  const { context, deployment, tokens, signIn, auditRefusal, labels, logger } = options;
  const router = express.Router();
  const formBody = express.text({ type: FORM_TYPE, limit: FORM_LIMIT });
  // Refusals before the report's own audited run are recorded as the operation records its refusals.
  const refusalInfo = (req: Request, res: Response) => interactionInfo(req, res, 'social-prescribing', 'MeasureReport');

  router.use((_req, res, next) => {
    // The pages' own policy replaces the API's (which allows no stylesheet), and nothing of them is cached.
    res.setHeader('Content-Security-Policy', REPORT_PAGE_CSP);
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  /** The bearer token of the Authorization header, else the reports' cookie: the caller, or a 401 page (audited, as /fhir's are). */
  const authenticate: RequestHandler = async (req, res, next) => {
    const header = req.headers.authorization;
    const token = header !== undefined ? bearerToken(header) : cookieToken(req);
    const caller = token ? await tokens.verify(token) : undefined;
    if (!caller) {
      const refusal = new FhirError(401, 'login', token
        ? 'Your sign-in has ended or is not valid. Sign in again to see the report.'
        : 'The report needs a commissioner\'s or an auditor\'s sign-in.', undefined, { 'WWW-Authenticate': 'Bearer realm="signpost"' });
      if (header === undefined && token !== undefined) res.clearCookie(REPORT_COOKIE, cookieOptions(req));
      await auditRefusal(undefined, refusalInfo(req, res), refusal);
      return next(refusal);
    }
    res.locals.caller = { ...caller, ...(req.ip ? { address: req.ip } : {}) } satisfies Caller;
    res.locals.signedIn = header === undefined;
    next();
  };

  router.get('/social-prescribing', authenticate, async (req, res) => {
    const report = await socialPrescribingReport(context, deployment, req, res);
    const practice = queryOf(req).get('practice') || undefined;
    sendPage(res, 200, reportPage({
      report, labels, choosable: coveredPractices(res.locals.caller as Caller, deployment), signedIn: res.locals.signedIn === true, ...(practice ? { practice } : {}),
    }));
  });

  router.get('/sign-in', (req, res) => void sendPage(res, 200, signInPage({ report: reportQuery(queryOf(req)) })));

  router.post('/sign-in', fromOwnPages, formBody, async (req, res) => {
    const form = readForm(req.body);
    const report = reportQuery(Object.entries(form));
    const clientId = form.client_id;
    const again = (status: number, problem: string) => sendPage(res, status, signInPage({ problem, report, ...(clientId ? { clientId } : {}) }));
    if (!clientId || !form.client_secret) return again(400, 'Enter both the client id and the client secret.');
    const credentials = { client_id: clientId, client_secret: form.client_secret };
    let client;
    try {
      client = await signIn.authenticate(() => readClientCredentials(credentials, undefined), req.ip);
    } catch (e) {
      if (e instanceof TooManyFailures) {
        res.setHeader('Retry-After', String(e.retryAfter));
        return again(429, `Too many failed sign-ins. Try again in ${e.retryAfter} seconds.`);
      }
      if (e instanceof OAuthError && e.error === 'invalid_client') return again(401, 'The client id and secret do not match a client of this gateway.');
      throw e;
    }
    if (!REPORT_ROLES.includes(client.role)) {
      const caller: Caller = { clientId: client.clientId, role: client.role, organization: client.organization, scopes: [], ...(req.ip ? { address: req.ip } : {}) };
      const refusal = new FhirError(403, 'forbidden', `The reports are for commissioners and auditors; ${client.clientId} is a ${client.role} client.`, 'MeasureReport');
      await auditRefusal(caller, refusalInfo(req, res), refusal);
      return again(403, refusal.message);
    }
    const granted = await signIn.issue(client, PAGE_SCOPE);
    res.cookie(REPORT_COOKIE, granted.access_token, { ...cookieOptions(req), maxAge: granted.expires_in * 1000 });
    const target = report.has('period-start') || report.has('period-end') ? report : new URLSearchParams([...defaultPeriod(), ...report]);
    res.redirect(303, `${REPORT_PAGE_PATH}?${target}`);
  });

  router.post('/sign-out', fromOwnPages, (req, res) => {
    res.clearCookie(REPORT_COOKIE, cookieOptions(req));
    res.redirect(303, SIGN_IN_PATH);
  });

  router.use((req, _res, next) => next(new FhirError(404, 'not-found', `Nothing is served at ${req.method} ${REPORTS_PATH}${req.path}`)));

  // Every refusal as a page a person can act on; anything unexpected as a 500 naming the request id only.
  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return void res.end();
    const requestId = String(res.getHeader('X-Request-Id') ?? '');
    const parserStatus = (err as { status?: unknown; type?: unknown }).type !== undefined ? (err as { status?: unknown }).status : undefined;
    let status: number;
    let message: string;
    if (err instanceof FhirError) {
      status = err.status;
      message = err.message;
      for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
    } else if (err instanceof OAuthError) {
      status = err.status;
      message = err.description;
    } else if (typeof parserStatus === 'number' && parserStatus >= 400 && parserStatus < 500) {
      status = parserStatus;
      message = parserStatus === 413 ? `The form is larger than ${FORM_LIMIT} bytes.` : 'The form could not be read.';
    } else {
      logger.error({ err, requestId, method: req.method, path: req.path }, 'unhandled error');
      status = 500;
      message = `The server could not complete the request; quote request id ${requestId} to the operator.`;
    }
    sendPage(res, status, errorPage(status, message, nextStep(status, req, res, options)));
  });
  return router;
}

/** What a person can do about a refusal of the report: sign in, or ask for another period. */
function nextStep(status: number, req: Request, res: Response, { deployment, labels }: ReportPageOptions): Html {
  const query = reportQuery(queryOf(req));
  const signInLink = `${SIGN_IN_PATH}${query.size ? `?${query}` : ''}`;
  if (status === 401) return html`<p><a href="${signInLink}">Sign in to see the report</a></p>`;
  if (status === 403) return html`<p><a href="${signInLink}">Sign in as another client</a></p>`;
  const caller = res.locals.caller as Caller | undefined;
  if (status === 400 && caller && REPORT_ROLES.includes(caller.role) && req.path === '/social-prescribing') {
    const values = { start: query.get('period-start') ?? '', end: query.get('period-end') ?? '', practice: query.get('practice') ?? '' };
    return html`<p>Choose the period, from and to a calendar day, and optionally one practice:</p>
${controls(values, coveredPractices(caller, deployment), labels, res.locals.signedIn === true)}`;
  }
  return html``;
}
