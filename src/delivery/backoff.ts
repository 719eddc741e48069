import type { Deployment } from '../config/deployment.js';

export type DeliverySettings = Deployment['delivery'];

/**
 * Milliseconds to wait before the next try of an event that has failed `attempts` times: doubling from
 * firstRetrySeconds up to maxRetrySeconds, and then a random point in the upper half of that wait, so
 * that the events a receiver's outage held back do not all return at the same instant. A receiver's
 * Retry-After, when longer, wins.
 */
export function retryDelayMs(attempts: number, settings: DeliverySettings, random: () => number = Math.random, retryAfterMs = 0): number {
  const ceiling = Math.min(settings.maxRetrySeconds, settings.firstRetrySeconds * 2 ** Math.max(0, attempts - 1)) * 1000;
  const jittered = ceiling * (0.5 + random() / 2);
  return Math.max(jittered, Math.min(retryAfterMs, settings.maxRetrySeconds * 1000));
}
