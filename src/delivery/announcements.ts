import type { WrittenVersion } from '../auth/caller-tx.js';
import type { Deployment } from '../config/deployment.js';
import type { DeliveryEvent } from '../store/deliveries.js';
import type { Stored, StoreTx } from '../store/store.js';

/**
 * Writes the events an interaction's changes owe receivers, in the interaction's own transaction (so
 * that an event exists exactly when its change does). `written` is every version the interaction
 * wrote, the server's consequences included, with the organisations that see it.
 */
export type Announcer = (tx: StoreTx, written: readonly WrittenVersion[]) => Promise<DeliveryEvent[]>;

/** The receiver name of a GP system's endpoint. */
export const endpointReceiver = (ods: string) => `endpoint:${ods}`;

const referenceOf = (r: fhir4.Reference | undefined): string | undefined => r?.reference;

type Status = { status?: string };

/** Whether a version changed its resource's status (a first version counts as a change from nothing). */
async function statusChanged(tx: StoreTx, s: Stored): Promise<boolean> {
  if (s.version === 1) return true;
  const before = await tx.vread(s.type, s.id, s.version - 1);
  return (before?.resource as Status | undefined)?.status !== (s.resource as Status).status;
}

/** What of a version a GP system is owed, and the referral it belongs to; undefined when nothing. */
async function feedbackFor(tx: StoreTx, s: Stored): Promise<{ stream: string; patient?: string } | undefined> {
  switch (s.type) {
    case 'Task': {
      // The referral's own Task (hand-on Tasks are the service's business with a community group),
      // from its creation (the practice learns which Task to follow) and at every change of status.
      const task = s.resource as fhir4.Task;
      if (task.partOf?.length || !(await statusChanged(tx, s))) return undefined;
      const stream = referenceOf(task.focus) ?? `Task/${s.id}`;
      const patient = referenceOf(task.for);
      return { stream, ...(patient ? { patient } : {}) };
    }
    case 'ServiceRequest': {
      // The practice sent the first version itself; it is owed the changes of status that follow.
      if (s.version === 1 || !(await statusChanged(tx, s))) return undefined;
      const patient = referenceOf((s.resource as fhir4.ServiceRequest).subject);
      return { stream: `ServiceRequest/${s.id}`, ...(patient ? { patient } : {}) };
    }
    case 'Communication': {
      if (s.version !== 1) return undefined;
      const c = s.resource as fhir4.Communication;
      const patient = referenceOf(c.subject);
      return { stream: referenceOf(c.basedOn?.[0]) ?? `Communication/${s.id}`, ...(patient ? { patient } : {}) };
    }
    default:
      return undefined;
  }
}

/**
 * Feedback and status changes for GP systems (DESIGN.md, deployment config `endpoint`): the referral's
 * ServiceRequest and Task at every change of status, and every Communication (the feedback), to each
 * practice that may see them and has an endpoint configured. Ordered per referral.
 */
export function gpFeedbackAnnouncer(deployment: Deployment): Announcer {
  const withEndpoint = new Set(deployment.organizations.filter((o) => o.kind === 'gp-practice' && o.endpoint).map((o) => o.ods));
  return async (tx, written) => {
    if (withEndpoint.size === 0) return [];
    const events: DeliveryEvent[] = [];
    for (const { stored: s, audience } of written) {
      const owed = await feedbackFor(tx, s);
      if (!owed) continue;
      const practices = audience.filter((org) => withEndpoint.has(org));
      for (const ods of practices) {
        events.push({ receiver: endpointReceiver(ods), org: ods, resource: `${s.type}/${s.id}/_history/${s.version}`, ...owed });
      }
    }
    return events;
  };
}
