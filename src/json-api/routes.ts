import { createHash } from 'node:crypto';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { transaction } from '../fhir/bundle.js';
import { dispatch } from '../fhir/dispatch.js';
import { FhirError } from '../fhir/errors.js';
import type { Caller, FhirContext, FhirResult, InteractionInfo } from '../fhir/interaction.js';
import { BODY_LIMIT } from '../http/fhir-routes.js';
import { interactionInfo } from '../http/request-context.js';
import type { Stored, StoreTx } from '../store/store.js';
import { docsPage } from './docs-page.js';
import { openApiDocument, type ApiOperation } from './openapi.js';
import { parseBody, problem, problemFromFhir, PROBLEM_MEDIA_TYPE, ProblemError, type ExpressionMapper } from './problem.js';
import { referralBundle, referralIdentifierSystem } from './referral-in.js';
import { ReferralReader } from './referral-out.js';
import { ACTIONS, ActionIn, actedTask, actionMapper, handOnTask, HandOnIn, type StatusAction } from './actions.js';
import { OutcomeIn, outcomeMapper, outcomeResponse, type OutcomeScores } from './outcome-in.js';
import { listCursor, nextCursor, type ListCursor } from './list-cursor.js';
import { ReferralIn, type ReferralCreated, type ReferralDetail, type ReferralSummary } from './schemas.js';

export interface JsonApiOptions {
  context: FhirContext;
  /** The bearer-token check /fhir uses: the same tokens, the same caller. */
  authenticate: RequestHandler;
  /** Records a request refused before its interaction ran, as /fhir does. */
  auditRefusal: (caller: Caller | undefined, info: InteractionInfo, error: unknown) => Promise<void>;
  version: string;
  /** The Task status reason codings (`system|code`), to give a reason code its system. */
  statusReasons: ReadonlySet<string>;
}

/** An operation of the API with the FHIR interaction it is audited as. */
interface Route extends ApiOperation {
  audit: { subtype: string; type: string };
  /** Answers the call; `self` is this route (what its interaction is audited as). */
  handler: (req: Request, res: Response, self: Route) => Promise<void>;
}

/** How long an Idempotency-Key is remembered (its first response with it). */
const IDEMPOTENCY_MICROS = 24 * 3600 * 1_000_000;
/** Referrals per page of the list. */
const PAGE = 50;
// http://hl7.org/fhir/R4/valueset-task-status.html
const TASK_STATUSES = new Set(['draft', 'requested', 'received', 'accepted', 'rejected', 'ready', 'cancelled', 'in-progress', 'on-hold', 'failed', 'completed', 'entered-in-error']);

const AUTH_REFUSALS = { 401: 'No valid access token', 403: 'The client\'s role may not do this' };

/** The referral a practice sent under `identifier`, if this caller can see it. */
async function sentReferral(tx: StoreTx, practice: string, identifier: string): Promise<Stored | undefined> {
  const page = await tx.search({
    type: 'ServiceRequest', sort: 'default', count: 1,
    filters: [{ kind: 'token', param: 'identifier', values: [{ system: referralIdentifierSystem(practice), code: identifier }] }],
  });
  return page.matches[0];
}

const idOf = (reference: string | undefined): string => reference?.split('/')[1] ?? '';

/** The resources a referral stands as: its ServiceRequest, the Task made for it, its Patient and Consent. */
async function referralResources(tx: StoreTx, sr: Stored): Promise<fhir4.Resource[]> {
  const request = sr.resource as fhir4.ServiceRequest;
  const tasks = await tx.search({
    type: 'Task', sort: 'default', count: 10,
    filters: [{ kind: 'reference', param: 'based-on', targets: [`ServiceRequest/${sr.id}`] }],
  });
  const patient = await tx.read('Patient', idOf(request.subject.reference));
  const consent = await tx.read('Consent', idOf(request.supportingInfo?.[0]?.reference));
  return [request, ...tasks.matches.map((t) => t.resource), ...(patient ? [patient.resource] : []), ...(consent ? [consent.resource] : [])];
}

function created(resources: fhir4.Resource[]): ReferralCreated {
  const sr = resources.find((r): r is fhir4.ServiceRequest => r.resourceType === 'ServiceRequest')!;
  const task = resources.find((r): r is fhir4.Task => r.resourceType === 'Task');
  return {
    id: sr.id!,
    identifier: sr.identifier?.[0]?.value ?? '',
    status: task?.status ?? 'requested',
    task: task?.id ?? '',
    patient: idOf(sr.subject.reference),
    consent: idOf(sr.supportingInfo?.[0]?.reference),
  };
}

const collection = (resources: fhir4.Resource[]): fhir4.Bundle => ({
  resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })),
});

/**
 * The plain-JSON API at /api/v1 (DESIGN.md "Plain-JSON API"): each call is translated into FHIR
 * interactions run by the same core as /fhir, in one audited transaction, and their result back into
 * plain JSON. Nothing is stored but the FHIR resources.
 */
export function jsonApiRouter({ context: ctx, authenticate, auditRefusal, version, statusReasons }: JsonApiOptions): express.Router {
  /** Runs `fn` as the caller, audited as `route`; a refusal of the core comes back as problem details. */
  const run = async (req: Request, res: Response, route: Route, mapper: ExpressionMapper, fn: (tx: StoreTx) => Promise<FhirResult>) => {
    res.locals.audited = true;
    try {
      return await ctx.run(res.locals.caller as Caller, interactionInfo(req, res, route.audit.subtype, route.audit.type), fn);
    } catch (e) {
      throw e instanceof FhirError ? problemFromFhir(e, mapper) : e;
    }
  };

  const routes: Route[] = [{
    method: 'post', path: '/referrals', operationId: 'createReferral',
    summary: 'Refer a patient to social prescribing',
    description: 'Records the patient (matched by NHS number), their consent and the referral, routed to the social prescribing '
      + 'service named or configured for the practice, which sees it as a new Task. The same checks apply as to a FHIR referral. '
      + 'A referral sent again with the same identifier answers 200 with the referral first made.',
    body: 'ReferralIn',
    success: { status: 201, schema: 'ReferralCreated', description: 'The referral, as made (200 when it had been made before)' },
    refusals: { 400: 'The body does not match the schema', ...AUTH_REFUSALS, 415: 'The body is not JSON', 422: 'The referral breaks an intake rule' },
    audit: { subtype: 'transaction', type: 'ServiceRequest' },
    handler: async (req, res, self) => {
      const input = parseBody(ReferralIn, req.body);
      const caller = res.locals.caller as Caller;
      const practice = input.practice ?? caller.organization;
      const { bundle, mapper } = referralBundle(input, practice);
      let made = false;
      const result = await run(req, res, self, mapper, async (tx) => {
        let sr = await sentReferral(tx, practice, input.identifier);
        if (!sr) {
          const response = await transaction(bundle, caller, tx, ctx);
          const location = response.entry?.[2]?.response?.location ?? '';
          sr = await tx.read('ServiceRequest', idOf(location));
          if (!sr) throw new Error(`the referral just made (${location}) cannot be read back`);
          made = true;
        }
        return { status: made ? 201 : 200, resource: collection(await referralResources(tx, sr)) };
      });
      const body = created(((result.resource as fhir4.Bundle).entry ?? []).map((e) => e.resource!));
      if (made) res.setHeader('Location', `/api/v1/referrals/${body.id}`);
      res.status(result.status).json(body);
    },
  }];

  routes.push({
    method: 'get', path: '/referrals', operationId: 'listReferrals',
    summary: 'The referrals your organisation works on, in the order they last changed',
    description: 'For link-worker platforms and community groups: the referrals whose Task your organisation owns, oldest '
      + 'change first, 50 a page. Pass the page\'s next as after= to get the next page, or later what has changed since: '
      + 'a referral that changes again comes back with its new status. status= keeps only Tasks in that status.',
    parameters: [
      { name: 'status', description: 'A Task status (requested, accepted, in-progress, on-hold, completed, …)' },
      { name: 'after', description: 'The next of the previous page' },
    ],
    success: { status: 200, schema: 'ReferralPage', description: 'A page of referrals' },
    refusals: { 400: 'A parameter is not valid', ...AUTH_REFUSALS },
    audit: { subtype: 'search-type', type: 'Task' },
    handler: async (req, res, self) => {
      const caller = res.locals.caller as Caller;
      if (caller.role !== 'link-worker' && caller.role !== 'community-asset') {
        throw problem(403, 'forbidden', 'The list is of referrals an organisation works on: link workers and community groups. Read one referral with GET /api/v1/referrals/{id}');
      }
      const status = typeof req.query.status === 'string' ? req.query.status : undefined;
      if (status !== undefined && !TASK_STATUSES.has(status)) {
        throw problem(400, 'value', `status=${status} is not a Task status`, [{ parameter: 'status', detail: `one of ${[...TASK_STATUSES].join(', ')}` }]);
      }
      const cursor = listCursor(req.query.after);
      let items: ReferralSummary[] = [];
      let next: ListCursor = cursor;
      await run(req, res, self, () => undefined, async (tx) => {
        const page = await tx.search({
          type: 'Task', sort: '_lastUpdated', count: PAGE + cursor.seen.length,
          filters: [
            { kind: 'reference', param: 'owner', targets: [`Organization/${caller.organization}`] },
            ...(status ? [{ kind: 'token' as const, param: 'status', values: [{ code: status }] }] : []),
            { kind: 'lastUpdated', prefix: 'ge', range: { lo: cursor.from, hi: cursor.from } },
          ],
        });
        const fresh = page.matches.filter((t) => !(t.lastUpdated === cursor.from && cursor.seen.includes(t.id))).slice(0, PAGE);
        const reader = new ReferralReader(tx, caller);
        items = [];
        for (const t of fresh) items.push(await reader.summary(t));
        next = nextCursor(cursor, fresh);
        return { status: 200, resource: collection([...reader.returned.values()]) };
      });
      res.json({ items, next: next.encoded });
    },
  }, {
    method: 'get', path: '/referrals/{id}', operationId: 'getReferral',
    summary: 'One referral',
    description: 'The referral as the client may see it, with its consent, every step of its Task so far and its hand-ons. '
      + 'A referral the client may not see answers 404, as one that does not exist.',
    success: { status: 200, schema: 'ReferralDetail', description: 'The referral' },
    refusals: { ...AUTH_REFUSALS, 404: 'No such referral for this client' },
    audit: { subtype: 'read', type: 'ServiceRequest' },
    handler: async (req, res, self) => {
      const caller = res.locals.caller as Caller;
      const id = String(req.params.id);
      let detail: ReferralDetail | undefined;
      await run(req, res, self, () => undefined, async (tx) => {
        const reader = new ReferralReader(tx, caller);
        const task = await reader.taskOf(id);
        if (!task) throw new FhirError(404, 'not-found', `No referral ${id} is known to this client`);
        detail = await reader.detail(task);
        return { status: 200, resource: collection([...reader.returned.values()]) };
      });
      res.setHeader('ETag', detail!.etag);
      res.json(detail);
    },
  });

  /**
   * An action on the caller's Task of a referral: a replayed Idempotency-Key answers with the first
   * response before anything else; then If-Match must name the Task's current version; then `act`
   * makes the change through the FHIR core. Answers the referral as it now is.
   */
  const action = <T>(name: string, success: number, parse: (body: unknown) => T, act: (tx: StoreTx, task: Stored, input: T, caller: Caller) => Promise<void>) =>
    async (req: Request, res: Response, self: Route) => {
      const caller = res.locals.caller as Caller;
      const input = parse(req.body ?? {});
      const key = req.header('Idempotency-Key');
      if (key !== undefined && !/^[\x21-\x7e]{1,255}$/.test(key)) {
        throw problem(400, 'value', 'Idempotency-Key must be 1 to 255 visible ASCII characters', [{ header: 'Idempotency-Key', detail: 'not a usable key' }]);
      }
      const fingerprint = createHash('sha256').update(`${req.path}\n${JSON.stringify(req.body ?? null)}`).digest('hex');
      let answer: { status: number; body: ReferralDetail } | undefined;
      await run(req, res, self, actionMapper, async (tx) => {
        const scope = `json-api-idempotency:${caller.clientId}`;
        const prior = key === undefined ? undefined : await tx.claimOnce(scope, key, '', tx.now() + IDEMPOTENCY_MICROS);
        if (prior) {
          const first = JSON.parse(prior) as { fingerprint: string; status: number; body: ReferralDetail };
          if (first.fingerprint !== fingerprint) {
            throw new FhirError(422, 'business-rule', 'This Idempotency-Key was first used for another request: use a new key for a new request', 'Idempotency-Key');
          }
          answer = first;
          return { status: first.status };
        }
        const reader = new ReferralReader(tx, caller);
        const id = String(req.params.id);
        const task = await reader.taskOf(id);
        if (!task) throw new FhirError(404, 'not-found', `No referral ${id} is known to this client`);
        const ifMatch = req.header('If-Match');
        if (ifMatch === undefined) throw new FhirError(428, 'required', `Send If-Match with the referral's etag (W/"${task.version}") to ${name} it`, 'If-Match');
        if (/^(?:W\/)?"(\d+)"$/.exec(ifMatch)?.[1] !== String(task.version)) {
          throw new FhirError(412, 'conflict', `The referral has changed since it was read: its etag is now W/"${task.version}"`, 'If-Match');
        }
        await act(tx, task, input, caller);
        const now = await reader.taskOf(id);
        answer = { status: success, body: await reader.detail(now!) };
        if (key !== undefined) await tx.remember(scope, key, JSON.stringify({ fingerprint, ...answer }), tx.now() + IDEMPOTENCY_MICROS);
        return { status: success, resource: collection([...reader.returned.values()]) };
      });
      res.setHeader('ETag', answer!.body.etag);
      res.status(answer!.status).json(answer!.body);
    };

  const actionRefusals = {
    400: 'The body or a header is not valid', ...AUTH_REFUSALS, 404: 'No such referral for this client',
    412: 'If-Match does not name the referral\'s current etag', 422: 'Not possible in the referral\'s current state, or a reason is missing or unknown',
    428: 'If-Match is missing',
  };
  const ACTION_HEADERS = [
    { name: 'If-Match', description: 'The etag of the referral as last read (required)' },
    { name: 'Idempotency-Key', description: 'Your key for this request: sending it again answers with the first response and changes nothing' },
  ];
  for (const name of Object.keys(ACTIONS) as StatusAction[]) {
    routes.push({
      method: 'post', path: `/referrals/{id}/${name}`, operationId: `${name}Referral`,
      summary: ACTIONS[name].summary,
      description: `Moves the Task your organisation works on to ${ACTIONS[name].status}, as a FHIR update would: the workflow's `
        + 'state machine and rules apply.',
      body: 'ActionIn', headers: ACTION_HEADERS,
      success: { status: 200, schema: 'ReferralDetail', description: 'The referral as it now is' },
      refusals: actionRefusals,
      audit: { subtype: 'update', type: 'Task' },
      handler: action(name, 200, (body) => parseBody(ActionIn, body), async (tx, task, input, caller) => {
        const next = actedTask(task.resource as fhir4.Task, name, input, statusReasons);
        await dispatch({ method: 'PUT', type: 'Task', id: task.id, query: new URLSearchParams(), body: next, ifMatch: `W/"${task.version}"`, caller, lenient: false }, tx, ctx);
      }),
    });
  }
  routes.push({
    method: 'post', path: '/referrals/{id}/hand-on', operationId: 'handOnReferral',
    summary: 'Hand the referral on to a community group',
    description: 'Makes a hand-on Task owned by the community group, part of your Task, as a FHIR platform would; the group '
      + 'then sees the referral, with only the patient\'s name and contact details.',
    body: 'HandOnIn', headers: ACTION_HEADERS,
    success: { status: 201, schema: 'ReferralDetail', description: 'The referral, with the new hand-on' },
    refusals: actionRefusals,
    audit: { subtype: 'create', type: 'Task' },
    handler: action('hand on', 201, (body) => parseBody(HandOnIn, body), async (tx, task, input, caller) => {
      await dispatch({ method: 'POST', type: 'Task', query: new URLSearchParams(), body: handOnTask(task.id, input), caller, lenient: false }, tx, ctx);
    }),
  });

  routes.push({
    method: 'post', path: '/referrals/{id}/outcomes', operationId: 'recordOutcome',
    summary: 'Record a well-being measure the patient completed',
    description: 'Records SWEMWBS, ONS4 or UCLA-3 answers as the FHIR QuestionnaireResponse a platform would send; the same '
      + 'validation applies (an answer out of range points at it), and the scores computed are returned, as the Observations '
      + 'the GP practice also receives.',
    body: 'OutcomeIn',
    success: { status: 201, schema: 'OutcomeScores', description: 'The response as recorded, and its scores' },
    refusals: { 400: 'The body does not match the schema', ...AUTH_REFUSALS, 404: 'No such referral for this client', 422: 'An answer is missing or out of range, or the referral is closed' },
    audit: { subtype: 'create', type: 'QuestionnaireResponse' },
    handler: async (req, res, self) => {
      const input = parseBody(OutcomeIn, req.body);
      const caller = res.locals.caller as Caller;
      const id = String(req.params.id);
      let body: OutcomeScores | undefined;
      await run(req, res, self, outcomeMapper, async (tx) => {
        const task = await new ReferralReader(tx, caller).taskOf(id);
        if (!task) throw new FhirError(404, 'not-found', `No referral ${id} is known to this client`);
        const response = outcomeResponse(input, { id, patient: idOf((task.resource as fhir4.Task).for?.reference) });
        const made = await dispatch({ method: 'POST', type: 'QuestionnaireResponse', query: new URLSearchParams(), body: response, caller, lenient: false }, tx, ctx);
        const qr = made.resource!;
        const scores = await tx.search({
          type: 'Observation', sort: 'default', count: 20,
          filters: [{ kind: 'reference', param: 'derived-from', targets: [`QuestionnaireResponse/${qr.id}`] }],
        });
        body = {
          questionnaireResponse: qr.id!,
          instrument: input.instrument,
          scores: scores.matches.map((m) => {
            const o = m.resource as fhir4.Observation;
            const coding = o.code.coding?.[0];
            const band = o.interpretation?.[0]?.coding?.[0]?.code;
            return { code: coding?.code ?? '', display: coding?.display ?? '', value: o.valueQuantity?.value ?? 0, ...(band ? { band } : {}), observation: m.id };
          }),
        };
        return { status: 201, resource: collection([qr, ...scores.matches.map((m) => m.resource)]) };
      });
      res.status(201).json(body);
    },
  });

  const router = express.Router();
  const document = () => openApiDocument(routes, version);
  router.get('/openapi.json', (_req, res) => void res.json(document()));
  router.use('/docs', docsPage());
  router.use(authenticate);
  router.use(express.json({ limit: BODY_LIMIT }));
  for (const route of routes) {
    const expressPath = route.path.replace(/\{(\w+)\}/g, ':$1');
    router[route.method](expressPath, (req, res, next) => {
      if (route.body && !req.is('application/json')) {
        return next(problem(415, 'not-supported', `Send the body as application/json (it was ${req.headers['content-type'] ?? 'not typed'})`, [{ header: 'Content-Type', detail: 'must be application/json' }]));
      }
      route.handler(req, res, route).catch(next);
    });
  }
  router.use((req, _res, next) => next(problem(404, 'not-found', `Nothing is served at ${req.method} /api/v1${req.path}`)));
  router.use(problemHandler(routes, auditRefusal));
  return router;
}

/** Every refusal of the API as problem details; one that no interaction has audited yet is audited here. */
function problemHandler(routes: readonly Route[], auditRefusal: JsonApiOptions['auditRefusal']) {
  return (err: unknown, req: Request, res: Response, next: NextFunction): void => {
    const refusal = err instanceof ProblemError ? err
      : err instanceof FhirError ? problemFromFhir(err)
        : bodyProblem(err);
    if (!refusal) return next(err); // not a refusal: the app's error handler answers 500 and logs it
    const send = () => {
      if (res.headersSent) return void res.end();
      for (const [k, v] of Object.entries(refusal.headers)) res.setHeader(k, v);
      res.status(refusal.problem.status).type(PROBLEM_MEDIA_TYPE).send(JSON.stringify(refusal.problem));
    };
    if (res.locals.audited) return send();
    const route = routes.find((r) => r.method === req.method.toLowerCase() && new RegExp(`^${r.path.replace(/\{\w+\}/g, '[^/]+')}$`).test(req.path));
    const info = interactionInfo(req, res, route?.audit.subtype ?? 'unknown', route?.audit.type);
    auditRefusal(res.locals.caller as Caller | undefined, info, new FhirError(refusal.problem.status, 'invalid', refusal.problem.detail))
      .then(send, send);
  };
}

/** express's body-parser errors, as problem details. */
function bodyProblem(err: unknown): ProblemError | undefined {
  const e = err as { type?: string; limit?: number };
  switch (e.type) {
    case 'entity.parse.failed':
      return problem(400, 'structure', 'The body is not valid JSON', [{ pointer: '#', detail: 'not valid JSON' }]);
    case 'entity.too.large':
      return problem(413, 'too-costly', `The body is larger than the ${e.limit ?? BODY_LIMIT}-byte limit`);
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return problem(415, 'not-supported', 'Only UTF-8 bodies without content encoding, or gzip/deflate, are accepted');
    default:
      return undefined;
  }
}
