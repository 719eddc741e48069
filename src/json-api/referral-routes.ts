import { transaction } from '../fhir/bundle.js';
import { FhirError } from '../fhir/errors.js';
import type { Stored, StoreTx } from '../store/store.js';
import { TASK_STATUSES } from '../workflow/task-states.js';
import { listCursor, nextCursor, type ListCursor } from './list-cursor.js';
import { parseBody, problem } from './problem.js';
import { referralBundle, referralIdentifierSystem } from './referral-in.js';
import { idOf, ReferralReader } from './referral-out.js';
import { AUTH_REFUSALS, collection, type Route, type RouteKit } from './route.js';
import { ReferralIn, type ReferralCreated, type ReferralDetail, type ReferralSummary } from './schemas.js';

/** Referrals per page of the list. */
const PAGE = 50;


/** The referral a practice sent under `identifier`, if this caller can see it (the identifier is unique to one ServiceRequest). */
async function sentReferral(tx: StoreTx, practice: string, identifier: string): Promise<Stored | undefined> {
  const id = await tx.identified('ServiceRequest', referralIdentifierSystem(practice), identifier);
  return id === undefined ? undefined : tx.read('ServiceRequest', id);
}

/** The Task the intake made for a referral. */
async function tasksOf(tx: StoreTx, srId: string): Promise<fhir4.Resource[]> {
  const tasks = await tx.search({
    type: 'Task', sort: 'default', count: 10, filters: [{ kind: 'reference', param: 'based-on', targets: [`ServiceRequest/${srId}`] }],
  });
  return tasks.matches.map((t) => t.resource);
}

/** The resources a referral made earlier stands as: its ServiceRequest, its Task, its Patient and Consent. */
async function referralResources(tx: StoreTx, sr: Stored): Promise<fhir4.Resource[]> {
  const request = sr.resource as fhir4.ServiceRequest;
  const patient = await tx.read('Patient', idOf(request.subject.reference));
  const consent = await tx.read('Consent', idOf(request.supportingInfo?.[0]?.reference));
  return [request, ...await tasksOf(tx, sr.id), ...(patient ? [patient.resource] : []), ...(consent ? [consent.resource] : [])];
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

/** Referrals in (a referral tool) and out (link-worker platforms and community groups). */
export function referralRoutes(kit: RouteKit): Route[] {
  return [
    {
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
        const caller = kit.caller(res);
        const practice = input.practice ?? caller.organization;
        const { bundle, mapper } = referralBundle(input, practice);
        let made = false;
        const result = await kit.run(req, res, self, mapper, async (tx) => {
          const sent = await sentReferral(tx, practice, input.identifier);
          if (sent) return { status: 200, resource: collection(await referralResources(tx, sent)) };
          // The transaction's answer holds the Patient, Consent and ServiceRequest as stored: only the Task is looked up.
          const response = await transaction(bundle, caller, tx, kit.ctx);
          const stored = (response.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
          const sr = stored.find((r) => r.resourceType === 'ServiceRequest');
          if (!sr?.id) throw new Error('the transaction of a new referral answered without its ServiceRequest');
          made = true;
          return { status: 201, resource: collection([sr, ...await tasksOf(tx, sr.id), ...stored.filter((r) => r !== sr)]) };
        });
        const body = created(((result.resource as fhir4.Bundle).entry ?? []).map((e) => e.resource!));
        if (made) res.setHeader('Location', `/api/v1/referrals/${body.id}`);
        res.status(result.status).json(body);
      },
    },
    {
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
        const caller = kit.caller(res);
        if (caller.role !== 'link-worker' && caller.role !== 'community-asset') {
          throw problem(403, 'forbidden', 'The list is of referrals an organisation works on: link workers and community groups. Read one referral with GET /api/v1/referrals/{id}');
        }
        const status = typeof req.query.status === 'string' ? req.query.status : undefined;
        if (status !== undefined && !(TASK_STATUSES as readonly string[]).includes(status)) {
          throw problem(400, 'value', `status=${status} is not a Task status`, [{ parameter: 'status', detail: `one of ${TASK_STATUSES.join(', ')}` }]);
        }
        const cursor = listCursor(req.query.after);
        let items: ReferralSummary[] = [];
        let next: ListCursor = cursor;
        await kit.run(req, res, self, () => undefined, async (tx) => {
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
        const caller = kit.caller(res);
        const id = String(req.params.id);
        let detail: ReferralDetail | undefined;
        await kit.run(req, res, self, () => undefined, async (tx) => {
          const reader = new ReferralReader(tx, caller);
          const task = await reader.taskOf(id);
          if (!task) throw new FhirError(404, 'not-found', `No referral ${id} is known to this client`);
          detail = await reader.detail(task);
          return { status: 200, resource: collection([...reader.returned.values()]) };
        });
        res.setHeader('ETag', detail!.etag);
        res.json(detail);
      },
    },
  ];
}
