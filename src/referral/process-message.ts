import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { transaction } from '../fhir/bundle.js';
import { FhirError } from '../fhir/errors.js';
import type { Caller, FhirContext, FhirResult } from '../fhir/interaction.js';
import type { FhirOperation } from '../http/fhir-routes.js';
import type { Stored, StoreTx } from '../store/store.js';
import { BARS_EVENTS, readBarsMessage, referralTransaction, REFERRAL_REQUEST, type BarsReferral } from './bars-message.js';

/** How long a message's X-Request-Id is remembered, to answer a repeat with the first response. */
const IDEMPOTENCY_MICROS = 7 * 24 * 3600 * 1_000_000;

/**
 * BaRS senders may correlate an update with the original by the ServiceRequest's urn:uuid fullUrl
 * alone (SERVREQ01). The gateway remembers, per practice, which referral each `new` message's
 * ServiceRequest fullUrl became; the stored referral itself is the same as by any other path.
 */
const MESSAGE_URLS = 'bars-servicerequest-url';
const URL_MEMORY_MICROS = 2 * 365 * 24 * 3600 * 1_000_000;
const messageUrlKey = (caller: Caller, fullUrl: string) =>
  (/^urn:uuid:[0-9a-f-]{36}$/i.test(fullUrl) ? `${caller.organization}:${fullUrl.toLowerCase()}` : undefined);

/** The referral an update or delete is about: by the ServiceRequest's business identifier, else by the fullUrl the original message gave it. */
async function findReferral(msg: BarsReferral, caller: Caller, tx: StoreTx): Promise<Stored> {
  const id = msg.serviceRequest.resource.identifier?.find((i) => i.system && i.value);
  if (!id) {
    const key = messageUrlKey(caller, msg.serviceRequest.fullUrl);
    const srId = key ? await tx.recall(MESSAGE_URLS, key) : undefined;
    const found = srId ? await tx.read('ServiceRequest', srId) : undefined;
    if (found) return found;
    throw new FhirError(422, 'required', `A ${msg.reason} message finds its referral by the ServiceRequest identifier, or by the urn:uuid fullUrl the original message gave it`, 'ServiceRequest.identifier');
  }
  const page = await tx.search({ type: 'ServiceRequest', sort: 'default', count: 1, filters: [{ kind: 'token', param: 'identifier', values: [{ system: id.system!, code: id.value! }] }] });
  const found = page.matches[0];
  if (!found) throw new FhirError(422, 'not-found', `No referral ${id.system}|${id.value} of this practice is known`, 'ServiceRequest.identifier');
  return found;
}

/**
 * Errors of the referral transaction name its entries; the sender knows only its message, so each
 * `Bundle.entry[i]` is re-pointed at the message entry with the same fullUrl.
 */
function atMessageEntries(e: FhirError, bundle: fhir4.Bundle, msg: BarsReferral): FhirError {
  const urls = [...msg.entries.keys()];
  const issues = e.issues.map((i) => ({
    ...i,
    ...(i.expression ? {
      expression: i.expression.map((x) => x.replace(/^Bundle\.entry\[(\d+)\]/, (whole, k: string) => {
        const at = urls.indexOf(bundle.entry?.[Number(k)]?.fullUrl ?? '');
        return at >= 0 ? `Bundle.entry[${at}]` : whole;
      })),
    } : {}),
    diagnostics: i.diagnostics.replace(/^Bundle\.entry\[\d+\]: /, ''),
  }));
  return FhirError.many(e.status, issues);
}

/**
 * What a message does: `new` runs the referral transaction (the same intake as REST and transaction
 * Bundles); `update` carrying a revoked ServiceRequest cancels the referral (its open Tasks follow),
 * another update takes its status and notes; `delete` marks it entered-in-error.
 */
async function apply(msg: BarsReferral, caller: Caller, tx: StoreTx, ctx: FhirContext): Promise<Stored> {
  if (msg.reason === 'new') {
    const bundle = referralTransaction(msg, caller);
    const result = await transaction(bundle, caller, tx, ctx).catch((e: unknown) => {
      throw e instanceof FhirError ? atMessageEntries(e, bundle, msg) : e;
    });
    const location = (result.entry ?? []).map((e) => e.response?.location ?? '').find((l) => l.startsWith('ServiceRequest/'))
      ?? (result.entry ?? []).map((e) => e.fullUrl ?? '').find((u) => u.includes('/ServiceRequest/'))?.replace(/^.*\/fhir\//, '');
    const stored = location ? await tx.read('ServiceRequest', location.split('/')[1] ?? '') : undefined;
    if (!stored) throw new FhirError(500, 'exception', 'The referral was accepted but could not be read back');
    const key = messageUrlKey(caller, msg.serviceRequest.fullUrl);
    if (key) await tx.remember(MESSAGE_URLS, key, stored.id, tx.now() + URL_MEMORY_MICROS);
    return stored;
  }
  const current = await findReferral(msg, caller, tx);
  const sent = msg.serviceRequest.resource;
  const { meta: _meta, ...resource } = current.resource as fhir4.ServiceRequest & { id: string };
  const next: fhir4.ServiceRequest & { id: string } = msg.reason === 'delete'
    ? { ...resource, status: 'entered-in-error' }
    : { ...resource, status: sent.status, ...(sent.note ? { note: sent.note } : {}) };
  return tx.write(next, { method: 'PUT', expectVersion: current.version });
}

/** The BaRS response message: a MessageHeader answering the request, with the referral and its Task. */
async function responseMessage(msg: BarsReferral, sr: Stored, tx: StoreTx, baseUrl: string): Promise<fhir4.Bundle> {
  const tasks = await tx.search({ type: 'Task', sort: 'default', count: 10, filters: [{ kind: 'reference', param: 'focus', targets: [`ServiceRequest/${sr.id}`] }] });
  const header: fhir4.MessageHeader = {
    resourceType: 'MessageHeader',
    id: randomUUID(),
    eventCoding: { system: BARS_EVENTS, code: REFERRAL_REQUEST },
    source: { endpoint: `${baseUrl}/fhir` },
    // BaRS senders rarely give the MessageHeader an id; its fullUrl uuid is what they can correlate by.
    response: { identifier: msg.header.id ?? msg.headerUrl.replace(/^urn:uuid:/, ''), code: 'ok' },
    focus: [{ reference: `ServiceRequest/${sr.id}` }],
  };
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    type: 'message',
    timestamp: new Date().toISOString(),
    entry: [
      { fullUrl: `urn:uuid:${header.id}`, resource: header },
      { fullUrl: `${baseUrl}/fhir/ServiceRequest/${sr.id}`, resource: sr.resource },
      ...tasks.matches.map((t) => ({ fullUrl: `${baseUrl}/fhir/Task/${t.id}`, resource: t.resource })),
    ],
  };
}

/**
 * `POST /fhir/$process-message` for BaRS-style referral messages. `X-Request-Id` is the message's
 * idempotency key: a repeat answers with the first response and changes nothing.
 */
export function processMessageOperation(ctx: FhirContext): FhirOperation {
  const handler: RequestHandler = async (req, res, next) => {
    try {
      const caller = res.locals.caller as Caller;
      const requestId = req.header('x-request-id');
      res.locals.audited = true;
      const result = await ctx.run(caller, { subtype: 'process-message', type: 'Bundle', requestId: requestId ?? '' }, async (tx): Promise<FhirResult> => {
        const key = requestId ? `${caller.clientId}:${requestId}` : undefined;
        if (key) {
          const prior = await tx.claimOnce('bars-message', key, '', tx.now() + IDEMPOTENCY_MICROS);
          if (prior === '') throw new FhirError(409, 'duplicate', `Message ${requestId} is being processed`, 'Bundle');
          if (prior !== undefined) return { status: 200, resource: JSON.parse(prior) as fhir4.Bundle };
        }
        const body = req.body as fhir4.Bundle | undefined;
        if (body?.resourceType !== 'Bundle') throw new FhirError(400, 'invalid', '$process-message takes a message Bundle', 'Bundle');
        const msg = readBarsMessage(body);
        const sr = await apply(msg, caller, tx, ctx);
        const response = await responseMessage(msg, sr, tx, ctx.baseUrl);
        if (key) await tx.remember('bars-message', key, JSON.stringify(response), tx.now() + IDEMPOTENCY_MICROS);
        return { status: 200, resource: response };
      });
      res.status(result.status).type('application/fhir+json; charset=utf-8').send(JSON.stringify(result.resource));
    } catch (e) {
      next(e);
    }
  };
  return { method: 'post', path: '/\\$process-message', handler };
}
