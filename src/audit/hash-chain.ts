import { createHash } from 'node:crypto';
import { referenceTarget } from '../fhir/index-values.js';
import { formatInstant } from '../fhir/instant.js';
import type { Store, Stored, StoreTx } from '../store/store.js';
import type { UnrecordedAuditEvent } from './audit-event.js';

/** Extension on each AuditEvent carrying the hash of the event before it. */
export const PREVIOUS_HASH_URL = 'https://signpost.health/fhir/StructureDefinition/audit-previous-hash';
const GENESIS = '0'.repeat(64);

/** A link's hash covers the previous hash and the event exactly as stored (its JSON text). */
export function linkHash(previous: string, json: string): string {
  return createHash('sha256').update(previous).update('\n').update(json).digest('hex');
}

/** The references an event concerns, for search by patient and entity. */
function entities(event: fhir4.AuditEvent): string[] {
  return (event.entity ?? []).flatMap((e) => {
    const t = e.what?.reference ? referenceTarget(e.what.reference, '') : undefined;
    return t ? [t] : [];
  });
}

/**
 * Appends an AuditEvent as the next link of the chain. Its position is its id; it names the previous
 * link's hash, and its own hash (over that and its JSON) is stored beside it. Changing any stored
 * event afterwards breaks its link or the next one's.
 */
export async function appendAuditEvent(tx: StoreTx, event: UnrecordedAuditEvent, org: string | undefined): Promise<Stored> {
  const head = await tx.auditHead();
  const seq = (head?.seq ?? 0) + 1;
  const previous = head?.hash ?? GENESIS;
  // The store's clock: recorded times increase along the chain, and each event is inside later snapshots.
  const recorded = tx.now();
  const at = formatInstant(recorded);
  const { resourceType, ...rest } = event;
  const resource = {
    resourceType,
    id: String(seq),
    meta: { versionId: '1', lastUpdated: at },
    ...rest,
    recorded: at,
    extension: [...(event.extension ?? []), { url: PREVIOUS_HASH_URL, valueString: previous }],
  } as Stored['resource'] & fhir4.AuditEvent;
  const json = JSON.stringify(resource);
  await tx.appendAudit({
    seq, json, hash: linkHash(previous, json), recorded,
    outcome: resource.outcome ?? '0', subtype: resource.subtype?.[0]?.code ?? 'unknown',
    ...(org !== undefined ? { org } : {}),
    entities: entities(resource),
  });
  return { resource, type: 'AuditEvent', id: resource.id, version: 1, lastUpdated: recorded, method: 'POST' };
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
        let named: string | undefined;
        try {
          const event = JSON.parse(link.json) as fhir4.AuditEvent;
          named = event.extension?.find((e) => e.url === PREVIOUS_HASH_URL)?.valueString;
          if (event.id !== String(link.seq)) return fail('the event\'s id does not match its place in the chain');
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
