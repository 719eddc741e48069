import type { Request, RequestHandler } from 'express';
import { FhirError } from '../fhir/errors.js';
import { formatInstant } from '../fhir/instant.js';
import type { Caller, FhirContext } from '../fhir/interaction.js';
import type { FhirOperation } from '../http/fhir-routes.js';
import { DELIVERY_STATES, type Delivery, type DeliveryState } from '../store/deliveries.js';

const DEFAULT_COUNT = 50;
const MAX_COUNT = 500;

const onlyAuditors = (caller: Caller) => {
  if (caller.role !== 'auditor') throw new FhirError(403, 'forbidden', 'Only auditors see and retry the gateway\'s deliveries', 'Parameters');
};

/** One event of the outbox as a `delivery` parameter: what, to whom, how far it got and why it failed. */
function deliveryParameter(d: Delivery): fhir4.ParametersParameter {
  const part: fhir4.ParametersParameter[] = [
    { name: 'id', valueString: String(d.seq) },
    { name: 'receiver', valueString: d.receiver },
    { name: 'resource', valueReference: { reference: d.resource } },
    { name: 'status', valueCode: d.state },
    { name: 'attempts', valueInteger: d.attempts },
    { name: 'created', valueInstant: formatInstant(d.created) },
  ];
  if (d.state === 'pending') part.push({ name: 'nextAttempt', valueInstant: formatInstant(d.due) });
  if (d.lastError) part.push({ name: 'lastError', valueString: d.lastError });
  if (d.settledAt !== undefined) part.push({ name: 'settled', valueInstant: formatInstant(d.settledAt) });
  return { name: 'delivery', part };
}

function single(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new FhirError(400, 'invalid', `${name} may be given once`, name);
  return v;
}

/** `GET /fhir/$deliveries?status=&receiver=&_count=&after=`: the outbox, oldest first, a page at a time. */
function listing(ctx: FhirContext): RequestHandler {
  return async (req, res, next) => {
    try {
      const caller = res.locals.caller as Caller;
      res.locals.audited = true;
      const status = single(req, 'status');
      const receiver = single(req, 'receiver');
      const count = single(req, '_count');
      const after = single(req, 'after');
      const result = await ctx.run(caller, { subtype: 'deliveries', query: new URLSearchParams(req.query as Record<string, string>).toString() }, async (tx) => {
        onlyAuditors(caller);
        if (status !== undefined && !(DELIVERY_STATES as readonly string[]).includes(status)) {
          throw new FhirError(400, 'value', `status must be one of ${DELIVERY_STATES.join(', ')}`, 'status');
        }
        if (count !== undefined && !/^\d{1,4}$/.test(count)) throw new FhirError(400, 'value', `_count must be a whole number up to ${MAX_COUNT}`, '_count');
        if (after !== undefined && !/^\d{1,15}$/.test(after)) throw new FhirError(400, 'value', 'after must be the id of a delivery', 'after');
        const limit = Math.min(count === undefined ? DEFAULT_COUNT : Number(count), MAX_COUNT);
        const page = await tx.deliveries.list({
          limit: limit + 1, ...(status ? { state: status as DeliveryState } : {}), ...(receiver ? { receiver } : {}),
          ...(after ? { afterSeq: Number(after) } : {}),
        });
        const shown = page.slice(0, limit);
        const parameter = shown.map(deliveryParameter);
        if (page.length > limit && shown.length > 0) {
          const next = new URLSearchParams({ ...(status ? { status } : {}), ...(receiver ? { receiver } : {}), _count: String(limit), after: String(shown.at(-1)!.seq) });
          parameter.push({ name: 'next', valueUri: `${ctx.baseUrl}/fhir/$deliveries?${next.toString()}` });
        }
        return { status: 200, resource: { resourceType: 'Parameters', parameter } as fhir4.Parameters };
      });
      res.status(200).type('application/fhir+json; charset=utf-8').send(JSON.stringify(result.resource));
    } catch (e) {
      next(e);
    }
  };
}

/**
 * `POST /fhir/$retry-delivery` with Parameters `delivery` (its id): a given-up event is owed again,
 * due now, its tries counted afresh. For an auditor who has seen the receiver put right.
 */
function retry(ctx: FhirContext, enqueued: () => void): RequestHandler {
  return async (req, res, next) => {
    try {
      const caller = res.locals.caller as Caller;
      res.locals.audited = true;
      const body = req.body as fhir4.Parameters | undefined;
      const result = await ctx.run(caller, { subtype: 'retry-delivery' }, async (tx) => {
        onlyAuditors(caller);
        const id = body?.resourceType === 'Parameters' ? body.parameter?.find((p) => p.name === 'delivery')?.valueString : undefined;
        if (id === undefined || !/^\d{1,15}$/.test(id)) {
          throw new FhirError(400, 'required', 'Send Parameters with a delivery parameter: the id of a failed delivery, as a valueString', 'Parameters.parameter');
        }
        const retried = await tx.deliveries.retry(Number(id), tx.now());
        if (!retried) {
          const known = await tx.deliveries.get(Number(id));
          if (!known) throw new FhirError(404, 'not-found', `There is no delivery ${id}`, 'Parameters.parameter');
          throw new FhirError(409, 'conflict', `Delivery ${id} is ${known.state}: only a failed delivery can be retried`, 'Parameters.parameter');
        }
        return { status: 200, resource: { resourceType: 'Parameters', parameter: [deliveryParameter(retried)] } as fhir4.Parameters };
      });
      enqueued();
      res.status(200).type('application/fhir+json; charset=utf-8').send(JSON.stringify(result.resource));
    } catch (e) {
      next(e);
    }
  };
}

/** The auditor's view of the outbox and its dead letters (issue 9), as two FHIR operations. */
export function deliveryOperations(ctx: FhirContext, enqueued: () => void): FhirOperation[] {
  return [
    { method: 'get', path: '/\\$deliveries', handler: listing(ctx) },
    { method: 'post', path: '/\\$retry-delivery', handler: retry(ctx, enqueued) },
  ];
}
