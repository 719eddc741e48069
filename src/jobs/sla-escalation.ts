import type { Logger } from 'pino';
import { GATEWAY_CALLER } from '../auth/gateway-caller.js';
import type { Deployment } from '../config/deployment.js';
import type { RunInteraction } from '../fhir/interaction.js';
import type { Store } from '../store/store.js';
import { escalateOverdue, isOverdue } from '../workflow/sla.js';
import { overdueBefore } from '../workflow/working-days.js';
import type { Job } from './job.js';
import { scanAll, collectionResult } from './job-support.js';

/**
 * Hourly by default: every referral whose Task is still requested after the deployment's working days
 * (config `sla`) is escalated (workflow/sla.ts), each in an interaction of its own by the gateway, so
 * each has its AuditEvent and Provenance and a failure leaves the others done. A Task escalated once
 * is marked, so a second run for the same moment finds nothing.
 */
export function slaEscalationJob(store: Store, run: RunInteraction, deployment: Deployment, logger: Logger): Job {
  const { requestedWorkingDays: days, holidays } = deployment.sla;
  const holidaySet = new Set(holidays);
  return {
    name: 'sla-escalation',
    async run(now) {
      const year = new Date(now / 1000).getUTCFullYear();
      if (!holidays.some((d) => d.startsWith(`${year}-`))) {
        logger.warn({ year }, `config sla.holidays lists no holiday in ${year}: bank holidays count as working days`);
      }
      const cutoff = overdueBefore(now / 1000, days, holidaySet) * 1000;
      const overdue = await scanAll(store, {
        type: 'Task', sort: 'default',
        filters: [
          { kind: 'token', param: 'status', values: [{ code: 'requested' }] },
          { kind: 'date', param: 'authored-on', prefix: 'lt', range: { lo: cutoff, hi: cutoff } },
        ],
      }, (s) => isOverdue(s.resource as fhir4.Task, cutoff));
      let escalated = 0;
      let failed = 0;
      for (const { id } of overdue) {
        const description = `SLA escalation: Task/${id} still requested after ${days} working days`;
        try {
          const result = await run(GATEWAY_CALLER, { subtype: 'sla-escalation', type: 'Task', description }, async (tx) => {
            const current = await tx.read('Task', id);
            const written = current ? await escalateOverdue(current, cutoff, deployment, tx) : [];
            return collectionResult(written);
          });
          if ((result.resource as fhir4.Bundle).entry?.length) escalated++;
        } catch (e) {
          // Refused (and audited) or failed: the others go on; the next run tries this one again.
          failed++;
          logger.error({ task: id, err: (e as Error).message }, 'SLA escalation of a Task failed');
        }
      }
      return { escalated, failed };
    },
  };
}
