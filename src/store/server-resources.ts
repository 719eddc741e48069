import { canonicalJson } from '../fhir/canonical-json.js';
import type { Stored, StoreTx } from './store.js';

/**
 * Small queries and writes the server's own rules make through a transaction, shared so that each
 * rule states what it wants rather than how the store is asked.
 */

/** The resources of `type` whose reference parameter `param` names `target` (at most 1,000). */
export async function referencing(tx: Pick<StoreTx, 'search'>, type: string, param: string, target: string): Promise<Stored[]> {
  return (await tx.search({ type, sort: 'default', count: 1000, filters: [{ kind: 'reference', param, targets: [target] }] })).matches;
}

/**
 * Writes a resource the server keeps from its own sources (config, profiles/) only when it is absent
 * or differs from what is stored, so that restarts add no versions. Says whether it wrote.
 */
export async function writeIfChanged(tx: StoreTx, wanted: fhir4.Resource & { id: string }): Promise<boolean> {
  const current = await tx.read(wanted.resourceType, wanted.id);
  const { meta: _meta, ...content } = (current?.resource ?? {}) as fhir4.Resource;
  if (current && canonicalJson(content) === canonicalJson(wanted)) return false;
  await tx.write(wanted, { method: current ? 'PUT' : 'POST' });
  return true;
}
