import type { Micros } from '../fhir/instant.js';

/**
 * An event the gateway owes a receiver, written in the same transaction as the change it announces
 * (the transactional outbox): it exists exactly when the change does.
 */
export interface DeliveryEvent {
  /** Who receives it: `endpoint:<ODS>` (a GP system's FHIR endpoint) or `subscription:<id>`. */
  receiver: string;
  /** Events of one receiver and stream are delivered in the order they were written: the referral (`ServiceRequest/<id>`). */
  stream: string;
  /** The version announced, `Type/id/_history/version`. */
  resource: string;
  /** The patient the resource concerns (`Patient/<id>`), so that withdrawn consent can withhold what is still owed. */
  patient?: string;
  /** The organisation (ODS code) it is owed to: the practice of an endpoint, the subscriber's organisation. */
  org?: string;
}

/**
 * pending: owed (due now or later, perhaps leased by a worker); delivered: the receiver accepted it;
 * failed: given up (a refusal, or too many tries), the dead letters an auditor may retry; withheld: no
 * longer to be sent (the patient's consent was withdrawn before it went).
 */
export const DELIVERY_STATES = ['pending', 'delivered', 'failed', 'withheld'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export interface Delivery extends DeliveryEvent {
  /** Its place in the outbox: the order of writing. */
  seq: number;
  state: DeliveryState;
  /** Tries made so far. */
  attempts: number;
  created: Micros;
  /** Not tried again before this instant. */
  due: Micros;
  /** Why the last try failed (the receiver's words where it gave any). */
  lastError?: string;
  /** When it was delivered, given up or withheld. */
  settledAt?: Micros;
}

/** How a try ended: accepted, to be tried again at `due`, or given up. */
export type DeliveryOutcome =
  | { state: 'delivered' }
  | { state: 'pending'; due: Micros; error: string }
  | { state: 'failed'; error: string };

export interface DeliveryListing {
  state?: DeliveryState;
  receiver?: string;
  /** Only events after this seq (paging), oldest first. */
  afterSeq?: number;
  limit: number;
}

/** The outbox, inside a store transaction. Every method is one statement or two. */
export interface DeliveryQueue {
  enqueue(events: readonly DeliveryEvent[]): Promise<void>;
  /**
   * Leases up to `limit` events due at `now` to `holder` until `until`: of each receiver and stream only
   * the oldest pending event (the next may go only once it is settled), none of `skipReceivers` (their
   * circuit is open), none leased to another worker whose lease has not expired.
   */
  lease(now: Micros, holder: string, until: Micros, limit: number, skipReceivers: readonly string[]): Promise<Delivery[]>;
  /** Records a try's outcome, if `holder` still holds the lease; false when it does not (the event was taken back). */
  settle(seq: number, holder: string, outcome: DeliveryOutcome, now: Micros): Promise<boolean>;
  list(listing: DeliveryListing): Promise<Delivery[]>;
  get(seq: number): Promise<Delivery | undefined>;
  /** A failed event back to pending, due at `now`, its tries counted from zero; undefined if it is not failed. */
  retry(seq: number, now: Micros): Promise<Delivery | undefined>;
  /** Withholds the pending events about `patient` owed to any of the organisations `orgs`; answers how many. */
  withhold(patient: string, orgs: readonly string[], now: Micros): Promise<number>;
  /** Removes delivered and withheld events settled before `before`; answers how many. */
  purgeSettled(before: Micros): Promise<number>;
  /** How many events are pending (and of those, due before `overdueBefore`) and failed. */
  summary(overdueBefore: Micros): Promise<{ pending: number; overdue: number; failed: number }>;
}
