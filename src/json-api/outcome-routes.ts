import { dispatch } from '../fhir/dispatch.js';
import { FhirError } from '../fhir/errors.js';
import { OutcomeIn, outcomeMapper, outcomeResponse, type OutcomeScores } from './outcome-in.js';
import { parseBody } from './problem.js';
import { idOf, ReferralReader } from './referral-out.js';
import { AUTH_REFUSALS, collection, type Route, type RouteKit } from './route.js';

/** Outcomes in: a completed well-being measure for a referral. */
export function outcomeRoute(kit: RouteKit): Route {
  return {
    method: 'post', path: '/referrals/{id}/outcomes', operationId: 'recordOutcome',
    summary: 'Record a well-being measure the patient completed',
    description: 'Records SWEMWBS, ONS4 or UCLA-3 answers as the FHIR QuestionnaireResponse a platform would send; the same '
      + 'validation applies (an answer out of range points at it), and the scores computed are returned, as the Observations '
      + 'the GP practice also receives.',
    body: 'OutcomeIn',
    success: { status: 201, schema: 'OutcomeScores', description: 'The response as recorded, and its scores' },
    refusals: { 400: 'The body does not match the schema', ...AUTH_REFUSALS, 404: 'No such referral for this client', 422: 'An answer is missing or out of range, or the referral is closed' },
    audit: { subtype: 'create', type: 'QuestionnaireResponse' },
    handler: async (req, res, self) => {
      const input = parseBody(OutcomeIn, req.body);
      const caller = kit.caller(res);
      const id = String(req.params.id);
      let body: OutcomeScores | undefined;
      await kit.run(req, res, self, outcomeMapper, async (tx) => {
        const task = await new ReferralReader(tx, caller).taskOf(id);
        if (!task) throw new FhirError(404, 'not-found', `No referral ${id} is known to this client`);
        const response = outcomeResponse(input, { id, patient: idOf((task.resource as fhir4.Task).for?.reference) });
        const made = await dispatch({ method: 'POST', type: 'QuestionnaireResponse', query: new URLSearchParams(), body: response, caller, lenient: false }, tx, kit.ctx);
        const qr = made.resource!;
        const scores = await tx.search({
          type: 'Observation', sort: 'default', count: 20,
          filters: [{ kind: 'reference', param: 'derived-from', targets: [`QuestionnaireResponse/${qr.id}`] }],
        });
        body = {
          questionnaireResponse: qr.id!,
          instrument: input.instrument,
          scores: scores.matches.map((m) => {
            const o = m.resource as fhir4.Observation;
            const coding = o.code.coding?.[0];
            const band = o.interpretation?.[0]?.coding?.[0]?.code;
            return { code: coding?.code ?? '', display: coding?.display ?? '', value: o.valueQuantity?.value ?? 0, ...(band ? { band } : {}), observation: m.id };
          }),
        };
        return { status: 201, resource: collection([qr, ...scores.matches.map((m) => m.resource)]) };
      });
      res.status(201).json(body);
    },
  };
}
