import { z } from 'zod';
import type { ExpressionMapper } from './problem.js';
import { apiSchemas } from './schemas.js';

/**
 * Outcomes in through the JSON API: a completed measure becomes the QuestionnaireResponse a FHIR
 * platform would send, which the outcome rules validate and score exactly as on /fhir.
 */
// DESIGN.md "Outcomes": the instruments' canonical URLs and linkIds (`<id>-<n>`).
const QUESTIONNAIRE_BASE = 'https://signpost.health/fhir/Questionnaire/';

export const OutcomeIn = z.object({
  instrument: z.enum(['swemwbs', 'ons4', 'ucla3']).describe('SWEMWBS (7 answers, 1–5), ONS4 (4 answers, 0–10) or UCLA-3 (3 answers, 1–3)'),
  answers: z.array(z.number().int()).min(1).max(7).describe('The score of each item, in the instrument\'s order'),
  completedAt: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/, 'a date and time with its zone')
    .describe('When the patient answered'),
}).strict().register(apiSchemas, { id: 'OutcomeIn', description: 'A well-being measure the patient completed' });
export type OutcomeIn = z.infer<typeof OutcomeIn>;

export const OutcomeScores = z.object({
  questionnaireResponse: z.string().describe('The FHIR QuestionnaireResponse recorded'),
  instrument: z.string(),
  scores: z.array(z.object({
    code: z.string(), display: z.string(), value: z.number(),
    band: z.string().optional().describe('ONS4: the ONS threshold band'),
    observation: z.string().describe('The FHIR Observation holding it'),
  })),
}).register(apiSchemas, { id: 'OutcomeScores', description: 'The scores computed from the answers, as the Observations the GP also receives' });
export type OutcomeScores = z.infer<typeof OutcomeScores>;

/** The QuestionnaireResponse of a JSON outcome: each answer the valueInteger of its item's score. */
export function outcomeResponse(input: OutcomeIn, sr: { id: string; patient: string }): fhir4.QuestionnaireResponse {
  return {
    resourceType: 'QuestionnaireResponse',
    questionnaire: `${QUESTIONNAIRE_BASE}${input.instrument}`,
    status: 'completed',
    subject: { reference: `Patient/${sr.patient}` },
    basedOn: [{ reference: `ServiceRequest/${sr.id}` }],
    authored: input.completedAt,
    item: input.answers.map((score, i) => ({ linkId: `${input.instrument}-${i + 1}`, answer: [{ valueInteger: score }] })),
  };
}

/** Where the response validation's errors point in the JSON outcome. */
export const outcomeMapper: ExpressionMapper = (expression) => {
  const item = /^QuestionnaireResponse\.item\[(\d+)\]/.exec(expression);
  if (item) return { pointer: `#/answers/${item[1]}` };
  if (expression === 'QuestionnaireResponse.item') return { pointer: '#/answers' };
  if (expression.startsWith('QuestionnaireResponse.authored')) return { pointer: '#/completedAt' };
  if (expression.startsWith('QuestionnaireResponse.questionnaire')) return { pointer: '#/instrument' };
  return undefined;
};

