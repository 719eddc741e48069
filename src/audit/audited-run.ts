import { CallerTx, type WrittenVersion } from '../auth/caller-tx.js';
import type { WriteRulesByType } from '../auth/write-rules.js';
import { FhirError } from '../fhir/errors.js';
import type { Caller, InteractionInfo, RunInteraction } from '../fhir/interaction.js';
import type { Store, StoreTx } from '../store/store.js';
import { auditRecordFor, type AuditOutcome } from './audit-event.js';
import { appendAuditRecord } from './hash-chain.js';

async function record(tx: StoreTx, baseUrl: string, caller: Caller | undefined, info: InteractionInfo, outcome: AuditOutcome): Promise<void> {
  await appendAuditRecord(tx, auditRecordFor(caller, info, outcome, baseUrl));
}

/** Audits a refusal or failure in a transaction of its own (the failed one has rolled back). */
export async function auditRefusal(store: Store, baseUrl: string, caller: Caller | undefined, info: InteractionInfo, e: unknown): Promise<void> {
  const status = e instanceof FhirError ? e.status : 500;
  const description = e instanceof FhirError ? `${status} ${e.issues[0]?.diagnostics ?? ''}`.slice(0, 500) : '500 internal error';
  await store.transaction((tx) => record(tx, baseUrl, caller, info, { outcome: status < 500 ? '4' : '8', description }));
}

/**
 * What the server keeps from the versions an interaction wrote, in its transaction, on the unguarded
 * store: the outbox's events (delivery/outbox.ts) and the reports' read model (reports/report-projection.ts).
 */
export type AfterWrites = (tx: StoreTx, written: readonly WrittenVersion[]) => Promise<void>;

/**
 * How every FHIR interaction runs: in one store transaction, on the store as the caller may use it,
 * with its AuditEvent (and what the server keeps of its changes, `afterWrites`) written in that same
 * transaction, so the response is only sent once the record of it is durable. A refused or failed
 * interaction leaves nothing but its AuditEvent (outcome 4 or 8).
 */
export function auditedRunner(store: Store, baseUrl: () => string, rules: WriteRulesByType = {}, afterWrites?: AfterWrites): RunInteraction {
  return async (caller, info, fn) => {
    try {
      return await store.transaction(async (tx) => {
        const callerTx = new CallerTx(tx, caller, baseUrl(), rules);
        const result = await fn(callerTx);
        const written = await callerTx.recordProvenance();
        await afterWrites?.(tx, written);
        await record(tx, baseUrl(), caller, info, { outcome: '0', result, ...(info.description ? { description: info.description } : {}) });
        return result;
      });
    } catch (e) {
      await auditRefusal(store, baseUrl(), caller, info, e);
      throw e;
    }
  };
}
