import { mayAccess } from '../auth/access-policy.js';
import type { Caller } from '../fhir/interaction.js';
import { formatInstant } from '../fhir/instant.js';
import { NHS_NUMBER_SYSTEM } from '../referral/nhs-number.js';
import type { Stored, StoreTx } from '../store/store.js';
import type { ReferralDetail, ReferralSummary } from './schemas.js';

/**
 * A referral as the JSON API shows it, read through the caller's transaction: whatever the caller may
 * not see of it (a community group: the ServiceRequest, the Consent, the NHS number) is simply absent,
 * because the access policy never hands it over.
 */

/** The id of a relative reference (`Type/id`); '' when there is none. */
export const idOf = (reference: string | undefined): string => reference?.split('/')[1] ?? '';
const odsOf = (ref: fhir4.Reference | undefined): string => ref?.identifier?.value ?? idOf(ref?.reference);
/** A CodeableConcept as the JSON API's { code, text }, or undefined without a code. */
export const reasonOf = (c: fhir4.CodeableConcept | undefined) => {
  const code = c?.coding?.[0]?.code;
  return code ? { code, ...(c?.text ? { text: c.text } : {}) } : undefined;
};

/** Everything read for one referral in one call, so that each resource is read once. */
export class ReferralReader {
  private readonly names = new Map<string, string | undefined>();

  constructor(private readonly tx: StoreTx, private readonly caller: Caller) {}

  /** What was read, for the audit record of the call: each resource returned, once. */
  readonly returned = new Map<string, fhir4.Resource>();

  /** A resource the caller may read, or undefined: a type its role or token may not read is left out, not refused. */
  private async read(type: string, id: string): Promise<fhir4.Resource | undefined> {
    return mayAccess(this.caller, type, 'read') ? this.keep(await this.tx.read(type, id)) : undefined;
  }

  private keep(s: Stored | undefined): fhir4.Resource | undefined {
    if (s) this.returned.set(`${s.type}/${s.id}`, s.resource);
    return s?.resource;
  }

  private async organisation(ods: string): Promise<{ ods: string; name?: string }> {
    if (!this.names.has(ods)) this.names.set(ods, (await this.read('Organization', ods) as fhir4.Organization | undefined)?.name);
    const name = this.names.get(ods);
    return { ods, ...(name ? { name } : {}) };
  }

  /**
   * The Task of referral `id` that the caller's organisation works on; for a referrer or an auditor,
   * the referral's own Task. Undefined when the caller can see none.
   */
  async taskOf(id: string): Promise<Stored | undefined> {
    const page = await this.tx.search({
      type: 'Task', sort: 'default', count: 50, filters: [{ kind: 'reference', param: 'focus', targets: [`ServiceRequest/${id}`] }],
    });
    const own = page.matches.find((t) => odsOf((t.resource as fhir4.Task).owner) === this.caller.organization);
    return own ?? page.matches.find((t) => !(t.resource as fhir4.Task).partOf?.length);
  }

  async summary(taskStored: Stored): Promise<ReferralSummary> {
    this.keep(taskStored);
    const task = taskStored.resource as fhir4.Task;
    const srId = idOf(task.focus?.reference);
    const sr = await this.read('ServiceRequest', srId) as fhir4.ServiceRequest | undefined;
    const patient = await this.read('Patient', idOf(task.for?.reference)) as fhir4.Patient | undefined;
    const name = patient?.name?.find((n) => n.use === 'official') ?? patient?.name?.[0];
    const phone = patient?.telecom?.find((t) => t.system === 'phone')?.value;
    const email = patient?.telecom?.find((t) => t.system === 'email')?.value;
    const nhsNumber = patient?.identifier?.find((i) => i.system === NHS_NUMBER_SYSTEM)?.value;
    const statusReason = reasonOf(task.statusReason);
    // A community group reads neither the referral nor the parent Task: its Task names the service that handed on.
    const handOn = (task.partOf?.length ?? 0) > 0;
    const practice = sr?.requester ?? (handOn ? undefined : task.requester);
    const service = sr?.performer?.[0] ?? (handOn ? task.requester : task.owner);
    return {
      id: srId,
      ...(sr?.identifier?.[0]?.value ? { identifier: sr.identifier[0].value } : {}),
      task: taskStored.id,
      status: task.status,
      ...(statusReason ? { statusReason } : {}),
      received: task.authoredOn ?? formatInstant(taskStored.lastUpdated),
      changed: formatInstant(taskStored.lastUpdated),
      ...(practice ? { practice: await this.organisation(odsOf(practice)) } : {}),
      ...(service ? { service: await this.organisation(odsOf(service)) } : {}),
      patient: {
        ...(nhsNumber ? { nhsNumber } : {}),
        ...(name ? { name: { ...(name.given ? { given: name.given } : {}), ...(name.family ? { family: name.family } : {}) } } : {}),
        ...(patient?.birthDate ? { birthDate: patient.birthDate } : {}),
        ...(phone ? { phone } : {}),
        ...(email ? { email } : {}),
      },
      ...(sr ? { reasons: (sr.reasonCode ?? []).flatMap((c) => reasonOf(c) ?? []) } : {}),
      etag: `W/"${taskStored.version}"`,
    };
  }

  async detail(taskStored: Stored): Promise<ReferralDetail> {
    const summary = await this.summary(taskStored);
    const sr = this.returned.get(`ServiceRequest/${summary.id}`) as fhir4.ServiceRequest | undefined;
    const consent = await this.read('Consent', idOf(sr?.supportingInfo?.[0]?.reference)) as fhir4.Consent | undefined;
    const history = await this.tx.history({ type: 'Task', id: taskStored.id, count: 1000 });
    const handOns = await this.tx.search({
      type: 'Task', sort: 'default', count: 100, filters: [{ kind: 'reference', param: 'part-of', targets: [`Task/${taskStored.id}`] }],
    });
    const note = sr?.note?.[0];
    return {
      ...summary,
      ...(consent ? {
        consent: {
          status: consent.status,
          ...(consent.dateTime ? { date: consent.dateTime } : {}),
          givenBy: consent.performer?.[0]?.reference?.startsWith('Patient/') ? 'patient' : 'representative',
          ...(consent.policyRule?.text ? { agreed: consent.policyRule.text } : {}),
        },
      } : {}),
      ...(note?.text ? { note: note.text } : {}),
      ...(note?.authorString ? { referrer: { name: note.authorString } } : {}),
      steps: [...history.versions].reverse().map((v) => {
        const t = v.resource as fhir4.Task;
        const reason = reasonOf(t.statusReason);
        return { status: t.status, ...(reason ? { reason } : {}), at: formatInstant(v.lastUpdated) };
      }),
      handOns: await Promise.all(handOns.matches.map(async (h) => {
        const t = this.keep(h) as fhir4.Task;
        return { task: h.id, asset: await this.organisation(odsOf(t.owner)), status: t.status, ...(t.note?.[0]?.text ? { note: t.note[0].text } : {}) };
      })),
    };
  }
}
