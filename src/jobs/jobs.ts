import type { Logger } from 'pino';
import type { Deployment } from '../config/deployment.js';
import type { DeliveryWorker } from '../delivery/delivery-worker.js';
import type { RunInteraction } from '../fhir/interaction.js';
import type { Store } from '../store/store.js';
import { auditVerificationJob } from './audit-verification.js';
import { cleanupJob } from './cleanup.js';
import { consentExpiryJob } from './consent-expiry.js';
import { deliverySweepJob } from './delivery-sweep.js';
import type { ScheduledJob } from './scheduler.js';
import { slaEscalationJob } from './sla-escalation.js';

export interface JobParts {
  store: Store;
  /** The gateway's interaction runner: the jobs' changes are audited, ruled and announced like a client's. */
  run: RunInteraction;
  deployment: Deployment;
  baseUrl: () => string;
  logger: Logger;
  deliveries: DeliveryWorker;
}

/** A deployment's jobs on the schedules its config gives them. */
export function scheduledJobs({ store, run, deployment, baseUrl, logger, deliveries }: JobParts): ScheduledJob[] {
  const s = deployment.jobs;
  return [
    { job: deliverySweepJob(store, deliveries, logger), schedule: s.deliverySweep },
    { job: auditVerificationJob(store, baseUrl, logger), schedule: s.auditVerification },
    { job: cleanupJob(store), schedule: s.cleanup },
    { job: slaEscalationJob(store, run, deployment, logger), schedule: s.slaEscalation },
    { job: consentExpiryJob(store, run, logger), schedule: s.consentExpiry },
  ];
}
