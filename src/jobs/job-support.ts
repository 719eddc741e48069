import type { FhirResult } from '../fhir/interaction.js';
import type { SearchQuery, Store, Stored } from '../store/store.js';

/**
 * What the jobs share. Finding the work is the gateway's own bookkeeping, read straight from the store
 * (not a client's interaction, so not audited); each change it then makes is an audited interaction.
 */

/** Every match of a search, page by page as of one instant, kept where `keep` says. */
export async function scanAll(store: Store, query: Omit<SearchQuery, 'count'>, keep: (s: Stored) => boolean): Promise<Stored[]> {
  const found: Stored[] = [];
  let page = await store.transaction((tx) => tx.search({ ...query, count: 500 }));
  for (;;) {
    found.push(...page.matches.filter(keep));
    const after = page.next;
    if (!after) return found;
    const asOf = page.asOf;
    page = await store.transaction((tx) => tx.search({ ...query, count: 500, after, asOf }));
  }
}

/** A gateway interaction's result: the resources it concerned, as a collection (its AuditEvent names each, and the patients). */
export function collectionResult(resources: readonly Stored[]): FhirResult {
  return { status: 200, resource: { resourceType: 'Bundle', type: 'collection', entry: resources.map((s) => ({ resource: s.resource })) } as fhir4.Bundle };
}
