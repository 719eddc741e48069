import { z } from 'zod';
import { ODS_CODE } from '../config/deployment.js';

/**
 * The JSON API's bodies, written once: requests are validated with them, and the OpenAPI document's
 * components are generated from them (openapi.ts). Each schema registered here becomes one named
 * component; its description is what the reference page shows.
 */
export const apiSchemas = z.registry<{ id: string; description: string }>();

export const ODS = z.string().regex(ODS_CODE, 'an ODS organisation code: 3 to 10 capital letters and digits');
// FHIR date and dateTime lexical forms (http://hl7.org/fhir/R4/datatypes.html#dateTime).
const DATE = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date: YYYY-MM-DD');
const DATE_TIME = z.string().regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/,
  'a date (YYYY-MM-DD) or a date and time with its zone (YYYY-MM-DDThh:mm:ssZ)');

export const Reason = z.object({
  code: z.string().regex(/^\d{6,18}$/, 'a SNOMED CT concept id').describe('SNOMED CT concept id from the social-prescribing reasons ValueSet'),
  text: z.string().min(1).max(500).optional().describe('How the referrer put it'),
}).strict().register(apiSchemas, { id: 'Reason', description: 'Why the patient is referred: a SNOMED CT concept, with free text' });

export const PersonName = z.object({
  given: z.array(z.string().min(1).max(100)).min(1).max(5),
  family: z.string().min(1).max(100),
}).strict().register(apiSchemas, { id: 'PersonName', description: 'A person\'s name' });

export const PatientIn = z.object({
  nhsNumber: z.string().regex(/^\d{10}$/, 'ten digits').describe('NHS number; its Modulus 11 check digit is verified'),
  name: PersonName,
  birthDate: DATE,
  phone: z.string().min(1).max(40).optional(),
  email: z.email().max(200).optional(),
}).strict().register(apiSchemas, { id: 'PatientIn', description: 'The patient referred' });

export const ConsentIn = z.object({
  date: DATE_TIME.describe('When consent was given'),
  givenBy: z.enum(['patient', 'representative']).describe('Who agreed: the patient, or someone lawfully acting for them'),
  agreed: z.string().min(1).max(1000).optional().describe('What was agreed, in words'),
}).strict().register(apiSchemas, { id: 'ConsentIn', description: 'The patient\'s consent to the referral and to sharing what it needs' });

export const ReferralIn = z.object({
  identifier: z.string().min(1).max(64).describe('The referrer\'s own reference for the referral: sending it again never makes a second referral'),
  patient: PatientIn,
  consent: ConsentIn,
  reasons: z.array(Reason).min(1).max(10),
  practice: ODS.optional().describe('The referring practice; it must be the client\'s own (the default)'),
  service: ODS.optional().describe('The social prescribing service to refer to; by default the practice\'s configured route'),
  referrer: z.object({ name: z.string().min(1).max(200) }).strict().optional().describe('The person who made the referral'),
  note: z.string().min(1).max(5000).optional().describe('Anything the link worker should know'),
}).strict().register(apiSchemas, { id: 'ReferralIn', description: 'A referral to social prescribing, from a referral tool without FHIR' });
export type ReferralIn = z.infer<typeof ReferralIn>;

export const ReferralCreated = z.object({
  id: z.string().describe('The referral\'s id (its FHIR ServiceRequest id): the {id} of every other call about it'),
  identifier: z.string(),
  status: z.string().describe('The referral\'s Task status (http://hl7.org/fhir/task-status): requested until the service acts'),
  task: z.string().describe('The FHIR Task the service works on'),
  patient: z.string().describe('The FHIR Patient (an existing one when the NHS number is already known)'),
  consent: z.string().describe('The FHIR Consent recorded'),
}).register(apiSchemas, { id: 'ReferralCreated', description: 'The referral as accepted: the FHIR resources that now stand for it' });
export type ReferralCreated = z.infer<typeof ReferralCreated>;

export const ProblemSchema = z.object({
  type: z.string().describe('https://signpost.health/problems/<FHIR issue type>'),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(z.object({
    pointer: z.string().optional().describe('RFC 6901 JSON Pointer to the field at fault, in URI-fragment form ("#" is the whole body)'),
    header: z.string().optional().describe('The request header at fault'),
    parameter: z.string().optional().describe('The query parameter at fault'),
    detail: z.string(),
  })).optional(),
}).register(apiSchemas, { id: 'Problem', description: 'RFC 9457 problem details: every refusal, with one entry in errors per field at fault' });

const Organisation = z.object({ ods: z.string(), name: z.string().optional() })
  .register(apiSchemas, { id: 'Organisation', description: 'An organisation by its ODS code, with its name where the gateway knows it' });

export const PatientOut = z.object({
  nhsNumber: z.string().optional().describe('Given to link workers and referrers; never to community groups'),
  name: PersonName.partial().optional(),
  birthDate: z.string().optional(),
  phone: z.string().optional(),
  email: z.string().optional(),
}).register(apiSchemas, { id: 'PatientOut', description: 'The patient, as much of them as the client may see' });

const ReasonOut = z.object({ code: z.string(), text: z.string().optional() });

export const ReferralSummary = z.object({
  id: z.string().describe('The referral\'s id (its FHIR ServiceRequest)'),
  identifier: z.string().optional().describe('The referrer\'s reference for it'),
  task: z.string().describe('The FHIR Task this client\'s organisation works on (a hand-on Task for a community group)'),
  status: z.string().describe('That Task\'s status (http://hl7.org/fhir/task-status)'),
  statusReason: ReasonOut.optional(),
  received: z.string().describe('When the Task was made'),
  changed: z.string().describe('When the Task last changed: the order of the list'),
  practice: Organisation.optional().describe('The referring GP practice (not shown to community groups)'),
  service: Organisation.optional().describe('The social prescribing service; for a community group, the one that handed the referral on'),
  patient: PatientOut,
  reasons: z.array(ReasonOut).optional().describe('Not shown to community groups'),
  etag: z.string().describe('The Task\'s version: send it as If-Match with an action'),
}).register(apiSchemas, { id: 'ReferralSummary', description: 'A referral as a list shows it' });

export const ReferralDetail = ReferralSummary.extend({
  consent: z.object({ status: z.string(), date: z.string().optional(), givenBy: z.string().optional(), agreed: z.string().optional() }).optional(),
  note: z.string().optional(),
  referrer: z.object({ name: z.string() }).optional(),
  steps: z.array(z.object({ status: z.string(), reason: ReasonOut.optional(), at: z.string() }))
    .describe('Every version of the Task, oldest first'),
  handOns: z.array(z.object({ task: z.string(), asset: Organisation, status: z.string(), note: z.string().optional() }))
    .describe('The community groups the referral was handed on to'),
}).register(apiSchemas, { id: 'ReferralDetail', description: 'One referral, with its consent, its steps so far and its hand-ons' });

export const ReferralPage = z.object({
  items: z.array(ReferralSummary),
  next: z.string().describe('Pass as after= to get what changed since: given even when items is empty, so a poller never misses a change'),
}).register(apiSchemas, { id: 'ReferralPage', description: 'Referrals in the order they last changed' });

export type ReferralSummary = z.infer<typeof ReferralSummary>;
export type ReferralDetail = z.infer<typeof ReferralDetail>;

export const ActionResult = z.object({
  id: z.string().describe('The referral'),
  task: z.string().describe('The Task acted on'),
  status: z.string(),
  statusReason: ReasonOut.optional(),
  etag: z.string().describe('The Task\'s new version: the If-Match of the next action'),
  handOn: z.object({ task: z.string(), asset: z.object({ ods: z.string() }), status: z.string() }).optional()
    .describe('hand-on only: the community group\'s new Task'),
}).register(apiSchemas, { id: 'ActionResult', description: 'What an action did: the Task as it now is' });
export type ActionResult = z.infer<typeof ActionResult>;
