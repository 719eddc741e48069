import { createHash, randomUUID } from 'node:crypto';
import type { WriteRules, WriteRulesByType } from '../auth/write-rules.js';
import type { Deployment } from '../config/deployment.js';
import { ODS_SYSTEM, organisationOf } from '../config/organizations.js';
import { canonicalJson } from '../fhir/canonical-json.js';
import { FhirError } from '../fhir/errors.js';
import type { Caller } from '../fhir/interaction.js';
import { referencing } from '../store/server-resources.js';
import type { Stored, StoreTx } from '../store/store.js';
import { holdForLapsedConsent, type Write } from '../workflow/consent-hold.js';
import { closeTask } from '../workflow/task-rules.js';
import { isOpen } from '../workflow/task-states.js';
import { consentState, type ConsentState } from './consent.js';
import { isValidNhsNumber, NHS_NUMBER_SYSTEM } from './nhs-number.js';
import { referralShapeIssues } from './referral-rules.js';
import { routeReferral } from './routing.js';

export interface IntakeConfig {
  deployment: Deployment;
  reasons: ReadonlySet<string>;
}

const refused = (code: 'required' | 'business-rule' | 'not-found' | 'invalid', text: string, expression: string) =>
  new FhirError(422, code, text, expression);

/** The referred Patient, by reference or by NHS number, and it must carry a valid NHS number. */
async function referredPatient(subject: fhir4.Reference | undefined, tx: StoreTx): Promise<Stored> {
  let found: Stored | undefined;
  const [type, id] = (subject?.reference ?? '').split('/');
  if (type === 'Patient' && id) found = await tx.read('Patient', id);
  else if (subject?.identifier?.system === NHS_NUMBER_SYSTEM && subject.identifier.value) {
    const page = await tx.search({ type: 'Patient', sort: 'default', count: 1, filters: [{ kind: 'token', param: 'identifier', values: [{ system: NHS_NUMBER_SYSTEM, code: subject.identifier.value }] }] });
    found = page.matches[0];
  }
  if (!found) throw refused('not-found', 'The referral\'s subject must be a Patient known to this client (by reference or NHS number)', 'ServiceRequest.subject');
  const nhs = (found.resource as fhir4.Patient).identifier?.find((i) => i.system === NHS_NUMBER_SYSTEM)?.value;
  if (!nhs || !isValidNhsNumber(nhs)) throw refused('invalid', 'The referred Patient has no valid NHS number', 'ServiceRequest.subject');
  return found;
}

/** A Consent of the same patient in force (active, not a refusal, within its period) among the referral's supporting information. */
async function requireConsent(sr: fhir4.ServiceRequest, patient: Stored, tx: StoreTx): Promise<void> {
  const refs = (sr.supportingInfo ?? []).map((r, i) => ({ i, ref: r.reference ?? '' })).filter((r) => r.ref.startsWith('Consent/'));
  if (refs.length === 0) throw refused('required', 'A referral must point (supportingInfo) to the patient\'s recorded Consent', 'ServiceRequest.supportingInfo');
  let why: { i: number; state: ConsentState } | undefined;
  for (const { i, ref } of refs) {
    const consent = (await tx.read('Consent', ref.slice('Consent/'.length)))?.resource as fhir4.Consent | undefined;
    if (!consent || consent.patient?.reference !== `Patient/${patient.id}`) continue;
    const state = consentState(consent, tx.now());
    if (state === 'in-force') return;
    if (state !== 'withdrawn') why ??= { i, state };
  }
  if (why) throw refused('business-rule', NOT_IN_FORCE[why.state], `ServiceRequest.supportingInfo[${why.i}]`);
  throw refused('business-rule', 'No active Consent of the referred patient is among the supporting information', 'ServiceRequest.supportingInfo');
}

const NOT_IN_FORCE: Record<ConsentState, string> = {
  'in-force': '',
  withdrawn: 'The patient\'s Consent is not active',
  refused: 'The patient\'s Consent refuses this sharing (provision.type deny)',
  expired: 'The patient\'s Consent has ended (provision.period.end is past)',
  'not-yet': 'The patient\'s Consent does not apply yet (provision.period.start is to come)',
};

/**
 * A practice changes a Consent that is not in force after the change (withdrawn, refused, ended): the
 * referrals resting on it stop being shared at once (workflow/consent-hold.ts). Whatever the version
 * before said: one that had ended unnoticed by the hourly job is acted on here too; a second change of
 * a withdrawn Consent finds nothing left to do.
 */
async function consentChanged(stored: Stored, previous: Stored | undefined, tx: StoreTx, serverWrite: Write): Promise<void> {
  if (!previous) return;
  const now = tx.now();
  const state = consentState(stored.resource as fhir4.Consent, now);
  if (state === 'in-force') return;
  await holdForLapsedConsent(stored.resource as fhir4.Consent & { id: string }, state === 'expired' ? 'expired' : 'withdrawn', now, tx, serverWrite);
}

/**
 * Accepts a new referral from a GP system: checks it (shape, requester in the caller's practice,
 * patient, consent), routes it, and returns it with literal references to the practice and the service,
 * which is what grants the service sight of it.
 */
async function acceptReferral(sr: fhir4.ServiceRequest & { id: string }, caller: Caller, tx: StoreTx, cfg: IntakeConfig): Promise<fhir4.ServiceRequest & { id: string }> {
  const issues = referralShapeIssues(sr, cfg.reasons);
  if (issues.length) throw FhirError.many(422, issues);
  if (!sr.requester) throw refused('required', 'A referral names its requester: the practice, or a practitioner role of it', 'ServiceRequest.requester');
  const bareClinician = (sr.requester.reference ?? '').startsWith('Practitioner/');
  const practice = bareClinician ? caller.organization : await organisationOf(sr.requester, tx, '');
  if (practice !== caller.organization) {
    throw refused('business-rule', `The requester must belong to the calling practice (${caller.organization})`, 'ServiceRequest.requester');
  }
  const patient = await referredPatient(sr.subject, tx);
  await requireConsent(sr, patient, tx);
  const named = sr.performer?.[0] ? await organisationOf(sr.performer[0], tx, '') : undefined;
  if (sr.performer?.[0] && !named) throw refused('business-rule', 'The performer is not a known organisation', 'ServiceRequest.performer[0]');
  const service = routeReferral(cfg.deployment, practice, named);
  const org = (ods: string, ref?: fhir4.Reference): fhir4.Reference => ({ ...ref, reference: `Organization/${ods}`, identifier: { system: ODS_SYSTEM, value: ods } });
  return {
    ...sr,
    subject: { ...sr.subject, reference: `Patient/${patient.id}` },
    requester: bareClinician || (sr.requester.reference ?? '').startsWith('PractitionerRole/') ? sr.requester : org(practice, sr.requester),
    performer: [org(service, sr.performer?.[0])],
  };
}

/** The Task the link-worker service works the referral through (DESIGN.md "Referral intake"). */
export function referralTask(sr: Stored, practice: string): fhir4.Task & { id: string } {
  const r = sr.resource as fhir4.ServiceRequest;
  return {
    resourceType: 'Task',
    id: randomUUID(),
    status: 'requested',
    intent: 'order',
    code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill', display: 'Fulfill the focal request' }] },
    focus: { reference: `ServiceRequest/${sr.id}` },
    basedOn: [{ reference: `ServiceRequest/${sr.id}` }],
    ...(r.subject ? { for: { reference: r.subject.reference } } : {}),
    authoredOn: sr.resource.meta.lastUpdated,
    requester: { reference: `Organization/${practice}`, identifier: { system: ODS_SYSTEM, value: practice } },
    owner: ownerOf(r),
  };
}

/** The service a routed referral names as performer (acceptReferral always sets it). */
function ownerOf(sr: fhir4.ServiceRequest): fhir4.Reference {
  const owner = sr.performer?.[0];
  if (!owner?.reference) throw new Error(`referral ${sr.id ?? ''} has no routed performer`);
  return owner;
}

// profiles/CodeSystem-sp-task-status-reason.json
const CANCELLED_BY_REFERRER = { system: 'https://signpost.health/fhir/CodeSystem/sp-task-status-reason', code: 'cancelled-by-referrer', display: 'Cancelled by the referrer' };

/**
 * What a practice may change in a referral it made: only its status, from active to revoked or
 * entered-in-error (and notes). Anything else — reasons, patient, performer — would change what the
 * service agreed to work on, or whom it is opened to.
 */
function checkReferralChange(next: fhir4.ServiceRequest, current: Stored): void {
  const was = current.resource as fhir4.ServiceRequest;
  const strip = ({ meta: _m, status: _s, note: _n, ...rest }: fhir4.ServiceRequest) => JSON.stringify(rest);
  if (strip(next) !== strip(was)) {
    throw new FhirError(422, 'business-rule', 'A referral once made can only be revoked, marked entered-in-error or annotated; send a new referral instead', 'ServiceRequest');
  }
  const allowed: Record<string, string[]> = { active: ['active', 'revoked', 'entered-in-error'], revoked: ['revoked', 'entered-in-error'] };
  if (next.status !== was.status && !(allowed[was.status] ?? []).includes(next.status)) {
    throw new FhirError(422, 'business-rule', `A referral cannot go from ${was.status} to ${next.status}`, 'ServiceRequest.status');
  }
}

/**
 * The referrer revoking its referral cancels the open Tasks for it; marking it entered-in-error marks
 * them so too (DESIGN.md "Link-worker workflow"). The referrer may read its Tasks but not write them:
 * the server does, on its behalf.
 */
async function closeTasks(sr: Stored, status: 'revoked' | 'entered-in-error', tx: StoreTx, serverWrite: Parameters<NonNullable<WriteRules['after']>>[3]): Promise<void> {
  for (const t of await referencing(tx, 'Task', 'focus', `ServiceRequest/${sr.id}`)) {
    const task = t.resource as fhir4.Task;
    const untouched = status === 'revoked' ? !isOpen(task.status) : task.status === 'entered-in-error';
    if (untouched) continue;
    if (status === 'revoked') await closeTask(t, 'cancelled', serverWrite, { coding: [CANCELLED_BY_REFERRER], text: 'The referrer revoked the referral' });
    else await closeTask(t, 'entered-in-error', serverWrite);
  }
}

/** A Consent's statement: everything but its identity and bookkeeping. */
function statementOf(c: fhir4.Consent): string {
  const { id: _id, meta: _meta, text: _text, ...statement } = c;
  return canonicalJson(statement);
}

/**
 * A re-sent referral carries its Consent again. The same statement of consent (patient included),
 * already recorded by the practice and still saying so, is that Consent: the re-send is answered with
 * it rather than stored twice. A Consent that differs in anything (date, provision, policy) is new.
 * Each practice's statements are remembered by digest as they are recorded (`rememberConsent`), so
 * finding the first costs a key lookup, not a search.
 */
const CONSENT_STATEMENTS = 'consent-statement';
const CONSENT_MEMORY_MICROS = 2 * 365 * 24 * 3600 * 1_000_000;
const statementKey = (statement: string, caller: Caller) =>
  `${caller.organization}:${createHash('sha256').update(statement).digest('base64url')}`;

async function sameConsent(next: fhir4.Consent, caller: Caller, tx: StoreTx): Promise<Stored | undefined> {
  const statement = statementOf(next);
  const id = await tx.recall(CONSENT_STATEMENTS, statementKey(statement, caller));
  const recorded = id ? await tx.read('Consent', id) : undefined;
  return recorded && statementOf(recorded.resource as fhir4.Consent) === statement ? recorded : undefined;
}

async function rememberConsent(stored: Stored, caller: Caller, tx: StoreTx): Promise<void> {
  const key = statementKey(statementOf(stored.resource as fhir4.Consent), caller);
  await tx.remember(CONSENT_STATEMENTS, key, stored.id, tx.now() + CONSENT_MEMORY_MICROS);
}

/** The write rules of referral intake: Patients carry valid NHS numbers; a new referral is checked, routed and given its Task. */
export function intakeRules(cfg: IntakeConfig): WriteRulesByType {
  const patient: WriteRules = {
    async before(next) {
      (next as fhir4.Patient).identifier?.forEach((id, i) => {
        if (id.system === NHS_NUMBER_SYSTEM && !isValidNhsNumber(id.value ?? '')) {
          throw new FhirError(422, 'invalid', `${id.value ?? '(none)'} is not a valid NHS number (ten digits with a Modulus 11 check digit)`, `Patient.identifier[${i}].value`);
        }
      });
      return next;
    },
    // One Patient per NHS number, whichever practice recorded it first: a practice that sends its own
    // (conditional on the NHS number, as a referral does) is given that Patient, never a second one.
    adopt: (conflict, caller) => caller.role === 'referrer' && conflict.system === NHS_NUMBER_SYSTEM,
  };
  const consent: WriteRules = {
    existing: (next, caller, tx) => sameConsent(next as fhir4.Consent, caller, tx),
    async after(stored, caller, tx, serverWrite, previous) {
      await rememberConsent(stored, caller, tx);
      await consentChanged(stored, previous, tx, serverWrite);
    },
  };
  const serviceRequest: WriteRules = {
    async before(next, current, caller, tx) {
      if (!current) return acceptReferral(next as fhir4.ServiceRequest & { id: string }, caller, tx, cfg);
      checkReferralChange(next as fhir4.ServiceRequest, current);
      return next;
    },
    async after(stored, caller, tx, serverWrite) {
      if (stored.version === 1) {
        await serverWrite(referralTask(stored, caller.organization));
        return;
      }
      const status = (stored.resource as fhir4.ServiceRequest).status;
      if (status === 'revoked' || status === 'entered-in-error') await closeTasks(stored, status, tx, serverWrite);
    },
  };
  return { Patient: patient, Consent: consent, ServiceRequest: serviceRequest };
}
