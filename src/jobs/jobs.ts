import type { Logger } from 'pino';
import type { Deployment } from '../config/deployment.js';
import type { DeliveryWorker } from '../delivery/delivery-worker.js';
import type { Store } from '../store/store.js';
import { auditVerificationJob } from './audit-verification.js';
import { cleanupJob } from './cleanup.js';
import { deliverySweepJob } from './delivery-sweep.js';
import type { ScheduledJob } from './scheduler.js';

export interface JobParts {
  store: Store;
  deployment: Deployment;
  baseUrl: () => string;
  logger: Logger;
  deliveries: DeliveryWorker;
}

/** A deployment's jobs on the schedules its config gives them. */
export function scheduledJobs({ store, deployment, baseUrl, logger, deliveries }: JobParts): ScheduledJob[] {
  const s = deployment.jobs;
  return [
    { job: deliverySweepJob(store, deliveries, logger), schedule: s.deliverySweep },
    { job: auditVerificationJob(store, baseUrl, logger), schedule: s.auditVerification },
    { job: cleanupJob(store), schedule: s.cleanup },
  ];
}
