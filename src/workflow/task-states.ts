/**
 * The Task state machine of the link-worker workflow (DESIGN.md "Link-worker workflow"), after the
 * FHIR R4 Task state diagram (http://hl7.org/fhir/R4/task.html#statemachine) as the Gravity SDOH
 * referral workflow uses it. Pure: no I/O, so every (from, to) pair is table-tested.
 */

export type TaskStatus = fhir4.Task['status'];

/** Every R4 Task status (http://hl7.org/fhir/R4/valueset-task-status.html). */
export const TASK_STATUSES: readonly TaskStatus[] = [
  'draft', 'requested', 'received', 'accepted', 'rejected', 'ready', 'cancelled', 'in-progress', 'on-hold', 'failed', 'completed', 'entered-in-error',
];

/** Where each status may go next. entered-in-error is reachable from every status and leads nowhere. */
const NEXT: Partial<Record<TaskStatus, readonly TaskStatus[]>> = {
  requested: ['accepted', 'rejected', 'cancelled'],
  accepted: ['in-progress', 'on-hold', 'cancelled', 'completed', 'failed'],
  'in-progress': ['on-hold', 'completed', 'failed', 'cancelled'],
  'on-hold': ['in-progress', 'cancelled'],
};

/** Statuses a Task is still being worked in: its owner is answerable for it. */
export const OPEN_STATUSES: readonly TaskStatus[] = ['requested', 'accepted', 'in-progress', 'on-hold'];

/** Statuses that must say why (Task.statusReason). */
export const REASON_REQUIRED: readonly TaskStatus[] = ['rejected', 'cancelled', 'on-hold', 'failed'];

/**
 * The SNOMED CT concept for a decline where the patient declined social prescribing: 871711000000103
 * "Social prescribing declined (situation)" (UK edition; profiles/SOURCES.md gives the source), in the status-reasons ValueSet.
 */
export const PATIENT_DECLINED = { system: 'http://snomed.info/sct', code: '871711000000103', display: 'Social prescribing declined' };

export function isOpen(status: TaskStatus): boolean {
  return OPEN_STATUSES.includes(status);
}

/**
 * Whether a Task may go from `from` to `to`. Staying in a status is allowed while the Task is not
 * entered-in-error (an owner records a business status, a note or an output without moving it).
 */
export function mayMove(from: TaskStatus, to: TaskStatus): boolean {
  if (from === 'entered-in-error') return false;
  if (to === 'entered-in-error' || to === from) return true;
  return NEXT[from]?.includes(to) ?? false;
}

/**
 * Why a move is refused, for the OperationOutcome; undefined when it is allowed. `reasoned`: whether
 * the new version says why (a Task.statusReason coding from the bound ValueSet).
 */
export function moveRefusal(from: TaskStatus, to: TaskStatus, reasoned: boolean): string | undefined {
  if (!mayMove(from, to)) {
    if (from === 'entered-in-error') return 'A Task marked entered-in-error cannot change any more';
    const allowed = [...(NEXT[from] ?? []), 'entered-in-error'].join(', ');
    return `A Task cannot go from ${from} to ${to}; from ${from} it may go to ${allowed}`;
  }
  if (to !== from && REASON_REQUIRED.includes(to) && !reasoned) return `A Task going to ${to} must say why in statusReason`;
  return undefined;
}
