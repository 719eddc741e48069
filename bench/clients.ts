import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { Deployment, DeploymentInput } from '../src/config/deployment.js';

/**
 * Who the bench is, to the gateway: one GP practice with its referrer client, and the social
 * prescribing services that own the seeded Tasks, each with a link-worker client. Requests go through
 * the same bearer-token check, access policy and audit as any client's. Secrets are new every run.
 */

export const PRACTICE = 'A81001';
/**
 * Issue 9's second practice, routed to the second service: it has no endpoint and its service no
 * subscription, so its referrals announce nothing; the first practice's announce to both.
 */
export const QUIET_PRACTICE = 'B82002';
/** The services owning the seeded Tasks; each owns as many requested Tasks as the next. */
export const SERVICES = Array.from({ length: 20 }, (_, i) => `SP${String(i + 1).padStart(3, '0')}`);
export const REFERRER = 'bench-gp';
export const QUIET_REFERRER = 'bench-gp-quiet';
export const linkWorker = (service: string) => `bench-lw-${service.toLowerCase()}`;

/** The configured organisations; the seed writes their Organization resources exactly as the gateway would. */
export const ORGANIZATIONS: Deployment['organizations'] = [
  { ods: PRACTICE, name: 'Riverside Surgery', kind: 'gp-practice' },
  { ods: QUIET_PRACTICE, name: 'Hillside Practice', kind: 'gp-practice' },
  ...SERVICES.map((ods) => ({ ods, name: `Social Prescribing Service ${ods}`, kind: 'sp-service' as const })),
];

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Writes the deployment config for SIGNPOST_CONFIG; returns each client's secret. `endpoint`: the FHIR
 * base the first practice's feedback is pushed to (issue 9's delivery runs).
 */
export function writeDeployment(file: string, endpoint?: string): Map<string, string> {
  const secrets = new Map([REFERRER, QUIET_REFERRER, ...SERVICES.map(linkWorker)].map((id) => [id, randomBytes(24).toString('base64url')]));
  const config: DeploymentInput = {
    clients: [
      { clientId: REFERRER, role: 'referrer', organization: PRACTICE, secretSha256: sha256(secrets.get(REFERRER)!) },
      { clientId: QUIET_REFERRER, role: 'referrer', organization: QUIET_PRACTICE, secretSha256: sha256(secrets.get(QUIET_REFERRER)!) },
      ...SERVICES.map((ods) => ({
        clientId: linkWorker(ods), role: 'link-worker' as const, organization: ods, secretSha256: sha256(secrets.get(linkWorker(ods))!),
      })),
    ],
    organizations: ORGANIZATIONS.map((o) => (o.ods === PRACTICE && endpoint ? { ...o, endpoint: { url: endpoint, bearer: 'bench-push' } } : o)),
    routes: [{ practice: PRACTICE, service: SERVICES[0]! }, { practice: QUIET_PRACTICE, service: SERVICES[1]! }],
    // The seeded Tasks were authored in 2025, 40% still requested: the hourly SLA job would escalate
    // tens of thousands of them in the middle of a measurement. Both Task-changing jobs run once a year
    // here (on 1 January); the delivery sweep keeps its schedule.
    jobs: { slaEscalation: '0 0 1 1 *', consentExpiry: '0 0 1 1 *' },
  };
  fs.writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  return secrets;
}

/** Access tokens of every bench client, fetched anew from each gateway started (they last minutes). */
export class Tokens {
  private readonly current = new Map<string, string>();
  constructor(private readonly secrets: Map<string, string>) {}

  async refresh(url: string): Promise<void> {
    for (const [clientId, secret] of this.secrets) {
      const res = await fetch(`${url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }),
      });
      const body = (await res.json()) as { access_token?: string };
      if (!res.ok || !body.access_token) throw new Error(`no access token for ${clientId}: ${res.status} ${JSON.stringify(body)}`);
      this.current.set(clientId, body.access_token);
    }
  }

  headers(clientId: string): Record<string, string> {
    const token = this.current.get(clientId);
    if (!token) throw new Error(`no access token for ${clientId} yet`);
    return { authorization: `Bearer ${token}` };
  }
}

/**
 * Issue 10's report scenario: an integrated care board that commissions for eight practices, whose
 * commissioner reads the report, and a practice of another board, whose referrals are stored but not
 * reported to it. The referrals are seeded straight into the read model (report-seed.ts).
 */
export const COMMISSIONER = 'QWE';
export const COMMISSIONED_PRACTICES = Array.from({ length: 8 }, (_, i) => `A8100${i + 1}`);
export const OTHER_BOARD_PRACTICE = 'B82002';
export const COMMISSIONER_CLIENT = 'bench-icb';

/** Writes the report scenario's deployment config for SIGNPOST_CONFIG; returns the commissioner client's secret. */
export function writeReportDeployment(file: string): Map<string, string> {
  const secrets = new Map([[COMMISSIONER_CLIENT, randomBytes(24).toString('base64url')]]);
  const config: DeploymentInput = {
    clients: [{ clientId: COMMISSIONER_CLIENT, role: 'commissioner', organization: COMMISSIONER, secretSha256: sha256(secrets.get(COMMISSIONER_CLIENT)!) }],
    organizations: [
      { ods: COMMISSIONER, name: 'Riverside Integrated Care Board', kind: 'commissioner', practices: COMMISSIONED_PRACTICES },
      ...[...COMMISSIONED_PRACTICES, OTHER_BOARD_PRACTICE].map((ods) => ({ ods, name: `Practice ${ods}`, kind: 'gp-practice' as const })),
      ...SERVICES.map((ods) => ({ ods, name: `Social Prescribing Service ${ods}`, kind: 'sp-service' as const })),
    ],
    // Nothing in this store for the Task-changing jobs to act on; kept off the measurement all the same.
    jobs: { slaEscalation: '0 0 1 1 *', consentExpiry: '0 0 1 1 *' },
  };
  fs.writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  return secrets;
}
