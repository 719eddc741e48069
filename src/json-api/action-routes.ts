import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { dispatch } from '../fhir/dispatch.js';
import { FhirError } from '../fhir/errors.js';
import type { Caller } from '../fhir/interaction.js';
import type { Stored, StoreTx } from '../store/store.js';
import { ACTIONS, ActionIn, actedTask, actionMapper, handOnTask, HandOnIn, type StatusAction } from './actions.js';
import { parseBody, problem } from './problem.js';
import { idOf, reasonOf, ReferralReader } from './referral-out.js';
import { AUTH_REFUSALS, collection, type Route, type RouteKit } from './route.js';
import type { ActionResult } from './schemas.js';

/** How long an Idempotency-Key is remembered (its first response with it). */
const IDEMPOTENCY_MICROS = 24 * 3600 * 1_000_000;

/**
 * What an action answers: the Task it acted on as it now is, and its etag for the next action. Not the
 * whole referral: GET /api/v1/referrals/{id} gives that, and an answer this small keeps an action's
 * cost near the FHIR update it makes.
 */
function actionResult(task: fhir4.Task & { meta?: fhir4.Meta }, referral: string): ActionResult {
  const statusReason = reasonOf(task.statusReason);
  return { id: referral, task: task.id!, status: task.status, ...(statusReason ? { statusReason } : {}), etag: `W/"${task.meta?.versionId ?? ''}"` };
}

/** The workflow actions and hand-on. `statusReasons`: the Task status reason codings, `system|code`. */
export function actionRoutes(kit: RouteKit, statusReasons: ReadonlySet<string>): Route[] {
  const routes: Route[] = [];
  /**
   * An action on the caller's Task of a referral: a replayed Idempotency-Key answers with the first
   * response before anything else; then If-Match must name the Task's current version; then `act`
   * makes the change through the FHIR core. Answers the referral as it now is.
   */
  const action = <T>(name: string, success: number, parse: (body: unknown) => T, act: (tx: StoreTx, task: Stored, input: T, caller: Caller) => Promise<{ answer: ActionResult; wrote: fhir4.Resource[] }>) =>
    async (req: Request, res: Response, self: Route) => {
      const caller = kit.caller(res);
      const input = parse(req.body ?? {});
      const key = req.header('Idempotency-Key');
      if (key !== undefined && !/^[\x21-\x7e]{1,255}$/.test(key)) {
        throw problem(400, 'value', 'Idempotency-Key must be 1 to 255 visible ASCII characters', [{ header: 'Idempotency-Key', detail: 'not a usable key' }]);
      }
      const fingerprint = createHash('sha256').update(`${req.path}\n${JSON.stringify(req.body ?? null)}`).digest('hex');
      let answer: { status: number; body: ActionResult } | undefined;
      await kit.run(req, res, self, actionMapper, async (tx) => {
        const scope = `json-api-idempotency:${caller.clientId}`;
        // Looked up, and recorded only with the answer: one write, not a claim and then its answer. Two
        // concurrent requests with one key cannot both act: If-Match lets only one of them change the Task.
        const prior = key === undefined ? undefined : await tx.recall(scope, key);
        if (prior) {
          const first = JSON.parse(prior) as { fingerprint: string; status: number; body: ActionResult };
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
        const done = await act(tx, task, input, caller);
        answer = { status: success, body: done.answer };
        if (key !== undefined) await tx.remember(scope, key, JSON.stringify({ fingerprint, ...answer }), tx.now() + IDEMPOTENCY_MICROS);
        return { status: success, resource: collection(done.wrote) };
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
      success: { status: 200, schema: 'ActionResult', description: 'The Task as the action left it, with its new etag' },
      refusals: actionRefusals,
      audit: { subtype: 'update', type: 'Task' },
      handler: action(name, 200, (body) => parseBody(ActionIn, body), async (tx, task, input, caller) => {
        const next = actedTask(task.resource as fhir4.Task, name, input, statusReasons);
        const result = await dispatch({ method: 'PUT', type: 'Task', id: task.id, query: new URLSearchParams(), body: next, ifMatch: `W/"${task.version}"`, caller, lenient: false }, tx, kit.ctx);
        const acted = result.resource as fhir4.Task;
        return { answer: actionResult(acted, idOf(acted.focus?.reference)), wrote: [acted] };
      }),
    });
  }
  routes.push({
    method: 'post', path: '/referrals/{id}/hand-on', operationId: 'handOnReferral',
    summary: 'Hand the referral on to a community group',
    description: 'Makes a hand-on Task owned by the community group, part of your Task, as a FHIR platform would; the group '
      + 'then sees the referral, with only the patient\'s name and contact details.',
    body: 'HandOnIn', headers: ACTION_HEADERS,
    success: { status: 201, schema: 'ActionResult', description: 'The referral\'s Task (unchanged) and the new hand-on Task' },
    refusals: actionRefusals,
    audit: { subtype: 'create', type: 'Task' },
    handler: action('hand on', 201, (body) => parseBody(HandOnIn, body), async (tx, task, input, caller) => {
      const made = await dispatch({ method: 'POST', type: 'Task', query: new URLSearchParams(), body: handOnTask(task.id, input), caller, lenient: false }, tx, kit.ctx);
      const child = made.resource as fhir4.Task;
      const parent = task.resource as fhir4.Task;
      return {
        answer: { ...actionResult(parent, idOf(parent.focus?.reference)), handOn: { task: child.id!, asset: { ods: input.asset }, status: child.status } },
        wrote: [child],
      };
    }),
  });
  return routes;
}
