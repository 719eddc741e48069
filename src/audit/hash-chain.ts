import { hash } from 'node:crypto';
import { formatInstant } from '../fhir/instant.js';
import type { Store, StoreTx } from '../store/store.js';
import { recordEntities, type AuditRecord, type UnplacedAuditRecord } from './audit-event.js';

const GENESIS = '0'.repeat(64);

/** A link's hash covers the previous hash and the record exactly as stored (its JSON text). */
export function linkHash(previous: string, json: string): string {
  return hash('sha256', `${previous}\n${json}`, 'hex');
}

/**
 * Appends an interaction's record as the next link of the chain. Its position is its id; it names the
 * previous link's hash, and its own hash (over that and its JSON) is stored beside it. Changing any
 * stored record afterwards breaks its link or the next one's.
 */
export async function appendAuditRecord(tx: StoreTx, unplaced: UnplacedAuditRecord): Promise<AuditRecord> {
  const head = await tx.auditHead();
  const seq = (head?.seq ?? 0) + 1;
  // The store's clock: recorded times increase along the chain, and each event is inside later snapshots.
  const recorded = tx.now();
  const record: AuditRecord = { seq, recorded: formatInstant(recorded), previousHash: head?.hash ?? GENESIS, ...unplaced };
  const json = JSON.stringify(record);
  await tx.appendAudit({
    seq, json, hash: linkHash(record.previousHash, json), recorded,
    outcome: record.outcome, subtype: record.interaction,
    ...(record.client ? { org: record.client.organization } : {}),
    entities: recordEntities(record),
  });
  return record;
}

export type ChainVerdict =
  | { result: true; events: number }
  | { result: false; events: number; seq: number; eventId: string; reason: string };

const BATCH = 1000;

/** Walks the whole chain from the first link, in read transactions of BATCH links, and reports the first break. */
export async function verifyChain(store: Store): Promise<ChainVerdict> {
  let previous = GENESIS;
  let seq = 0;
  for (;;) {
    const step = await store.transaction(async (tx): Promise<ChainVerdict | 'more' | 'done'> => {
      const links = await tx.auditEntries(seq, BATCH);
      for (const link of links) {
        const fail = (reason: string): ChainVerdict => ({ result: false, events: seq, seq: link.seq, eventId: String(link.seq), reason });
        if (link.seq !== seq + 1) return fail(`event ${seq + 1} is missing`);
        let named: unknown;
        try {
          const record = JSON.parse(link.json) as Partial<AuditRecord>;
          named = record.previousHash;
          if (record.seq !== link.seq) return fail('the event\'s id does not match its place in the chain');
        } catch {
          return fail('the event is not valid JSON');
        }
        if (named !== previous) return fail('the event does not name the previous event\'s hash');
        if (linkHash(previous, link.json) !== link.hash) return fail('the event\'s content does not match its recorded hash');
        previous = link.hash;
        seq = link.seq;
      }
      return links.length < BATCH ? 'done' : 'more';
    });
    if (step === 'done') return { result: true, events: seq };
    if (step !== 'more') return step;
  }
}
