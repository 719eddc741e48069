import { randomUUID } from 'node:crypto';
import { formatInstant } from '../src/fhir/instant.js';
import { listCursorAt } from '../src/json-api/list-cursor.js';
import { LOCAL_STATUS_REASON_SYSTEM } from '../src/workflow/status-reasons.js';
import { linkWorker, PRACTICE, QUIET_PRACTICE, QUIET_REFERRER, REFERRER, SERVICES, type Tokens } from './clients.js';
import { jsonReferral, patient, patientsWithConsents, referral, task, type NhsNumbers } from './fixtures.js';
import type { Scenario } from './load.js';
import type { SeedManifest, SeededTask } from './seed.js';

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

export const SEARCH_PAGE = 50;
/** Patient + Consent pairs per transaction Bundle. */
const BUNDLE_PAIRS = 5;

/** The baseline: a GET with an id in the path, answered by bare express with a small JSON document. */
export function baseline(): Scenario {
  return { name: 'bare express GET', method: 'GET', expect: 200, next: () => ({ path: `/ping/${randomUUID()}` }) };
}

function entries(body: unknown): number {
  return (body as fhir4.Bundle).entry?.length ?? 0;
}

/** The request headers a client sends as itself: a bearer token to the gateway, nothing to the core. */
export type Credentials = (clientId: string) => Record<string, string>;

/** The core has no clients: every request runs as the fixed caller of the FHIR-mechanics tests. */
export const anonymous: Credentials = () => ({});

/** A gateway client's bearer token. */
export const bearer = (tokens: Tokens): Credentials => (clientId) => tokens.headers(clientId);

export type Scenarios = ReturnType<typeof fhirScenarios>;

const JSON_HEADERS = { accept: 'application/json', 'content-type': 'application/json' };

/** A random instant in the first half of the seeded writes: from there each service has a full page of requested Tasks. */
function sinceInSeed(seed: SeedManifest): number {
  const { from, to } = seed.written;
  return Math.floor(from + Math.random() * 0.5 * (to - from));
}

/** The reason the bench's link workers give for a hold (CodeSystem-sp-task-status-reason.json). */
const HOLD_REASON = 'service-at-capacity';

/** A seeded in-progress Task as its link worker last left it: the bench knows each one's current version. */
interface WorkedTask extends SeededTask {
  version: number;
}

/**
 * The action pair's Tasks, shared by both servers' runs: the seeded in-progress Tasks in turn, each
 * put on hold if it is in progress and resumed if it is on hold, as its link worker would. Each step
 * assumes the one before succeeded (a run fails on any unexpected status); with thousands of Tasks in
 * turn and 16 connections, a Task's previous step has long been answered when its next is sent.
 */
function workedTasks(seed: SeedManifest): () => { worked: WorkedTask; hold: boolean } {
  const tasks: WorkedTask[] = seed.inProgress.map((t) => ({ ...t, version: 1 }));
  if (tasks.length < 100) throw new Error(`only ${tasks.length} seeded in-progress Tasks: seed more (BENCH_RESOURCES)`);
  let next = 0;
  return () => {
    const worked = tasks[next++ % tasks.length]!;
    const hold = worked.task.status === 'in-progress';
    const { statusReason: _, ...rest } = worked.task;
    worked.task = hold
      ? { ...rest, status: 'on-hold', statusReason: { coding: [{ system: LOCAL_STATUS_REASON_SYSTEM, code: HOLD_REASON }] } }
      : { ...rest, status: 'in-progress' };
    worked.version++;
    return { worked, hold };
  };
}

/**
 * The FHIR scenarios over the seeded store, each as the client that would send it: the practice reads
 * and creates its patients, a service's link worker pages through the Tasks it owns. The core and the
 * gateway get the same requests but for the credentials. NHS numbers come from one series shared by
 * every server of the run, continuing after the seeded ones, so none clashes.
 */
export function fhirScenarios(seed: SeedManifest, nhs: NhsNumbers, as: Credentials) {
  let created = 0;
  const read: Scenario = {
    name: 'read Patient by id', method: 'GET', expect: 200,
    next: () => ({ path: `/fhir/Patient/${pick(seed.patients)}`, headers: as(REFERRER) }),
  };
  const create: Scenario = {
    name: 'create Patient', method: 'POST', expect: 201,
    next: () => ({ path: '/fhir/Patient', body: JSON.stringify(patient(nhs.take(), created++)), headers: as(REFERRER) }),
  };
  const search: Scenario = {
    name: `search Task page of ${SEARCH_PAGE}`, method: 'GET', expect: 200,
    next: () => {
      const owner = pick(SERVICES);
      return {
        path: `/fhir/Task?owner=Organization/${owner}&status=requested&_count=${SEARCH_PAGE}`,
        headers: as(linkWorker(owner)),
      };
    },
    check: (body) => (entries(body) === SEARCH_PAGE ? undefined : `returned ${entries(body)} entries, not a full page of ${SEARCH_PAGE}`),
  };
  const transaction: Scenario = {
    name: `transaction of ${BUNDLE_PAIRS * 2} creates`, method: 'POST', expect: 200,
    next: () => ({ path: '/fhir', body: JSON.stringify(patientsWithConsents(BUNDLE_PAIRS, nhs)), headers: as(REFERRER) }),
    check: (body) => (entries(body) === BUNDLE_PAIRS * 2 ? undefined : `answered ${entries(body)} entries, not ${BUNDLE_PAIRS * 2}`),
  };
  // The gateway only: the referral rules belong to the gateway, the core stores what it is given.
  const intake: Scenario = {
    name: 'referral intake (Patient, Consent, ServiceRequest)', method: 'POST', expect: 200,
    next: () => ({ path: '/fhir', body: JSON.stringify(referral(nhs, created++)), headers: as(REFERRER) }),
    check: (body) => (entries(body) === 3 ? undefined : `answered ${entries(body)} entries, not 3`),
  };
  // The same referral through the plain-JSON API (issue 7): the pair to `intake`.
  const jsonIntake: Scenario = {
    name: 'referral intake, plain-JSON API', method: 'POST', expect: 201,
    next: () => ({
      path: '/api/v1/referrals', body: JSON.stringify(jsonReferral(nhs, created++)),
      headers: { ...as(REFERRER), ...JSON_HEADERS },
    }),
    check: (body) => (typeof (body as { id?: unknown }).id === 'string' ? undefined : 'answered no referral id'),
  };
  // Issue 7's other pairs, the gateway only. A platform's poll of its requested referrals since T: as
  // FHIR it asks for each Task's referral and patient too (what the JSON list shows of each).
  const list: Scenario = {
    name: `Task poll with referral and patient, page of ${SEARCH_PAGE}`, method: 'GET', expect: 200,
    next: () => {
      const owner = pick(SERVICES);
      return {
        path: `/fhir/Task?owner=Organization/${owner}&status=requested&_lastUpdated=ge${formatInstant(sinceInSeed(seed))}`
          + `&_sort=_lastUpdated&_count=${SEARCH_PAGE}&_include=Task:focus&_include=Task:patient`,
        headers: as(linkWorker(owner)),
      };
    },
    check: (body) => {
      const matches = (body as fhir4.Bundle).entry?.filter((e) => e.search?.mode === 'match').length ?? 0;
      return matches === SEARCH_PAGE ? undefined : `returned ${matches} Tasks, not a full page of ${SEARCH_PAGE}`;
    },
  };
  const jsonList: Scenario = {
    name: `referral list, plain-JSON API, page of ${SEARCH_PAGE}`, method: 'GET', expect: 200,
    next: () => {
      const owner = pick(SERVICES);
      return { path: `/api/v1/referrals?status=requested&after=${listCursorAt(sinceInSeed(seed))}`, headers: { ...as(linkWorker(owner)), ...JSON_HEADERS } };
    },
    check: (body) => {
      const items = (body as { items?: unknown[] }).items?.length ?? 0;
      return items === SEARCH_PAGE ? undefined : `returned ${items} referrals, not a full page of ${SEARCH_PAGE}`;
    },
  };
  // A link worker puts a referral on hold, with a reason, or resumes it, naming the version it read.
  const step = workedTasks(seed);
  const act: Scenario = {
    name: 'hold or resume a referral (update Task)', method: 'PUT', expect: 200,
    next: () => {
      const { worked } = step();
      return {
        path: `/fhir/Task/${worked.task.id}`, body: JSON.stringify(worked.task),
        headers: { ...as(linkWorker(worked.owner)), 'if-match': `W/"${worked.version - 1}"` },
      };
    },
  };
  const jsonAct: Scenario = {
    name: 'hold or resume a referral, plain-JSON API', method: 'POST', expect: 200,
    next: () => {
      const { worked, hold } = step();
      return {
        path: `/api/v1/referrals/${worked.referral}/${hold ? 'hold' : 'resume'}`, body: JSON.stringify(hold ? { reason: { code: HOLD_REASON } } : {}),
        headers: {
          ...as(linkWorker(worked.owner)), ...JSON_HEADERS, 'if-match': `W/"${worked.version - 1}"`, 'idempotency-key': randomUUID(),
        },
      };
    },
  };
  return { read, create, search, transaction, intake, jsonIntake, list, jsonList, act, jsonAct };
}

/**
 * A link-worker platform's poll (DESIGN.md "Link-worker workflow"): a service's requested Tasks
 * changed since T, oldest first, a page of 50. T is a random instant in the first 80% of the seeded
 * writes, so every poll has a full page and the page may come from anywhere in the store's history.
 */
export function pollScenario(seed: SeedManifest, as: Credentials): Scenario {
  const { from, to } = seed.written;
  return {
    name: `poll Task changes, page of ${SEARCH_PAGE}`, method: 'GET', expect: 200,
    next: () => {
      const owner = pick(SERVICES);
      const since = formatInstant(Math.floor(from + Math.random() * 0.8 * (to - from)));
      return {
        path: `/fhir/Task?owner=Organization/${owner}&status=requested&_lastUpdated=ge${since}&_sort=_lastUpdated&_count=${SEARCH_PAGE}`,
        headers: as(linkWorker(owner)),
      };
    },
    check: (body) => (entries(body) === SEARCH_PAGE ? undefined : `returned ${entries(body)} entries, not a full page of ${SEARCH_PAGE}`),
  };
}

/**
 * Issue 9: referral intake from the practice whose referrals announce (it has an endpoint and its
 * service a subscription, so each referral writes two outbox events) and from the quiet practice (none),
 * on one gateway: the pair gives the outbox's added cost on intake.
 */
export function outboxScenarios(nhs: NhsNumbers, as: Credentials): { announced: Scenario; quiet: Scenario } {
  let created = 0;
  const intakeFrom = (practice: string, client: string, what: string): Scenario => ({
    name: `referral intake, ${what}`, method: 'POST', expect: 200,
    next: () => ({ path: '/fhir', body: JSON.stringify(referral(nhs, created++, practice)), headers: as(client) }),
    check: (body) => (entries(body) === 3 ? undefined : `answered ${entries(body)} entries, not 3`),
  });
  return {
    announced: intakeFrom(PRACTICE, REFERRER, 'announced (GP endpoint + subscription: 2 outbox events)'),
    quiet: intakeFrom(QUIET_PRACTICE, QUIET_REFERRER, 'nothing announced'),
  };
}

/** The delivery baseline: a Task PUT straight to the receiver, as the gateway's push sends it, with no outbox behind it. */
export function receiverPut(): Scenario {
  let i = 0;
  return {
    name: 'PUT a Task to the receiver directly', method: 'PUT', expect: 200,
    next: () => {
      const id = randomUUID();
      const body = { ...task(i++, SERVICES[0]!, `Patient/${randomUUID()}`), id, meta: { versionId: '1', lastUpdated: new Date().toISOString() } };
      return { path: `/fhir/Task/${id}`, body: JSON.stringify(body) };
    },
  };
}
