import { FhirError, type Issue } from '../fhir/errors.js';
import type { OutcomeQuestionnaire, Questionnaires } from './questionnaires.js';

const ORDINAL_VALUE = 'http://hl7.org/fhir/StructureDefinition/ordinalValue';
/** R4 dateTime (http://hl7.org/fhir/R4/datatypes.html#dateTime): a date, or a date and time with a zone. */
const DATE_TIME = /^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00)))?)?)?$/;

export interface ValidResponse {
  questionnaire: OutcomeQuestionnaire;
  /** Each answered item's score, by linkId. */
  scores: Map<string, number>;
}

const issue = (code: Issue['code'], diagnostics: string, expression: string): Issue => ({ code, diagnostics, expression: [expression] });

/** An answer option's score: its ordinalValue extension. */
function ordinal(option: fhir4.QuestionnaireItemAnswerOption): number | undefined {
  return option.valueCoding?.extension?.find((e) => e.url === ORDINAL_VALUE)?.valueDecimal;
}

/**
 * The score of one answer: the answerOption's valueCoding (matched by system and code), or a
 * valueInteger equal to one option's score (DESIGN.md "Outcomes").
 */
function answerScore(item: fhir4.QuestionnaireItem, answer: fhir4.QuestionnaireResponseItemAnswer, at: string): number | Issue {
  const options = item.answerOption ?? [];
  const scores = options.map(ordinal).filter((s): s is number => s !== undefined);
  const range = `${Math.min(...scores)}–${Math.max(...scores)}`;
  if (answer.valueCoding) {
    const c = answer.valueCoding;
    const option = options.find((o) => o.valueCoding?.system === c.system && o.valueCoding?.code === c.code);
    const score = option && ordinal(option);
    if (score === undefined) {
      const allowed = options.map((o) => `${o.valueCoding?.code} (${o.valueCoding?.display})`).join(', ');
      return issue('code-invalid', `${c.system ?? '(no system)'}|${c.code ?? ''} is not an answer to ${item.linkId}; the answers are ${allowed} of ${options[0]?.valueCoding?.system}`, `${at}.valueCoding`);
    }
    return score;
  }
  if (answer.valueInteger !== undefined) {
    if (!scores.includes(answer.valueInteger)) return issue('value', `${answer.valueInteger} is outside ${item.linkId}'s range of ${range}`, `${at}.valueInteger`);
    return answer.valueInteger;
  }
  const kinds = Object.keys(answer).filter((k) => k.startsWith('value')).join(', ') || 'no value';
  return issue('value', `An answer to ${item.linkId} is a valueCoding of its options or a valueInteger score (${range}), not ${kinds}`, at);
}

/**
 * Checks a QuestionnaireResponse against its Questionnaire: the instrument is one Signpost scores,
 * `authored`, `subject` (a Patient) and `basedOn` (one ServiceRequest) are present, each answered
 * item is one of the instrument's and answered once from its options, and a completed response
 * answers every required item. Every problem is reported, each with the FHIRPath of its element.
 */
export function validateResponse(qr: fhir4.QuestionnaireResponse, questionnaires: Questionnaires): ValidResponse {
  const issues: Issue[] = [];
  const questionnaire = questionnaires.find(qr.questionnaire);
  if (!questionnaire) {
    const known = questionnaires.all.map((q) => q.url).join(', ');
    throw new FhirError(422, 'not-found', `${qr.questionnaire ?? 'A missing questionnaire'} is not an instrument this gateway scores; it scores ${known}`, 'QuestionnaireResponse.questionnaire');
  }
  if (qr.status !== 'completed' && qr.status !== 'in-progress') {
    issues.push(issue('business-rule', `A response is recorded as completed (scored) or in-progress (kept, not scored), not ${qr.status ?? 'without a status'}`, 'QuestionnaireResponse.status'));
  }
  if (!qr.authored) issues.push(issue('required', 'authored, when the answers were given, is required: it dates the scores', 'QuestionnaireResponse.authored'));
  else if (!DATE_TIME.test(qr.authored)) issues.push(issue('value', `${qr.authored} is not a FHIR dateTime`, 'QuestionnaireResponse.authored'));
  if (!/^Patient\/[^/]+$/.test(qr.subject?.reference ?? '')) {
    issues.push(issue('required', 'subject is a reference to the Patient who answered (Patient/<id>)', 'QuestionnaireResponse.subject'));
  }
  const basedOn = qr.basedOn ?? [];
  if (basedOn.length !== 1 || !/^ServiceRequest\/[^/]+$/.test(basedOn[0]?.reference ?? '')) {
    issues.push(issue('required', 'basedOn is exactly one reference to the referral (ServiceRequest/<id>) the outcome belongs to', 'QuestionnaireResponse.basedOn'));
  }

  const items = new Map((questionnaire.item ?? []).map((i) => [i.linkId, i]));
  const scores = new Map<string, number>();
  (qr.item ?? []).forEach((answered, i) => {
    const at = `QuestionnaireResponse.item[${i}]`;
    const item = items.get(answered.linkId);
    if (!item) {
      issues.push(issue('value', `${answered.linkId} is not an item of ${questionnaire.url} (its items are ${[...items.keys()].join(', ')})`, `${at}.linkId`));
      return;
    }
    if (scores.has(answered.linkId)) {
      issues.push(issue('business-rule', `${answered.linkId} is answered more than once`, `${at}.linkId`));
      return;
    }
    const answers = answered.answer ?? [];
    if (answers.length !== 1) {
      if (answers.length > 1 || qr.status === 'completed') issues.push(issue(answers.length > 1 ? 'business-rule' : 'required', `${answered.linkId} takes exactly one answer, not ${answers.length}`, answers.length > 1 ? `${at}.answer[1]` : `${at}.answer`));
      return;
    }
    const score = answerScore(item, answers[0]!, `${at}.answer[0]`);
    if (typeof score === 'number') scores.set(answered.linkId, score);
    else issues.push(score);
  });
  if (qr.status === 'completed') {
    const answeredIds = new Set((qr.item ?? []).map((i) => i.linkId));
    for (const item of questionnaire.item ?? []) {
      if (item.required && !answeredIds.has(item.linkId)) {
        issues.push(issue('required', `${item.linkId} ("${item.text}") is required in a completed response`, 'QuestionnaireResponse.item'));
      }
    }
  }
  if (issues.length) throw FhirError.many(422, issues);
  return { questionnaire, scores };
}
