import type { Logger } from 'pino';
import { auditRecordFor } from '../audit/audit-event.js';
import { appendAuditRecord, verifyChain } from '../audit/hash-chain.js';
import { GATEWAY_CALLER } from '../auth/gateway-caller.js';
import type { Store } from '../store/store.js';
import type { Job } from './job.js';

/**
 * Nightly: walks the whole audit chain. A break is logged as an error and recorded in the ledger
 * itself as a serious failure (outcome 8) of the gateway's own verification, so that an auditor
 * searching `AuditEvent?outcome=8` finds it even if nobody read the log.
 */
export function auditVerificationJob(store: Store, baseUrl: () => string, logger: Logger): Job {
  return {
    name: 'audit-verification',
    async run(): Promise<Record<string, number | boolean>> {
      const verdict = await verifyChain(store);
      if (verdict.result) return { result: true, events: verdict.events };
      const description = `the audit chain is broken at event ${verdict.seq}: ${verdict.reason}`;
      logger.error({ seq: verdict.seq, reason: verdict.reason }, description);
      await store.transaction((tx) => appendAuditRecord(tx, auditRecordFor(GATEWAY_CALLER, { subtype: 'verify', type: 'AuditEvent' }, { outcome: '8', description }, baseUrl())));
      return { result: false, brokenAt: verdict.seq };
    },
  };
}
