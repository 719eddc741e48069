import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Delivery, DeliveryOutcome } from '../store/deliveries.js';
import type { Store, Stored } from '../store/store.js';
import { retryDelayMs, type DeliverySettings } from './backoff.js';
import { CircuitBreakers } from './circuit-breakers.js';
import type { SendResult, Sender } from './sender.js';

export interface DeliveryWorkerOptions {
  store: Store;
  /** The sender of a receiver (`endpoint:<ODS>`, `subscription:<id>`), or undefined when it is no longer configured. */
  senderFor: (receiver: string) => Sender | undefined;
  settings: DeliverySettings;
  logger: Logger;
  /** Wall-clock milliseconds: when events are due and leases end (tests move it). */
  nowMs?: () => number;
  random?: () => number;
  /** Events leased per round. */
  batchSize?: number;
  /** Told of each event given up, once its outcome is recorded (a subscription then goes into error). */
  onGivenUp?: (delivery: Delivery, reason: string) => Promise<void>;
}

/** A version reference `Type/id/_history/n` as its parts. */
function versionOf(resource: string): { type: string; id: string; version: number } | undefined {
  const m = /^([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})\/_history\/(\d+)$/.exec(resource);
  return m ? { type: m[1]!, id: m[2]!, version: Number(m[3]) } : undefined;
}

interface Attempt {
  delivery: Delivery;
  result: SendResult;
}

/**
 * Drains the outbox (store/deliveries.ts): leases the events that are due, sends them, and records
 * each outcome, round after round; with several instances, each leases its own events. Between rounds
 * it waits pollSeconds, or less when woken by a change that wrote events. Sending happens outside any
 * store transaction: a lease outlives the longest try (twice the timeout, for a token fetch and the
 * request, and a margin), so an event sent by a worker that died is leased again once its lease ends,
 * and the receiver may see it twice but never not at all.
 */
export class DeliveryWorker {
  readonly holder = randomUUID();
  private readonly breakers: CircuitBreakers;
  private readonly nowMs: () => number;
  private readonly random: () => number;
  private readonly batchSize: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  constructor(private readonly options: DeliveryWorkerOptions) {
    const s = options.settings;
    this.breakers = new CircuitBreakers(s.breakerFailures, s.breakerCooldownSeconds * 1000);
    this.nowMs = options.nowMs ?? Date.now;
    this.random = options.random ?? Math.random;
    this.batchSize = options.batchSize ?? 32;
  }

  private get leaseMs(): number {
    return this.options.settings.timeoutSeconds * 2000 + 5000;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Runs a round soon: something has just written events. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  /** Stops after the round in flight, whose outcomes are recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.rounds().finally(() => { this.running = undefined; });
    }, ms);
    this.timer.unref();
  }

  /** Rounds back to back while they find full batches (or were woken meanwhile), then a wait. */
  private async rounds(): Promise<void> {
    let full = true;
    while (!this.stopped && (full || this.again)) {
      this.again = false;
      try {
        full = (await this.round()) === this.batchSize;
      } catch (e) {
        // The store failed (a lost database connection): nothing was settled, the leases run out, and
        // the events are tried again after the wait.
        this.options.logger.error({ err: (e as Error).message }, 'delivery round failed');
        full = false;
      }
    }
    if (!this.stopped) this.schedule(this.options.settings.pollSeconds * 1000);
  }

  /** One round: lease what is due, send it, record the outcomes. Answers how many events it leased. */
  async round(): Promise<number> {
    const { store, settings } = this.options;
    const now = this.nowMs();
    const leased = await store.transaction(async (tx) => {
      const due = await tx.deliveries.lease(Math.round(now * 1000), this.holder, Math.round((now + this.leaseMs) * 1000), this.batchSize, this.breakers.open(now));
      const out: { delivery: Delivery; stored: Stored | undefined }[] = [];
      for (const delivery of due) {
        const v = versionOf(delivery.resource);
        out.push({ delivery, stored: v && await tx.vread(v.type, v.id, v.version) });
      }
      return out;
    });
    if (leased.length === 0) return 0;
    const attempts = await Promise.all(leased.map(async ({ delivery, stored }): Promise<Attempt> => {
      const sender = this.options.senderFor(delivery.receiver);
      if (!sender) return { delivery, result: { ok: false, retry: false, reason: `${delivery.receiver} is no longer a configured receiver` } };
      if (!stored) return { delivery, result: { ok: false, retry: false, reason: `${delivery.resource} is not stored` } };
      return { delivery, result: await sender.send(delivery, stored) };
    }));
    const settledAt = this.nowMs();
    for (const { delivery, result } of attempts) {
      if (result.ok) this.breakers.succeeded(delivery.receiver);
      else if (result.retry) this.breakers.failed(delivery.receiver, settledAt);
    }
    const outcomes = attempts.map((a) => ({ ...a, outcome: this.outcome(a, settledAt, settings) }));
    const settled = await store.transaction(async (tx) => {
      const kept: typeof outcomes = [];
      for (const a of outcomes) {
        if (await tx.deliveries.settle(a.delivery.seq, this.holder, a.outcome, Math.round(settledAt * 1000))) kept.push(a);
        else this.options.logger.warn({ seq: a.delivery.seq }, 'a delivery\'s lease ran out before its try ended; it is tried again');
      }
      return kept;
    });
    for (const { delivery, outcome } of settled) {
      if (outcome.state === 'failed') await this.options.onGivenUp?.(delivery, outcome.error);
    }
    for (const { delivery, result } of attempts) {
      if (!result.ok) {
        this.options.logger.warn({ seq: delivery.seq, receiver: delivery.receiver, resource: delivery.resource, attempts: delivery.attempts + 1, reason: result.reason },
          result.retry ? 'delivery failed; it will be tried again' : 'delivery refused; given up');
      }
    }
    return leased.length;
  }

  private outcome({ delivery, result }: Attempt, nowMs: number, settings: DeliverySettings): DeliveryOutcome {
    if (result.ok) return { state: 'delivered' };
    const tries = delivery.attempts + 1;
    if (!result.retry) return { state: 'failed', error: result.reason };
    if (tries >= settings.maxAttempts) return { state: 'failed', error: `${result.reason} (gave up after ${tries} tries)` };
    // Whole microseconds: the stores keep instants as integers (PostgreSQL's bigint refuses a fraction).
    return { state: 'pending', due: Math.round((nowMs + retryDelayMs(tries, settings, this.random, result.retryAfterMs)) * 1000), error: result.reason };
  }
}
