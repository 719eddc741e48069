import { idOfType } from '../fhir/index-values.js';
import { randomUUID } from 'node:crypto';
import type { Deployment } from '../config/deployment.js';
import { organisationOf, organizationReference } from '../config/organizations.js';
import type { Stored, StoreTx } from '../store/store.js';

type Task = fhir4.Task & { id: string };

/** Claim scope of the Tasks escalated, kept for two years: far longer than any referral waits. */
const ESCALATED = 'sla-escalated';
const ESCALATION_REMEMBERED_MICROS = 2 * 365 * 86_400_000_000;

/** The gateway's own Task.businessStatus (profiles/CodeSystem-sp-task-business-status.json). */
export const OVERDUE = { system: 'https://signpost.health/fhir/CodeSystem/sp-task-business-status', code: 'overdue', display: 'Overdue' };

export function markedOverdue(task: fhir4.Task): boolean {
  return (task.businessStatus?.coding ?? []).some((c) => c.system === OVERDUE.system && c.code === OVERDUE.code);
}

/**
 * Whether a Task is one the SLA covers and has run out of time: a referral's own Task (hand-ons are the
 * service's arrangement with a community group), still requested, authored before `cutoff` (an
 * instant in microseconds, working-days.ts overdueBefore), not yet marked.
 */
export function isOverdue(task: fhir4.Task, cutoffMicros: number): boolean {
  const authored = task.authoredOn ? Date.parse(task.authoredOn) * 1000 : Number.NaN;
  return task.status === 'requested' && !task.partOf?.length && authored < cutoffMicros && !markedOverdue(task);
}

/**
 * Escalates an overdue referral (issue 9): its Task gets businessStatus overdue, and the practice and
 * the service get one Communication saying so (pushed to a practice with an endpoint, like feedback).
 * Runs as the gateway in the caller's transaction; answers what it wrote, or nothing when the Task is
 * no longer overdue (accepted meanwhile, or escalated by an earlier run).
 */
export async function escalateOverdue(current: Stored, cutoffMicros: number, deployment: Deployment, tx: StoreTx): Promise<Stored[]> {
  const task = current.resource as Task;
  // Once per Task: its owner may replace the marker with a businessStatus of its own.
  if (!isOverdue(task, cutoffMicros) || await tx.recall(ESCALATED, task.id)) return [];
  await tx.remember(ESCALATED, task.id, String(current.version), tx.now() + ESCALATION_REMEMBERED_MICROS);
  const days = deployment.sla.requestedWorkingDays;
  const { meta: _meta, ...rest } = task;
  const marked = await tx.write({
    ...rest,
    businessStatus: { coding: [OVERDUE], text: `Not accepted or declined within ${days} working days` },
  } as Task, { method: 'PUT', expectVersion: current.version });
  const practice = await organisationOf(task.requester, tx, '');
  const service = await organisationOf(task.owner, tx, '');
  const name = (ods: string | undefined) => deployment.organizations.find((o) => o.ods === ods)?.name ?? ods ?? 'the service';
  const srId = idOfType(task.focus?.reference, 'ServiceRequest');
  const referral = srId ? (await tx.read('ServiceRequest', srId))?.resource as fhir4.ServiceRequest | undefined : undefined;
  const identifier = referral?.identifier?.[0]?.value;
  const communication: fhir4.Communication & { id: string } = {
    resourceType: 'Communication',
    id: randomUUID(),
    status: 'completed',
    // http://terminology.hl7.org/CodeSystem/communication-category: "notification".
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/communication-category', code: 'notification' }] }],
    ...(task.focus ? { basedOn: [{ reference: task.focus.reference! }] } : {}),
    about: [{ reference: `Task/${task.id}` }],
    ...(task.for ? { subject: { reference: task.for.reference! } } : {}),
    sent: new Date(tx.now() / 1000).toISOString(),
    recipient: [practice, service].flatMap((ods) => (ods ? [organizationReference(ods)] : [])),
    payload: [{
      contentString: `The referral${identifier ? ` ${identifier}` : ''} sent on ${(task.authoredOn ?? '').slice(0, 10)} has been neither accepted nor declined by ${name(service)} within ${days} working days. Its Task (Task/${task.id}) is marked overdue.`,
    }],
  };
  const sent = await tx.write(communication, { method: 'POST', expectVersion: 0 });
  return [marked, sent];
}
