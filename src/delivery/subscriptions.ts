import type { WrittenVersion } from '../auth/caller-tx.js';
import { GATEWAY_CALLER } from '../auth/gateway-caller.js';
import type { WriteRules } from '../auth/write-rules.js';
import { FhirError } from '../fhir/errors.js';
import { parseDateRange } from '../fhir/instant.js';
import type { RunInteraction } from '../fhir/interaction.js';
import type { DeliveryEvent } from '../store/deliveries.js';
import type { StoreTx } from '../store/store.js';
import type { Announcer } from './announcements.js';

/**
 * R4 Subscriptions for link-worker and community-asset platforms (issue 9): rest-hook notifications
 * that a Task of the subscriber's own organisation changed, naming the Task and nothing else.
 */

/** Where a subscriber gives the secret its notifications are signed with (on create, and to rotate it). */
export const SUBSCRIPTION_SECRET_URL = 'https://signpost.health/fhir/StructureDefinition/subscription-secret';
/**
 * The Subscriptions R5 Backport IG's payload-content extension on channel.payload
 * (http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content): the
 * gateway sends `id-only`, so that no patient data travels in a notification.
 */
export const PAYLOAD_CONTENT_URL = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content';
/** The claim scope under which a subscription's secret is kept, outside the resource (which auditors read). */
export const SECRET_SCOPE = 'subscription-secret';
/** A secret shorter than this is too easy to guess for an HMAC key (RFC 2104 advises at least the hash's output length; 32 characters of base64 carry 192 bits). */
const MIN_SECRET_LENGTH = 32;

const TASK_STATUSES = new Set(['draft', 'requested', 'received', 'accepted', 'rejected', 'ready', 'cancelled', 'in-progress', 'on-hold', 'failed', 'completed', 'entered-in-error']);

/** The receiver name of a subscription. */
export const subscriptionReceiver = (id: string) => `subscription:${id}`;

export interface Criteria {
  owner: string;
  /** Task statuses notified; every status when absent. */
  statuses?: ReadonlySet<string>;
}

const unprocessable = (text: string, expression: string) => new FhirError(422, 'business-rule', text, expression);

/**
 * A subscription's criteria: `Task?owner=Organization/<ODS>` and optionally `&status=<code>,…`. Nothing
 * else is accepted, so that what a subscriber is told matches exactly what it may read.
 */
export function parseCriteria(criteria: string | undefined): Criteria {
  const at = 'Subscription.criteria';
  const [type, query = ''] = (criteria ?? '').split('?', 2);
  if (type !== 'Task') throw unprocessable('criteria must be a Task search: Task?owner=Organization/<your ODS code>[&status=…]', at);
  const params = new URLSearchParams(query);
  const owners = params.getAll('owner');
  if (owners.length !== 1) throw unprocessable('criteria must name one owner: Task?owner=Organization/<your ODS code>', at);
  const owner = owners[0]!.replace(/^Organization\//, '');
  const statuses = params.getAll('status');
  for (const key of params.keys()) {
    if (key !== 'owner' && key !== 'status') throw unprocessable(`criteria may use owner and status only, not ${key}`, at);
  }
  if (statuses.length > 1) throw unprocessable('give status once, its codes separated by commas', at);
  if (statuses.length === 0) return { owner };
  const codes = statuses[0]!.split(',');
  const unknown = codes.find((c) => !TASK_STATUSES.has(c));
  if (unknown !== undefined) throw unprocessable(`${unknown} is not a Task status (http://hl7.org/fhir/task-status)`, at);
  return { owner, statuses: new Set(codes) };
}

/** Whether a Task version matches a subscription's criteria. */
export function matches(criteria: Criteria, task: fhir4.Task): boolean {
  const owner = task.owner?.reference?.replace(/^Organization\//, '') ?? task.owner?.identifier?.value;
  return owner === criteria.owner && (!criteria.statuses || criteria.statuses.has(task.status));
}

/** Whether a subscription is to be notified now: active and not past its end. */
export function isLive(sub: fhir4.Subscription, nowMs: number): boolean {
  const end = sub.end ? parseDateRange(sub.end) : undefined;
  return sub.status === 'active' && (!end || end.hi / 1000 >= nowMs);
}

/**
 * The rules on a Subscription a platform writes: a rest-hook to an http(s) endpoint, criteria on its
 * own organisation's Tasks, id-only notifications, no channel headers (a signature proves the sender
 * instead), and a secret for that signature, kept apart from the resource. `requested` or `active`
 * is stored as active (R4: the server activates); `error` is the server's to set.
 */
export function subscriptionRules(): WriteRules {
  return {
    async before(next, current, caller, tx) {
      const sub = next as fhir4.Subscription & { id: string };
      const criteria = parseCriteria(sub.criteria);
      if (criteria.owner !== caller.organization) {
        throw unprocessable(`A client may subscribe only to its own organisation's Tasks (owner=Organization/${caller.organization})`, 'Subscription.criteria');
      }
      if (sub.channel?.type !== 'rest-hook') throw unprocessable('channel.type must be rest-hook', 'Subscription.channel.type');
      let endpoint: URL | undefined;
      try {
        endpoint = new URL(sub.channel.endpoint ?? '');
      } catch {
        endpoint = undefined;
      }
      if (!endpoint || (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:')) {
        throw unprocessable('channel.endpoint must be an http(s) URL', 'Subscription.channel.endpoint');
      }
      if (sub.channel.header?.length) {
        throw unprocessable('channel.header is not kept: notifications carry an X-Signpost-Signature (HMAC-SHA256 with your secret) instead', 'Subscription.channel.header');
      }
      const content = sub.channel._payload?.extension?.find((e) => e.url === PAYLOAD_CONTENT_URL)?.valueCode;
      if (content !== undefined && content !== 'id-only') {
        throw unprocessable('Notifications are id-only: they name the Task that changed and carry no patient data', 'Subscription.channel.payload');
      }
      const was = current?.resource as fhir4.Subscription | undefined;
      if (sub.status === 'error' && was?.status !== 'error') {
        throw unprocessable('status error is set by the server; send requested to (re)activate, or off', 'Subscription.status');
      }
      if (sub.end !== undefined && !parseDateRange(sub.end)) throw unprocessable('end must be an instant', 'Subscription.end');
      const secrets = (sub.extension ?? []).filter((e) => e.url === SUBSCRIPTION_SECRET_URL);
      const secret = secrets[0]?.valueString;
      if (secrets.length > 1 || (secrets.length === 1 && (secret === undefined || secret.length < MIN_SECRET_LENGTH))) {
        throw unprocessable(`Give one ${SUBSCRIPTION_SECRET_URL} extension with a valueString of at least ${MIN_SECRET_LENGTH} characters`, 'Subscription.extension');
      }
      if (secret) await tx.remember(SECRET_SCOPE, sub.id, secret, Number.MAX_SAFE_INTEGER); // kept as long as the subscription
      else if (!(await tx.recall(SECRET_SCOPE, sub.id))) {
        throw unprocessable(`A new subscription needs a secret to sign its notifications: an extension ${SUBSCRIPTION_SECRET_URL} with a valueString of at least ${MIN_SECRET_LENGTH} characters`, 'Subscription.extension');
      }
      const { extension: _secret, error: _error, ...rest } = sub;
      const others = (sub.extension ?? []).filter((e) => e.url !== SUBSCRIPTION_SECRET_URL);
      // An errored subscription stays so (with the server's reason) until its client asks for it again.
      const status = sub.status === 'off' ? 'off' : sub.status === 'error' ? 'error' : 'active';
      return {
        ...rest,
        ...(others.length ? { extension: others } : {}),
        status,
        ...(status === 'error' && was?.error ? { error: was.error } : {}),
        channel: {
          ...sub.channel,
          payload: 'application/fhir+json',
          _payload: { extension: [{ url: PAYLOAD_CONTENT_URL, valueCode: 'id-only' }] },
        },
      } as fhir4.Subscription & { id: string };
    },
  };
}

/**
 * R4's answer to a subscription that cannot be notified (http://hl7.org/fhir/R4/subscription.html,
 * "error: the server is unable to deliver"): once one of its events is given up, the subscription is
 * put in error, with the reason, written by the gateway on its own account; nothing more is sent to
 * it until its client asks for it again (status requested).
 */
export async function putSubscriptionInError(run: RunInteraction, id: string, reason: string): Promise<void> {
  await run(GATEWAY_CALLER, { subtype: 'update', type: 'Subscription' }, async (tx) => {
    const current = await tx.read('Subscription', id);
    const sub = current?.resource as (fhir4.Subscription & { id: string }) | undefined;
    if (!current || sub?.status !== 'active') return { status: 200 };
    const stored = await tx.write({ ...sub, status: 'error', error: `Notifications could not be delivered: ${reason}` } as fhir4.Subscription & { id: string },
      { method: 'PUT', expectVersion: current.version });
    return { status: 200, resource: stored.resource };
  });
}

/**
 * Notifications for subscribers: each Task version written, to every live subscription of the Task's
 * owner whose criteria it matches, ordered per referral.
 */
export function subscriptionAnnouncer(nowMs: () => number = Date.now): Announcer {
  return async (tx: StoreTx, written: readonly WrittenVersion[]): Promise<DeliveryEvent[]> => {
    const events: DeliveryEvent[] = [];
    const byOwner = new Map<string, (fhir4.Subscription & { id: string })[]>();
    for (const { stored: s } of written) {
      if (s.type !== 'Task') continue;
      const task = s.resource as fhir4.Task;
      const owner = task.owner?.reference?.replace(/^Organization\//, '');
      if (!owner) continue;
      let subs = byOwner.get(owner);
      if (!subs) {
        const page = await tx.search({
          type: 'Subscription', sort: 'default', count: 100, filters: [{ kind: 'granted', org: owner }, { kind: 'token', param: 'status', values: [{ code: 'active' }] }],
        });
        subs = page.matches.map((m) => m.resource as fhir4.Subscription & { id: string });
        byOwner.set(owner, subs);
      }
      for (const sub of subs) {
        if (!isLive(sub, nowMs()) || !matches(parseCriteria(sub.criteria), task)) continue;
        const patient = task.for?.reference;
        events.push({
          receiver: subscriptionReceiver(sub.id), org: owner, stream: task.focus?.reference ?? `Task/${s.id}`,
          resource: `Task/${s.id}/_history/${s.version}`, ...(patient ? { patient } : {}),
        });
      }
    }
    return events;
  };
}
