import { createHash } from 'node:crypto';
import type { Store, Stored, StoreTx } from '../store/store.js';

/** Extension on each AuditEvent carrying the hash of the event before it. */
export const PREVIOUS_HASH_URL = 'https://signpost.health/fhir/StructureDefinition/audit-previous-hash';
const GENESIS = '0'.repeat(64);

/** A link's hash covers the previous hash and the event exactly as stored (its JSON serialisation). */
export function linkHash(previous: string, event: fhir4.Resource): string {
  return createHash('sha256').update(previous).update('\n').update(JSON.stringify(event)).digest('hex');
}

/**
 * Writes an AuditEvent as the next link of the chain: it names the previous link's hash, and its own
 * hash is recorded beside it. Changing any stored event afterwards breaks its link or the next one.
 */
export async function appendAuditEvent(tx: StoreTx, event: fhir4.AuditEvent & { id: string }): Promise<Stored> {
  const head = await tx.chainHead();
  const previous = head?.hash ?? GENESIS;
  const linked = { ...event, extension: [...(event.extension ?? []), { url: PREVIOUS_HASH_URL, valueString: previous }] };
  const stored = await tx.write(linked, { method: 'POST', expectVersion: 0 });
  await tx.appendChain({ seq: (head?.seq ?? 0) + 1, eventId: stored.id, hash: linkHash(previous, stored.resource) });
  return stored;
}

export type ChainVerdict =
  | { result: true; events: number }
  | { result: false; events: number; seq: number; eventId: string; reason: string };

const BATCH = 500;

/** Walks the whole chain from the first link, in read transactions of BATCH links, and reports the first break. */
export async function verifyChain(store: Store): Promise<ChainVerdict> {
  let previous = GENESIS;
  let seq = 0;
  for (;;) {
    const step = await store.transaction(async (tx): Promise<ChainVerdict | 'more' | 'done'> => {
      const links = await tx.chainLinks(seq, BATCH);
      if (links.length === 0) return 'done';
      for (const link of links) {
        const fail = (reason: string): ChainVerdict => ({ result: false, events: seq, seq: link.seq, eventId: link.eventId, reason });
        if (link.seq !== seq + 1) return fail(`link ${seq + 1} is missing`);
        const stored = await tx.vread('AuditEvent', link.eventId, 1);
        if (!stored) return fail('the event is missing');
        if ((await tx.read('AuditEvent', link.eventId))?.version !== 1) return fail('the event was changed after it was written');
        const named = (stored.resource as fhir4.AuditEvent).extension?.find((e) => e.url === PREVIOUS_HASH_URL)?.valueString;
        if (named !== previous) return fail('the event does not name the previous event\'s hash');
        if (linkHash(previous, stored.resource) !== link.hash) return fail('the event\'s content does not match its recorded hash');
        previous = link.hash;
        seq = link.seq;
      }
      return links.length < BATCH ? 'done' : 'more';
    });
    if (step === 'done') return { result: true, events: seq };
    if (step !== 'more') return step;
  }
}
