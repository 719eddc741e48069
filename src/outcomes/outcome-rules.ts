import { idOfType } from '../fhir/index-values.js';
import { randomUUID } from 'node:crypto';
import type { WriteRules, WriteRulesByType } from '../auth/write-rules.js';
import { organisationOf, organizationReference } from '../config/organizations.js';
import { canonicalJson } from '../fhir/canonical-json.js';
import { FhirError } from '../fhir/errors.js';
import { formatInstant } from '../fhir/instant.js';
import { referencing } from '../store/server-resources.js';
import type { StoreTx } from '../store/store.js';
import type { TaskOutcomes } from '../workflow/task-rules.js';
import { feedbackSummary, type RecordedScore } from './feedback.js';
import type { Questionnaires } from './questionnaires.js';
import { validateResponse } from './response-validation.js';
import { ONS4_BAND_SYSTEM, ONS_BAND_DISPLAY, OUTCOME_SCORE_SYSTEM, scoreDecimals, scoreInstrument, type InstrumentId, type OnsBand, type Score } from './scoring.js';

type Task = fhir4.Task & { id: string };
type OutcomeResponse = fhir4.QuestionnaireResponse & { id: string };
type ServerWrite = Parameters<NonNullable<WriteRules['after']>>[3];

/** Task.output types (local CodeSystem, profiles/CodeSystem-sp-task-output.json). */
export const TASK_OUTPUT_SYSTEM = 'https://signpost.health/fhir/CodeSystem/sp-task-output';
const OUTPUT_TYPE: Record<string, fhir4.CodeableConcept> = {
  QuestionnaireResponse: { coding: [{ system: TASK_OUTPUT_SYSTEM, code: 'outcome-response', display: 'Outcome questionnaire response' }] },
  Observation: { coding: [{ system: TASK_OUTPUT_SYSTEM, code: 'outcome-score', display: 'Outcome score' }] },
};
const SURVEY = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'survey', display: 'Survey' }] };
const NOTIFICATION = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/communication-category', code: 'notification', display: 'Notification' }] };

/** The Observation recording one score of a completed response. */
function scoreObservation(qr: OutcomeResponse, score: Score, performer: string): fhir4.Observation & { id: string } {
  return {
    resourceType: 'Observation',
    id: randomUUID(),
    status: 'final',
    category: [SURVEY],
    code: { coding: [{ system: OUTCOME_SCORE_SYSTEM, code: score.code, display: score.display }], text: score.display },
    subject: qr.subject!,
    basedOn: qr.basedOn!,
    derivedFrom: [{ reference: `QuestionnaireResponse/${qr.id}` }],
    effectiveDateTime: qr.authored!,
    performer: [organizationReference(performer)],
    valueQuantity: { value: score.value, unit: 'score', system: 'http://unitsofmeasure.org', code: '{score}' },
    ...(score.band ? { interpretation: [{ coding: [{ system: ONS4_BAND_SYSTEM, code: score.band, display: ONS_BAND_DISPLAY[score.band] }] }] } : {}),
  };
}

/** The outcome responses and scores recorded for a referral, as Task.output entries. */
async function outcomeOutputs(referral: string, tx: StoreTx): Promise<fhir4.TaskOutput[]> {
  const outputs: fhir4.TaskOutput[] = [];
  for (const type of ['QuestionnaireResponse', 'Observation']) {
    for (const s of await referencing(tx, type, 'based-on', referral)) {
      if ((s.resource as { status?: string }).status === 'entered-in-error') continue;
      outputs.push({ type: OUTPUT_TYPE[type]!, valueReference: { reference: `${type}/${s.id}` } });
    }
  }
  return outputs;
}

/** What a recorded score Observation reports, for the feedback. */
function recordedScore(o: fhir4.Observation & { id: string }): RecordedScore | undefined {
  const coding = o.code.coding?.find((c) => c.system === OUTCOME_SCORE_SYSTEM);
  const value = o.valueQuantity?.value;
  if (!coding?.code || value === undefined || !o.effectiveDateTime || o.status !== 'final') return undefined;
  const band = o.interpretation?.[0]?.coding?.find((c) => c.system === ONS4_BAND_SYSTEM)?.code as OnsBand | undefined;
  return {
    observation: o.id, code: coding.code, display: coding.display ?? coding.code, value, effective: o.effectiveDateTime,
    decimals: scoreDecimals(coding.code), ...(band ? { band } : {}),
  };
}

async function organisationName(ods: string | undefined, tx: StoreTx): Promise<string> {
  if (!ods) return 'an unknown organisation';
  const org = (await tx.read('Organization', ods))?.resource as fhir4.Organization | undefined;
  return org?.name ? `${org.name} (${ods})` : ods;
}

/**
 * The referral's Task completed: the GP gets a Communication (DESIGN.md "Outcomes") basedOn the
 * referral, addressed to the referring practice, about the Task, with the summary and the score
 * Observations.
 */
async function sendFeedback(task: Task, tx: StoreTx, serverWrite: ServerWrite): Promise<void> {
  const referralId = idOfType(task.focus?.reference, 'ServiceRequest');
  const referral = referralId ? (await tx.read('ServiceRequest', referralId))?.resource as fhir4.ServiceRequest | undefined : undefined;
  if (!referral) return;
  const practice = await organisationOf(referral.requester, tx, '');
  const service = await organisationOf(task.owner, tx, '');
  const observations = (await referencing(tx, 'Observation', 'based-on', `ServiceRequest/${referralId}`))
    .map((s) => s.resource as fhir4.Observation & { id: string });
  const scores = observations.flatMap((o) => recordedScore(o) ?? []);
  const handOns = await Promise.all((await referencing(tx, 'Task', 'part-of', `Task/${task.id}`)).map(async (s) => {
    const child = s.resource as Task;
    return { asset: await organisationName(await organisationOf(child.owner, tx, ''), tx), status: child.status };
  }));
  const sent = formatInstant(tx.now());
  const text = feedbackSummary({ service: await organisationName(service, tx), completed: task.lastModified ?? sent, handOns, scores });
  const communication: fhir4.Communication & { id: string } = {
    resourceType: 'Communication',
    id: randomUUID(),
    status: 'completed',
    category: [NOTIFICATION],
    basedOn: [{ reference: `ServiceRequest/${referralId}` }],
    ...(referral.subject ? { subject: referral.subject } : {}),
    about: [{ reference: `Task/${task.id}` }],
    sent,
    ...(practice ? { recipient: [organizationReference(practice)] } : {}),
    ...(service ? { sender: organizationReference(service) } : {}),
    payload: [
      { contentString: text },
      ...scores.map((s) => ({ contentReference: { reference: `Observation/${s.observation}`, display: s.display } })),
    ],
  };
  await serverWrite(communication);
}

/** The outcomes' part in the workflow (workflow/task-rules.ts): Task.output, and the GP's feedback. */
export const taskOutcomes: TaskOutcomes = {
  async outputsFor(task, tx) {
    const referral = idOfType(task.focus?.reference, 'ServiceRequest');
    return referral ? outcomeOutputs(`ServiceRequest/${referral}`, tx) : [];
  },
  completed: sendFeedback,
};

/**
 * A scored response recorded in error is retracted: its one allowed change is its status, to
 * entered-in-error; anything else about it stays as it was, for the record.
 */
function retraction(next: OutcomeResponse, current: OutcomeResponse): boolean {
  const { meta: _m, status: _s, ...was } = current;
  const { meta: _n, status, ...now } = next;
  return status === 'entered-in-error' && canonicalJson(now) === canonicalJson(was);
}

/**
 * The rules of every QuestionnaireResponse write: validated against its Questionnaire, about the
 * referral's own patient, and once completed scored into Observations in the same transaction. A
 * completed response is final: a correction is a new response, and one recorded in error is marked
 * entered-in-error, which retracts its scores with it.
 */
export function outcomeRules(questionnaires: Questionnaires): WriteRulesByType {
  const response: WriteRules = {
    async before(input, current, _caller, tx) {
      const qr = input as OutcomeResponse;
      const was = current?.resource as OutcomeResponse | undefined;
      if (was?.status === 'completed' && retraction(qr, was)) return qr;
      if (was && was.status !== 'in-progress') {
        throw new FhirError(422, 'business-rule', `QuestionnaireResponse/${was.id} is ${was.status}: record a new response rather than change a scored one (a completed response recorded in error may only be marked entered-in-error)`, 'QuestionnaireResponse.status');
      }
      validateResponse(qr, questionnaires);
      const referralId = idOfType(qr.basedOn?.[0]?.reference, 'ServiceRequest')!;
      const referral = (await tx.read('ServiceRequest', referralId))?.resource as fhir4.ServiceRequest | undefined;
      if (!referral) throw new FhirError(422, 'not-found', `ServiceRequest/${referralId} is not a referral known to this client`, 'QuestionnaireResponse.basedOn[0]');
      if (referral.status !== 'active' && referral.status !== 'completed') {
        throw new FhirError(422, 'business-rule', `Outcomes are recorded against an active or completed referral; ServiceRequest/${referralId} is ${referral.status}`, 'QuestionnaireResponse.basedOn[0]');
      }
      if (qr.subject?.reference !== referral.subject.reference) {
        throw new FhirError(422, 'business-rule', `The response is about ${qr.subject?.reference}, but the referral is about ${referral.subject.reference}`, 'QuestionnaireResponse.subject');
      }
      return qr;
    },
    async after(stored, caller, tx, serverWrite, previous) {
      const qr = stored.resource as OutcomeResponse;
      if (qr.status === 'entered-in-error' && previous) {
        for (const s of await referencing(tx, 'Observation', 'derived-from', `QuestionnaireResponse/${qr.id}`)) {
          const { meta: _meta, ...observation } = s.resource as fhir4.Observation & { id: string };
          const retracted: fhir4.Observation & { id: string } = { ...observation, status: 'entered-in-error' };
          await serverWrite(retracted, { method: 'PUT', expectVersion: s.version });
        }
        return;
      }
      if (qr.status !== 'completed') return;
      // Valid, as `before` found; checked again (pure, cheap) for the item scores it yields.
      const { questionnaire, scores } = validateResponse(qr, questionnaires);
      for (const score of scoreInstrument(questionnaire.id as InstrumentId, scores)) {
        await serverWrite(scoreObservation(qr, score, caller.organization));
      }
    },
  };
  return { QuestionnaireResponse: response };
}
