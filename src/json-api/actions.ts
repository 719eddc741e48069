import { z } from 'zod';
import { ODS_SYSTEM } from '../config/organizations.js';
import { FhirError } from '../fhir/errors.js';
import { SNOMED } from '../referral/reasons.js';
import type { ExpressionMapper } from './problem.js';
import { apiSchemas, ODS } from './schemas.js';

/**
 * The workflow actions of the JSON API, each the Task change a FHIR platform would make: the Task state
 * machine and its rules (DESIGN.md "Link-worker workflow") then judge it exactly as they judge a PUT.
 */
export const ACTIONS = {
  accept: { status: 'accepted', reason: false, summary: 'Accept the referral' },
  decline: { status: 'rejected', reason: true, summary: 'Decline the referral, with the reason' },
  start: { status: 'in-progress', reason: false, summary: 'Start working with the patient', from: 'accepted' },
  hold: { status: 'on-hold', reason: true, summary: 'Put the referral on hold, with the reason' },
  resume: { status: 'in-progress', reason: false, summary: 'Resume a referral on hold', from: 'on-hold' },
  complete: { status: 'completed', reason: false, summary: 'Complete the referral' },
  fail: { status: 'failed', reason: true, summary: 'Close the referral as failed, with the reason' },
} as const;
export type StatusAction = keyof typeof ACTIONS;

export const StatusReason = z.object({
  code: z.string().min(1).max(64).describe('A code of the Task status reasons ValueSet (SNOMED CT or sp-task-status-reason)'),
  text: z.string().min(1).max(500).optional(),
}).strict();

export const ActionIn = z.object({
  reason: StatusReason.optional().describe('Needed to decline, hold and fail'),
  note: z.string().min(1).max(2000).optional().describe('Added to the Task\'s notes'),
}).strict().register(apiSchemas, { id: 'ActionIn', description: 'What an action says: a reason where one is needed, and a note' });
export type ActionIn = z.infer<typeof ActionIn>;

export const HandOnIn = z.object({
  asset: ODS.describe('The community group\'s ODS code'),
  note: z.string().min(1).max(2000).optional().describe('What the group should know: when and where to meet the patient'),
}).strict().register(apiSchemas, { id: 'HandOnIn', description: 'Hand the referral on to a community group' });
export type HandOnIn = z.infer<typeof HandOnIn>;

/** The coding of a status reason code: its system is the one the bound ValueSet lists it under (SNOMED CT when none does). */
function reasonCoding(code: string, reasons: ReadonlySet<string>): fhir4.Coding {
  for (const entry of reasons) {
    const bar = entry.lastIndexOf('|');
    if (entry.slice(bar + 1) === code) return { system: entry.slice(0, bar), code };
  }
  return { system: SNOMED, code };
}

/**
 * The Task after a status action: only what an owner may change (status, statusReason, note). Start and
 * resume reach the same status from different ones: each only from its own (422 otherwise).
 */
export function actedTask(task: fhir4.Task, action: StatusAction, input: ActionIn, reasons: ReadonlySet<string>): fhir4.Task {
  const rule: { status: fhir4.Task['status']; from?: string } = ACTIONS[action];
  const { status } = rule;
  if (ACTIONS[action].reason && !input.reason) {
    throw new FhirError(422, 'required', `To ${action} a referral, say why: reason.code from the Task status reasons`, 'Task.statusReason');
  }
  if (rule.from !== undefined && task.status !== rule.from) {
    throw new FhirError(422, 'business-rule', `Only a referral that is ${rule.from} can be given ${action}; this one is ${task.status}`, 'Task.status');
  }
  const { statusReason: _previous, ...rest } = task;
  return {
    ...rest,
    status,
    ...(input.reason ? { statusReason: { coding: [reasonCoding(input.reason.code, reasons)], ...(input.reason.text ? { text: input.reason.text } : {}) } } : {}),
    ...(input.note ? { note: [...(task.note ?? []), { text: input.note, time: new Date().toISOString() }] } : {}),
  };
}

/** The hand-on Task: the workflow rules fill in the rest from the parent (requester, focus, for). */
export function handOnTask(parentId: string, input: HandOnIn): fhir4.Task {
  return {
    resourceType: 'Task', status: 'requested', intent: 'order',
    code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }] },
    partOf: [{ reference: `Task/${parentId}` }],
    owner: { reference: `Organization/${input.asset}`, identifier: { system: ODS_SYSTEM, value: input.asset } },
    ...(input.note ? { note: [{ text: input.note }] } : {}),
  };
}

/** Where the Task rules' errors point in an action's body; the Task's status is the action itself (the URL). */
export const actionMapper: ExpressionMapper = (expression) => {
  if (expression === 'Task.statusReason') return { pointer: '#/reason' };
  if (expression.startsWith('Task.statusReason')) return { pointer: '#/reason/code' };
  if (expression.startsWith('Task.note')) return { pointer: '#/note' };
  if (expression.startsWith('Task.owner')) return { pointer: '#/asset' };
  return undefined;
};

