import type { Caller } from '../fhir/interaction.js';
import type { Stored, StoreTx, UniqueIdentifierConflict, WriteOptions } from '../store/store.js';

/**
 * Domain rules attached to the one write path (CallerTx.write), per resource type. They are plain
 * functions over resources and the caller's transaction, so every arrival path of a resource — REST,
 * transaction entry, message — meets the same rules.
 */
export interface WriteRules {
  /**
   * Checks, and may complete, a resource before a client writes it; throws a FhirError to refuse.
   * `options` tell how it is written: `expectVersion` is set when the client named the version it
   * changes (If-Match).
   */
  before?(next: fhir4.Resource & { id: string }, current: Stored | undefined, caller: Caller, tx: StoreTx, options: WriteOptions): Promise<fhir4.Resource & { id: string }>;
  /**
   * Before a create: an existing resource the caller can see that the new one would only repeat (an
   * idempotent re-send), to answer with instead of writing anything.
   */
  existing?(next: fhir4.Resource & { id: string }, caller: Caller, tx: StoreTx): Promise<Stored | undefined>;
  /**
   * A conditional create found nothing the caller sees, but another resource holds one of its unique
   * identifiers: may the caller be given that resource (granted, and answered with it) rather than a 409?
   */
  adopt?(conflict: UniqueIdentifierConflict, caller: Caller): boolean;
  /**
   * Runs after the write, in the same transaction. `serverWrite` writes what the server does in
   * consequence (a referral's Task, cancelling it), on the caller's behalf: granted and with Provenance
   * as any write, but without the caller's type rights (a practice may not write Tasks itself).
   * `previous` is the version the write replaced (undefined for a create).
   */
  after?(
    stored: Stored, caller: Caller, tx: StoreTx, serverWrite: (r: fhir4.Resource & { id: string }, options?: WriteOptions) => Promise<Stored>,
    previous: Stored | undefined,
  ): Promise<void>;
}

export type WriteRulesByType = Readonly<Record<string, WriteRules>>;
