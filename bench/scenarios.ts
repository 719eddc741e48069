import { randomUUID } from 'node:crypto';
import { formatInstant } from '../src/fhir/instant.js';
import { linkWorker, REFERRER, SERVICES, type Tokens } from './clients.js';
import { jsonReferral, patient, patientsWithConsents, referral, type NhsNumbers } from './fixtures.js';
import type { Scenario } from './load.js';
import type { SeedManifest } from './seed.js';

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
      headers: { ...as(REFERRER), accept: 'application/json', 'content-type': 'application/json' },
    }),
    check: (body) => (typeof (body as { id?: unknown }).id === 'string' ? undefined : 'answered no referral id'),
  };
  return { read, create, search, transaction, intake, jsonIntake };
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
