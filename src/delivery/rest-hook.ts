import { createHmac, randomUUID } from 'node:crypto';
import { formatInstant } from '../fhir/instant.js';
import type { Delivery } from '../store/deliveries.js';
import type { Store, Stored } from '../store/store.js';
import { httpResult, receiverReason, unanswered, type SendResult, type Sender } from './sender.js';
import { isLive, SECRET_SCOPE } from './subscriptions.js';

/** The header carrying a notification's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. */
export const SIGNATURE_HEADER = 'x-signpost-signature';

/** The canonical naming what Signpost's criteria-based notifications are about (a Task that changed). */
export const TASK_CHANGED_TOPIC = 'https://signpost.health/fhir/SubscriptionTopic/task-changed';

/** The signature of a notification body sent at `unixSeconds`; the timestamp lets a subscriber refuse replays. */
export function signNotification(secret: string, unixSeconds: number, body: string): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`;
}

/**
 * An id-only notification as the Subscriptions R5 Backport IG shapes one for R4
 * (http://hl7.org/fhir/uv/subscriptions-backport/Bundle-r4-notification-id-only.html): a history
 * Bundle whose first entry is the subscription's status (Parameters) and whose second names the Task
 * version that changed, with no resource: the subscriber reads it, under its own access rights.
 */
export function idOnlyNotification(baseUrl: string, subscriptionId: string, delivery: Delivery, task: Stored, at: string): fhir4.Bundle {
  const subscription = `${baseUrl}/fhir/Subscription/${subscriptionId}`;
  const focus = `${baseUrl}/fhir/Task/${task.id}/_history/${task.version}`;
  const status: fhir4.Parameters = {
    resourceType: 'Parameters',
    meta: { profile: ['http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4'] },
    parameter: [
      { name: 'subscription', valueReference: { reference: subscription } },
      { name: 'topic', valueCanonical: TASK_CHANGED_TOPIC },
      { name: 'status', valueCode: 'active' },
      { name: 'type', valueCode: 'event-notification' },
      {
        name: 'notification-event',
        part: [
          { name: 'event-number', valueString: String(delivery.seq) },
          { name: 'timestamp', valueInstant: formatInstant(task.lastUpdated) },
          { name: 'focus', valueReference: { reference: focus } },
        ],
      },
    ],
  };
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { profile: ['http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-notification-r4'] },
    type: 'history',
    timestamp: at,
    entry: [
      {
        fullUrl: `urn:uuid:${randomUUID()}`,
        resource: status,
        request: { method: 'GET', url: `${subscription}/$status` },
        response: { status: '200' },
      },
      { fullUrl: focus, request: { method: 'PUT', url: `Task/${task.id}` }, response: { status: '200' } },
    ],
  };
}

/**
 * Sends notifications to subscriptions' rest-hook endpoints, signed with each subscription's secret.
 * It reads the subscription as it stands when the event goes: one switched off, errored or past its
 * end is not notified (the event is given up with that reason).
 */
export class RestHookSender implements Sender {
  constructor(
    private readonly store: Store,
    private readonly baseUrl: () => string,
    private readonly timeoutMs: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async send(delivery: Delivery, task: Stored): Promise<SendResult> {
    const id = delivery.receiver.slice('subscription:'.length);
    const { sub, secret } = await this.store.transaction(async (tx) => ({
      sub: (await tx.read('Subscription', id))?.resource as fhir4.Subscription | undefined,
      secret: await tx.recall(SECRET_SCOPE, id),
    }));
    if (!sub || !secret) return { ok: false, retry: false, reason: `Subscription/${id} no longer exists` };
    const now = this.nowMs();
    if (!isLive(sub, now)) return { ok: false, retry: false, reason: `Subscription/${id} is ${sub.status === 'active' ? 'past its end' : sub.status}` };
    const body = JSON.stringify(idOnlyNotification(this.baseUrl(), id, delivery, task, new Date(now).toISOString()));
    try {
      const res = await fetch(sub.channel.endpoint!, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json', [SIGNATURE_HEADER]: signNotification(secret, Math.floor(now / 1000), body) },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await res.text();
      let said: unknown = text;
      try { said = text ? JSON.parse(text) : undefined; } catch { /* not JSON: its text is the reason */ }
      return httpResult(res.status, receiverReason(said), res.headers.get('retry-after'));
    } catch (e) {
      return unanswered(e, this.timeoutMs);
    }
  }
}
