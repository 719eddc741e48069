import { idOfType } from '../fhir/index-values.js';
import { organisationOf } from '../config/organizations.js';
import { consentIdsOf, referralHasConsent } from '../referral/consent.js';
import { referencing } from '../store/server-resources.js';
import type { Stored, StoreTx, WriteOptions } from '../store/store.js';
import { LOCAL_STATUS_REASON_SYSTEM } from './status-reasons.js';
import { isOpen } from './task-states.js';

type Task = fhir4.Task & { id: string };
export type Write = (r: fhir4.Resource & { id: string }, options?: WriteOptions) => Promise<Stored>;

/** Why sharing stopped: the practice recorded a withdrawal (or a refusal), or the consent's period ended. */
export type ConsentLapse = 'withdrawn' | 'expired';

// Local codes (profiles/CodeSystem-sp-task-status-reason.json), in the status-reasons ValueSet.
const REASON: Record<ConsentLapse, fhir4.Coding> = {
  withdrawn: { system: LOCAL_STATUS_REASON_SYSTEM, code: 'consent-withdrawn', display: 'Consent withdrawn' },
  expired: { system: LOCAL_STATUS_REASON_SYSTEM, code: 'consent-expired', display: 'Consent expired' },
};
const HELD_CODES = new Set(Object.values(REASON).map((c) => c.code));

/** Whether a Task is on hold because the consent under its referral lapsed (set by holdForLapsedConsent). */
export function heldForConsent(task: fhir4.Task): boolean {
  return task.status === 'on-hold' && (task.statusReason?.coding ?? []).some((c) => c.system === LOCAL_STATUS_REASON_SYSTEM && HELD_CODES.has(c.code ?? ''));
}

/** The statuses a consent lapse interrupts: every open one (a Task its owner had put on hold is held for consent too). */
const INTERRUPTED = new Set(['requested', 'accepted', 'in-progress', 'on-hold']);


/**
 * A Consent no longer lets its referrals be shared (issue 9): every open Task of each referral resting
 * on it alone (the referral's Task and its hand-ons to community groups) goes on hold with the reason,
 * and the community groups those referrals were handed on to lose sight of the patient at once (their
 * grant of the Patient is revoked, unless another referral with consent that the acting party sees
 * still hands them the patient), and what the outbox still owed them about the patient is withheld.
 * Idempotent: run again, it finds nothing left to do. Answers the Tasks it put on hold.
 *
 * DESIGN.md's state machine has no requested → on-hold; a lapse of consent is the one way there, so
 * that a referral not yet accepted is not worked either. Its owner resumes it (on-hold → in-progress)
 * once consent is recorded again.
 */
export async function holdForLapsedConsent(
  consent: fhir4.Consent & { id: string }, lapse: ConsentLapse, nowMicros: number, tx: StoreTx, write: Write,
): Promise<Stored[]> {
  const patient = consent.patient?.reference;
  if (!patient) return [];
  const tasks = (await referencing(tx, 'Task', 'patient', patient)).map((s) => ({ stored: s, task: s.resource as Task }));
  const affected = new Set<string>();
  for (const { task } of tasks) {
    if (task.partOf?.length) continue;
    const srId = idOfType(task.focus?.reference, 'ServiceRequest');
    const sr = srId ? (await tx.read('ServiceRequest', srId))?.resource as fhir4.ServiceRequest | undefined : undefined;
    if (sr && consentIdsOf(sr).includes(consent.id) && !(await referralHasConsent(sr, tx, nowMicros))) affected.add(task.id);
  }
  const parentOf = (t: Task) => idOfType(t.partOf?.[0]?.reference, 'Task');
  const underLapse = (t: Task) => affected.has(t.id) || affected.has(parentOf(t) ?? '');
  const held: Stored[] = [];
  for (const { stored, task } of tasks) {
    if (!underLapse(task) || !INTERRUPTED.has(task.status) || heldForConsent(task)) continue;
    const { meta: _meta, ...rest } = task;
    held.push(await write({ ...rest, status: 'on-hold', statusReason: { coding: [REASON[lapse]], text: lapseText(lapse, consent) } } as Task,
      { method: 'PUT', expectVersion: stored.version }));
  }
  // Community groups keep sight of the patient only through a hand-on they are still working, of a
  // referral that still has consent.
  const assetsOf = async (pick: (t: Task) => boolean) => new Set(await Promise.all(
    tasks.filter(({ task }) => task.partOf?.length && pick(task)).map(({ task }) => organisationOf(task.owner, tx, ''))));
  const keep = await assetsOf((t) => !underLapse(t) && isOpen(t.status) && !heldForConsent(t));
  const revoked = [...await assetsOf(underLapse)].filter((o): o is string => o !== undefined && !keep.has(o));
  const patientId = idOfType(patient, 'Patient');
  if (patientId && revoked.length) {
    await tx.revoke('Patient', patientId, revoked);
    // What the outbox still owed those groups about the patient is not sent; the news of the holds,
    // enqueued after this by the interaction's outbox, is (id only).
    await tx.deliveries.withhold(patient, revoked, tx.now());
  }
  return held;
}

function lapseText(lapse: ConsentLapse, consent: fhir4.Consent): string {
  return lapse === 'withdrawn'
    ? `The patient's consent (Consent/${consent.id ?? ''}) was withdrawn: no further sharing until the practice records consent again`
    : `The patient's consent (Consent/${consent.id ?? ''}) ended on ${consent.provision?.period?.end ?? '(unknown)'}: no further sharing until the practice records consent again`;
}

/**
 * The referral's Task is resumed with consent in force again: its hand-ons held for consent return to
 * the status they had before the hold, and so their community groups see the patient again.
 */
export async function resumeHandOns(task: Task, tx: StoreTx, write: Write): Promise<void> {
  for (const child of await referencing(tx, 'Task', 'part-of', `Task/${task.id}`)) {
    const hand = child.resource as Task;
    if (!heldForConsent(hand)) continue;
    // The version before the hold (notes may have been added while it was held): its status, and the
    // reason if its owner had put it on hold before.
    let before: Task | undefined;
    for (let v = child.version - 1; v >= 1 && (!before || heldForConsent(before)); v--) before = (await tx.vread('Task', child.id, v))?.resource as Task | undefined;
    const status = before && INTERRUPTED.has(before.status) && !heldForConsent(before) ? before.status : 'requested';
    const { meta: _meta, statusReason: _reason, ...rest } = hand;
    // Written open again, the hand-on shares its patient with its community group again (grants.ts).
    await write({ ...rest, status, ...(before?.statusReason ? { statusReason: before.statusReason } : {}) } as Task, { method: 'PUT', expectVersion: child.version });
  }
}
