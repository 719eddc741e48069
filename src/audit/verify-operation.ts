import type { RequestHandler } from 'express';
import { FhirError } from '../fhir/errors.js';
import type { Caller, FhirContext } from '../fhir/interaction.js';
import type { FhirOperation } from '../http/fhir-routes.js';
import type { Store } from '../store/store.js';
import { verifyChain, type ChainVerdict } from './hash-chain.js';

/** The verdict as FHIR Parameters: result, the number of events checked and, when broken, the first bad event. */
export function verdictParameters(v: ChainVerdict): fhir4.Parameters {
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'result', valueBoolean: v.result },
      { name: 'eventsChecked', valueInteger: v.events },
      ...(v.result ? [] : [
        { name: 'firstBadEvent', valueReference: { reference: `AuditEvent/${v.eventId}` } },
        { name: 'position', valueInteger: v.seq },
        { name: 'reason', valueString: v.reason },
      ]),
    ],
  };
}

/** `GET /fhir/AuditEvent/$verify`: auditors check the whole hash chain; the check itself is audited. */
export function verifyOperation(store: Store, ctx: FhirContext): FhirOperation {
  const handler: RequestHandler = async (_req, res, next) => {
    try {
      const caller = res.locals.caller as Caller;
      res.locals.audited = true;
      // The walk reads the chain in transactions of its own, so it runs before the audited one.
      const verdict = caller.role === 'auditor' ? await verifyChain(store) : undefined;
      const result = await ctx.run(caller, { subtype: 'operation', type: 'AuditEvent' }, async () => {
        if (!verdict) throw new FhirError(403, 'forbidden', 'Only auditors may verify the audit trail', 'AuditEvent');
        return { status: 200, resource: verdictParameters(verdict) };
      });
      res.status(200).type('application/fhir+json; charset=utf-8').send(JSON.stringify(result.resource));
    } catch (e) {
      next(e);
    }
  };
  return { method: 'get', path: '/AuditEvent/\\$verify', handler };
}
