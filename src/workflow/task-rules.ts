import { idOfType } from '../fhir/index-values.js';
import type { WriteRules, WriteRulesByType } from '../auth/write-rules.js';
import type { Deployment } from '../config/deployment.js';
import { organisationOf, organizationReference } from '../config/organizations.js';
import { canonicalJson } from '../fhir/canonical-json.js';
import { FhirError } from '../fhir/errors.js';
import type { Caller } from '../fhir/interaction.js';
import { referencing } from '../store/server-resources.js';
import type { Stored, StoreTx, WriteOptions } from '../store/store.js';
import { referralHasConsent } from '../referral/consent.js';
import { heldForConsent, resumeHandOns } from './consent-hold.js';
import { OVERDUE } from './sla.js';
import { LOCAL_STATUS_REASON_SYSTEM } from './status-reasons.js';
import { isOpen, moveRefusal, type TaskStatus } from './task-states.js';

type Task = fhir4.Task & { id: string };
type ServerWrite = Parameters<NonNullable<WriteRules['after']>>[3];

/** What the workflow asks of the outcomes module (src/outcomes) as a referral's Task is worked. */
export interface TaskOutcomes {
  /** Task.output entries for the outcomes recorded against the Task's referral. */
  outputsFor(task: Task, tx: StoreTx): Promise<fhir4.TaskOutput[]>;
  /** The referral's Task has just been completed (in the same transaction). */
  completed(task: Task, tx: StoreTx, serverWrite: ServerWrite): Promise<void>;
}

export interface WorkflowConfig {
  deployment: Deployment;
  /** The codings Task.statusReason may carry, `system|code` (status-reasons.ts). */
  statusReasons: ReadonlySet<string>;
  outcomes?: TaskOutcomes;
}

/** What the owner of a Task may change (DESIGN.md "Link-worker workflow"); its owner too, to reassign. */
const OWNER_MAY_CHANGE = new Set(['status', 'statusReason', 'businessStatus', 'note', 'output']);
/** Bookkeeping the server keeps: never compared. */
const SERVER_KEPT = new Set(['resourceType', 'id', 'meta']);

const unprocessable = (code: 'required' | 'business-rule' | 'not-found' | 'code-invalid', text: string, expression: string) =>
  new FhirError(422, code, text, expression);

/** The part of a reference that says what it points to, for comparing two spellings of one link. */
const target = (r: fhir4.Reference | undefined) => r?.reference ?? (r?.identifier ? `${r.identifier.system}|${r.identifier.value}` : undefined);

/** The elements (top level) on which two versions differ, in a stable order. */
function changedElements(next: Task, current: Task): string[] {
  const keys = [...new Set([...Object.keys(next), ...Object.keys(current)])].filter((k) => !SERVER_KEPT.has(k)).sort();
  const of = (t: Task, k: string) => canonicalJson((t as unknown as Record<string, unknown>)[k] ?? null);
  return keys.filter((k) => of(next, k) !== of(current, k));
}

/**
 * The workflow's rules on every Task write (DESIGN.md "Link-worker workflow"): the gateway makes the
 * referral's Task, a link worker makes hand-on Tasks, and each Task is changed only by its owner
 * (through the state machine) or, to mark it entered-in-error, by its requester. The referral follows
 * its Task in the same transaction.
 */
export function workflowRules(cfg: WorkflowConfig): WriteRulesByType {
  const kindOf = (ods: string | undefined) => cfg.deployment.organizations.find((o) => o.ods === ods)?.kind;

  /** The statusReason codings outside the bound ValueSet are refused; says whether one inside it is there. */
  function reasoned(task: Task): boolean {
    const codings = task.statusReason?.coding ?? [];
    codings.forEach((c, i) => {
      if (!cfg.statusReasons.has(`${c.system}|${c.code}`)) {
        throw unprocessable('code-invalid', `${c.system ?? '(no system)'}|${c.code ?? ''} is not a Task status reason of https://signpost.health/fhir/ValueSet/sp-task-status-reasons`, `Task.statusReason.coding[${i}]`);
      }
    });
    return codings.length > 0;
  }

  /**
   * A link worker hands a patient on to a community group: a Task part of the Task it owns and works,
   * about the same referral and patient, owned by a configured community asset, requested by the service.
   */
  async function handOn(next: Task, caller: Caller, tx: StoreTx): Promise<Task> {
    const partOf = next.partOf ?? [];
    if (partOf.length === 0) {
      throw unprocessable('business-rule', 'The gateway creates the Task of each referral as it arrives; a client creates only hand-on Tasks, partOf the Task it works', 'Task.partOf');
    }
    if (partOf.length > 1) throw unprocessable('business-rule', 'A hand-on Task is part of exactly one Task', 'Task.partOf');
    const [type, id] = (partOf[0]?.reference ?? '').split('/');
    const parent = type === 'Task' && id ? (await tx.read('Task', id))?.resource as Task | undefined : undefined;
    if (!parent) throw unprocessable('not-found', `${partOf[0]?.reference ?? 'partOf'} is not a Task known to this client`, 'Task.partOf[0]');
    if (parent.partOf?.length) throw unprocessable('business-rule', 'A hand-on Task cannot be handed on again: hand on from the referral\'s Task', 'Task.partOf[0]');
    if (await organisationOf(parent.owner, tx, '') !== caller.organization) {
      throw unprocessable('business-rule', 'Only the service that owns a Task may hand on from it', 'Task.partOf[0]');
    }
    if (parent.status !== 'accepted' && parent.status !== 'in-progress') {
      throw unprocessable('business-rule', `Hand on from a Task that is accepted or in progress, not ${parent.status}`, 'Task.partOf[0]');
    }
    if (!(await referralOf(parent, tx).then((sr) => sr && referralHasConsent(sr, tx, tx.now())))) {
      throw unprocessable('business-rule', 'The patient\'s consent to this referral is no longer in force (withdrawn or ended): nothing more may be shared', 'Task.partOf[0]');
    }
    const asset = await organisationOf(next.owner, tx, '');
    if (kindOf(asset) !== 'community-asset') {
      throw unprocessable('business-rule', 'A hand-on Task is owned by a configured community asset (an Organization of kind community-asset)', 'Task.owner');
    }
    if (next.status !== 'requested') throw unprocessable('business-rule', `A hand-on Task starts as requested, not ${next.status}`, 'Task.status');
    if (next.requester && await organisationOf(next.requester, tx, '') !== caller.organization) {
      throw unprocessable('business-rule', `The requester of a hand-on Task is the service handing on (${caller.organization})`, 'Task.requester');
    }
    for (const element of ['focus', 'for'] as const) {
      if (next[element] && target(next[element]) !== target(parent[element])) {
        throw unprocessable('business-rule', `A hand-on Task's ${element} is its parent Task's (${target(parent[element]) ?? 'none'})`, `Task.${element}`);
      }
    }
    return {
      ...next,
      requester: organizationReference(caller.organization),
      owner: { ...next.owner, ...organizationReference(asset!) },
      ...(parent.focus ? { focus: parent.focus } : {}),
      ...(parent.for ? { for: parent.for } : {}),
    };
  }

  /**
   * The owner's change: only the elements it may change, along the state machine. A link worker may
   * also pass the referral's Task to another configured service, which then receives it as requested.
   */
  async function ownerChange(next: Task, current: Task, caller: Caller, tx: StoreTx): Promise<Task> {
    const to = await organisationOf(next.owner, tx, '');
    if (!to) throw unprocessable('not-found', 'The owner is not a known organisation: every Task has one', 'Task.owner');
    // The same owner spelt differently (with or without its identifier, say) is no reassignment.
    const reassigning = to !== caller.organization;
    const candidate = reassigning ? next : { ...next, owner: current.owner };
    for (const element of changedElements(candidate, current)) {
      if (!OWNER_MAY_CHANGE.has(element) && element !== 'owner') {
        throw unprocessable('business-rule', `The owner of a Task may change only status, statusReason, businessStatus, note and output (and, to reassign it, owner), not ${element}`, `Task.${element}`);
      }
    }
    const hasReason = reasoned(candidate);
    requireGatewaysConsentHold(candidate, current);
    if (reassigning) {
      if (caller.role !== 'link-worker' || current.partOf?.length) {
        throw unprocessable('business-rule', 'Only a social prescribing service reassigns, and only the Task of a referral', 'Task.owner');
      }
      // A referral whose patient's consent has lapsed goes nowhere: that would open it to another service.
      if (heldForConsent(current) || !(await referralOf(current, tx).then((sr) => sr && referralHasConsent(sr, tx, tx.now())))) {
        throw unprocessable('business-rule', 'The patient\'s consent to this referral is not in force (withdrawn or ended): it cannot be passed to another service', 'Task.owner');
      }
      if (kindOf(to) !== 'sp-service') {
        throw unprocessable('business-rule', 'A referral\'s Task is reassigned to another configured social prescribing service', 'Task.owner');
      }
      if (!isOpen(current.status)) throw unprocessable('business-rule', `A ${current.status} Task cannot be reassigned`, 'Task.owner');
      if (candidate.status !== 'requested') {
        throw unprocessable('business-rule', 'A reassigned Task goes to its new owner as requested, for it to accept or decline', 'Task.status');
      }
      return { ...candidate, owner: { ...candidate.owner, ...organizationReference(to) } };
    }
    const refusal = moveRefusal(current.status, candidate.status, hasReason);
    if (refusal) throw unprocessable('business-rule', refusal, 'Task.status');
    if (heldForConsent(current) && candidate.status !== 'on-hold' && candidate.status !== 'cancelled' && candidate.status !== 'entered-in-error') {
      await requireConsentToResume(current, tx);
    }
    return current.partOf?.length ? candidate : withOutcomes(candidate, tx);
  }

  /**
   * The referral's Task lists the outcomes recorded against its referral in output, each time its
   * owner changes it (so at the latest when it completes), beside any outputs the owner gave. Added
   * here rather than when an outcome arrives, so that recording an outcome never changes the Task's
   * version under a platform that is about to update it (in the same transaction Bundle, say).
   */
  async function withOutcomes(task: Task, tx: StoreTx): Promise<Task> {
    const outputs = await cfg.outcomes?.outputsFor(task, tx) ?? [];
    const listed = new Set((task.output ?? []).map((o) => o.valueReference?.reference));
    const missing = outputs.filter((o) => !listed.has(o.valueReference?.reference));
    return missing.length ? { ...task, output: [...(task.output ?? []), ...missing] } : task;
  }

  const task: WriteRules = {
    async before(input, current, caller, tx, options) {
      const next = input as Task;
      if (!next.owner) throw unprocessable('required', 'Every Task has an owner, the organisation answerable for it', 'Task.owner');
      if (!current) return handOn(next, caller, tx);
      requireCurrentVersion(current, options);
      const was = current.resource as Task;
      if (caller.role === 'gateway') return gatewayChange(next, was);
      const owner = await organisationOf(was.owner, tx, '');
      if (caller.organization === owner) return ownerChange(next, was, caller, tx);
      if (caller.organization === await organisationOf(was.requester, tx, '')) return requesterChange(next, was);
      throw new FhirError(403, 'forbidden', `Only the Task's owner (${owner ?? 'none'}) changes it, or its requester to mark it entered-in-error`, 'Task');
    },
    async after(stored, _caller, tx, serverWrite, previous) {
      if (!previous) return;
      const was = previous.resource as Task;
      const now = stored.resource as Task;
      if (target(was.owner) !== target(now.owner)) await openToNewOwner(stored, now, tx);
      if (was.status !== now.status && !now.partOf?.length) {
        await followTask(now, tx, serverWrite);
        if (now.status === 'completed') await cfg.outcomes?.completed(now, tx, serverWrite);
        if (heldForConsent(was) && now.status === 'in-progress') await resumeHandOns(now, tx, serverWrite);
      }
    },
  };
  return { Task: task };
}

/** Task updates name the version they change (If-Match): a missing one is 428, a stale one 412. */
function requireCurrentVersion(current: Stored, options: WriteOptions): void {
  if (options.expectVersion === undefined) {
    throw new FhirError(428, 'required', `Changing a Task needs If-Match with its current version (W/"${current.version}"), so that no change is lost`, 'Task.meta.versionId');
  }
  if (options.expectVersion !== current.version) {
    throw new FhirError(412, 'conflict', `Task/${current.id} has changed: it is at version ${current.version}, not ${options.expectVersion}; read it again and retry`, 'Task.meta.versionId');
  }
}

/** The referral a Task is about (its focus), as the caller sees it. */
async function referralOf(task: Task, tx: StoreTx): Promise<fhir4.ServiceRequest | undefined> {
  const id = idOfType(task.focus?.reference, 'ServiceRequest');
  return id ? (await tx.read('ServiceRequest', id))?.resource as fhir4.ServiceRequest | undefined : undefined;
}

/**
 * A Task held because consent lapsed is worked again only once the practice has recorded consent
 * again: the referral's Task by its service, which brings its hand-ons back with it (consent-hold.ts).
 */
async function requireConsentToResume(current: Task, tx: StoreTx): Promise<void> {
  if (current.partOf?.length) {
    throw unprocessable('business-rule', 'This Task is on hold because the patient\'s consent lapsed: the social prescribing service resumes it with the referral once consent is recorded again', 'Task.status');
  }
  const referral = await referralOf(current, tx);
  if (!referral || !(await referralHasConsent(referral, tx, tx.now()))) {
    throw unprocessable('business-rule', 'This Task is on hold because the patient\'s consent lapsed: it may be resumed once the practice records consent again (an active Consent the referral rests on)', 'Task.status');
  }
}

/**
 * The consent-hold reasons are the gateway's: an owner may not give them (a hold it makes is for
 * another reason) nor take them away while the Task stays on hold (it resumes it, or cancels it).
 */
function requireGatewaysConsentHold(next: Task, current: Task): void {
  const held = heldForConsent(current);
  if (!held && heldForConsent(next)) {
    throw unprocessable('business-rule', 'consent-withdrawn and consent-expired are set by the gateway when the practice records a lapse of consent', 'Task.statusReason');
  }
  if (held && next.status === 'on-hold' && canonicalJson(next.statusReason ?? null) !== canonicalJson(current.statusReason ?? null)) {
    throw unprocessable('business-rule', 'This Task is on hold because the patient\'s consent lapsed: its reason stays until it is resumed (once consent is recorded again) or cancelled', 'Task.statusReason');
  }
}

/**
 * What the gateway itself changes on a Task (its scheduled jobs): the businessStatus it sets when a
 * referral is overdue, and on hold for lapsed consent (consent-hold.ts); nothing else.
 */
function gatewayChange(next: Task, current: Task): Task {
  const changed = changedElements(next, current);
  const overdue = changed.length === 1 && changed[0] === 'businessStatus' && next.businessStatus?.coding?.some((c) => c.system === OVERDUE.system && c.code === OVERDUE.code);
  const held = next.status === 'on-hold' && heldForConsent(next) && isOpen(current.status) && changed.every((e) => e === 'status' || e === 'statusReason');
  if (!overdue && !held) throw new FhirError(403, 'forbidden', `The gateway changes a Task only to mark it overdue or hold it for lapsed consent, not ${changed.join(', ') || 'nothing'}`, 'Task');
  return next;
}

/** The requester may only mark a Task entered-in-error (a referral sent by mistake), changing nothing else. */
function requesterChange(next: Task, current: Task): Task {
  const changed = changedElements(next, current).filter((e) => e !== 'status' && e !== 'statusReason');
  if (next.status !== 'entered-in-error' || changed.length > 0 || current.status === 'entered-in-error') {
    throw new FhirError(403, 'forbidden', 'The requester of a Task may only mark it entered-in-error; its owner works it', 'Task.status');
  }
  return next;
}

// The ServiceRequest's status as its Task ends (DESIGN.md "Link-worker workflow").
const REFERRAL_FOLLOWS: Partial<Record<TaskStatus, 'completed' | 'revoked'>> = {
  completed: 'completed', rejected: 'revoked', cancelled: 'revoked', failed: 'revoked',
};

const REFERRAL_CLOSED = { system: LOCAL_STATUS_REASON_SYSTEM, code: 'referral-closed', display: 'The referral was closed' };

/**
 * The referral's Task moved: the ServiceRequest follows it, and when the Task ends without being
 * completed its open hand-ons end with it. Written by the server on the caller's behalf, so each change
 * has a Provenance naming the caller.
 */
async function followTask(task: Task, tx: StoreTx, serverWrite: ServerWrite): Promise<void> {
  const follows = REFERRAL_FOLLOWS[task.status];
  const [type, id] = (task.focus?.reference ?? '').split('/');
  const referral = follows && type === 'ServiceRequest' && id ? await tx.read('ServiceRequest', id) : undefined;
  if (referral && (referral.resource as fhir4.ServiceRequest).status === 'active') {
    const { meta: _meta, ...sr } = referral.resource as fhir4.ServiceRequest & { id: string };
    const next: fhir4.ServiceRequest & { id: string } = { ...sr, status: follows! };
    await serverWrite(next, { method: 'PUT', expectVersion: referral.version });
  }
  if (task.status === 'completed' || isOpen(task.status)) return;
  for (const child of await handOns(task, tx)) {
    if (!isOpen((child.resource as Task).status)) continue;
    if (task.status === 'entered-in-error') await closeTask(child, 'entered-in-error', serverWrite);
    else await closeTask(child, 'cancelled', serverWrite, { coding: [REFERRAL_CLOSED], text: `The referral's Task was ${task.status}` });
  }
}

/**
 * The server ends a Task on a client's behalf (a closed referral, a closed parent): a new version with
 * the status and reason, naming the version it replaces.
 */
export async function closeTask(t: Stored, status: 'cancelled' | 'entered-in-error', serverWrite: ServerWrite, statusReason?: fhir4.CodeableConcept): Promise<void> {
  const { meta: _meta, ...rest } = t.resource as Task;
  await serverWrite({ ...rest, status, ...(statusReason ? { statusReason } : {}) } as Task, { method: 'PUT', expectVersion: t.version });
}

async function handOns(task: Task, tx: StoreTx): Promise<Stored[]> {
  return referencing(tx, 'Task', 'part-of', `Task/${task.id}`);
}

/**
 * A reassigned Task opens what its new owner needs to work it: the Task's own links (patient,
 * referral) are shared by the grant rules; the referral's Consent and the Task's hand-ons are shared here.
 */
async function openToNewOwner(stored: Stored, task: Task, tx: StoreTx): Promise<void> {
  const owner = await organisationOf(task.owner, tx, '');
  if (!owner) return;
  const [type, id] = (task.focus?.reference ?? '').split('/');
  const referral = type === 'ServiceRequest' && id ? (await tx.read('ServiceRequest', id))?.resource as fhir4.ServiceRequest | undefined : undefined;
  for (const info of referral?.supportingInfo ?? []) {
    const [infoType, infoId] = (info.reference ?? '').split('/');
    if (infoType === 'Consent' && infoId) await tx.grant('Consent', infoId, [owner]);
  }
  for (const child of await handOns(stored.resource as Task, tx)) await tx.grant('Task', child.id, [owner]);
}
