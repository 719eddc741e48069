import type { Logger } from 'pino';
import { auditedRunner } from '../audit/audited-run.js';
import type { Deployment } from '../config/deployment.js';
import type { Store } from '../store/store.js';
import { endpointReceiver } from './announcements.js';
import { DeliveryWorker } from './delivery-worker.js';
import { GpEndpointSender } from './gp-endpoint.js';
import { RestHookSender } from './rest-hook.js';
import type { Sender } from './sender.js';
import { putSubscriptionInError, subscriptionReceiver } from './subscriptions.js';

/**
 * The sender of each receiver: `endpoint:<ODS>` for a practice the deployment gives an endpoint (one
 * sender each, so that a token fetched for it is reused), `subscription:<id>` for every subscription.
 */
function configuredSenders(deployment: Deployment, store: Store, baseUrl: () => string): (receiver: string) => Sender | undefined {
  const senders = new Map<string, Sender>();
  const timeoutMs = deployment.delivery.timeoutSeconds * 1000;
  for (const org of deployment.organizations) {
    if (org.kind === 'gp-practice' && org.endpoint) senders.set(endpointReceiver(org.ods), new GpEndpointSender(org.endpoint, timeoutMs));
  }
  const subscriptions = new RestHookSender(store, baseUrl, timeoutMs);
  const subscriptionPrefix = subscriptionReceiver('');
  return (receiver) => (receiver.startsWith(subscriptionPrefix) ? subscriptions : senders.get(receiver));
}

export interface DeliverySetup {
  store: Store;
  deployment: Deployment;
  baseUrl: () => string;
  logger: Logger;
  /** Tests move the worker's clock and fix its jitter. */
  nowMs?: () => number;
  random?: () => number;
}

/** The delivery worker of a deployment, as `npm start` runs it: its receivers, settings and bookkeeping. */
export function createDeliveryWorker({ store, deployment, baseUrl, logger, ...clock }: DeliverySetup): DeliveryWorker {
  const run = auditedRunner(store, baseUrl);
  const subscriptionPrefix = subscriptionReceiver('');
  return new DeliveryWorker({
    store, senderFor: configuredSenders(deployment, store, baseUrl), settings: deployment.delivery, logger, ...clock,
    onGivenUp: async (delivery, reason) => {
      if (delivery.receiver.startsWith(subscriptionPrefix)) await putSubscriptionInError(run, delivery.receiver.slice(subscriptionPrefix.length), reason);
    },
  });
}
