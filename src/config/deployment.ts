import { randomBytes, createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import cron from 'node-cron';
import { z } from 'zod';
import { ENGLAND_AND_WALES_BANK_HOLIDAYS } from './bank-holidays.js';

/** The roles a client may have (DESIGN.md "Roles"). */
export const ROLES = ['referrer', 'link-worker', 'community-asset', 'auditor', 'commissioner'] as const;
export type ClientRole = (typeof ROLES)[number];
/**
 * A caller's role: a client's, or `gateway`, the gateway itself acting on its own account (scheduled
 * jobs, delivery bookkeeping). No config gives a client that role and no token can carry it.
 */
export type Role = ClientRole | 'gateway';

/** An ODS organisation code as Signpost accepts one: 3 to 10 upper-case letters or digits. */
export const ODS_CODE = /^[A-Z0-9]{3,10}$/;
const ods = z.string().regex(ODS_CODE, 'must be an ODS code (3-10 upper-case letters or digits)');
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits (SHA-256 of the secret)');

const jwk = z.looseObject({ kty: z.enum(['EC', 'RSA']), kid: z.string().min(1).optional() });

const client = z.strictObject({
  clientId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 . _ -'),
  role: z.enum(ROLES),
  organization: ods,
  secretSha256: sha256Hex.optional(),
  jwks: z.strictObject({ keys: z.array(jwk).min(1) }).optional(),
}).refine((c) => c.secretSha256 !== undefined || c.jwks !== undefined, {
  message: 'a client needs secretSha256 or jwks to authenticate', path: ['secretSha256'],
});

/**
 * A GP system's FHIR endpoint, to which the gateway pushes feedback and status changes. It
 * authenticates with a static bearer token or, as SMART Backend Services clients do, with client
 * credentials at the receiver's token endpoint (the secret stays in this 0600 file, never in logs).
 */
const endpoint = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  bearer: z.string().min(1).optional(),
  clientCredentials: z.strictObject({
    tokenUrl: z.url({ protocol: /^https?$/ }),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
    scope: z.string().min(1).optional(),
  }).optional(),
}).refine((e) => !(e.bearer && e.clientCredentials), { message: 'give bearer or clientCredentials, not both', path: ['clientCredentials'] });

/** How the outbox is delivered (src/delivery/): tries, their spacing, and when a receiver is left alone for a while. */
const delivery = z.strictObject({
  /** Tries before an event is given up (dead-lettered). */
  maxAttempts: z.number().int().min(1).max(100).default(10),
  /** The wait after the first failed try; each later wait doubles, up to maxRetrySeconds, with jitter. */
  firstRetrySeconds: z.number().positive().max(3600).default(5),
  maxRetrySeconds: z.number().positive().max(86_400).default(3600),
  /** Longest a receiver may take to answer one request. */
  timeoutSeconds: z.number().positive().max(300).default(10),
  /** Consecutive failures after which a receiver's circuit opens, and how long it then stays open. */
  breakerFailures: z.number().int().min(1).max(1000).default(5),
  breakerCooldownSeconds: z.number().positive().max(86_400).default(60),
  /** How often an idle worker looks for events written by other instances or due again. */
  pollSeconds: z.number().positive().max(60).default(1),
}).refine((d) => d.maxRetrySeconds >= d.firstRetrySeconds, { message: 'must not be less than firstRetrySeconds', path: ['maxRetrySeconds'] });

const organization = z.strictObject({
  ods,
  name: z.string().min(1),
  kind: z.enum(['gp-practice', 'sp-service', 'community-asset', 'commissioner']),
  endpoint: endpoint.optional(),
  /** For commissioners: the practices whose referrals its reports cover. */
  practices: z.array(ods).optional(),
});

const route = z.strictObject({ practice: ods, service: ods });

/** A schedule in node-cron's syntax: minute hour day-of-month month day-of-week (an optional seconds field first). */
const schedule = z.string().refine((s) => cron.validate(s), 'must be a cron expression: minute hour day-of-month month day-of-week');

/** When each scheduled job (src/jobs/) runs; each runs in one instance at a time. */
const jobs = z.strictObject({
  /** Wakes the delivery worker and reports the outbox (events stuck for five minutes are logged). */
  deliverySweep: schedule.default('* * * * *'),
  /** Walks the whole audit chain; a break is logged and recorded as an alert. */
  auditVerification: schedule.default('30 2 * * *'),
  /** Forgets expired claims (replay caches, idempotency keys, job leases) and long-settled deliveries. */
  cleanup: schedule.default('15 3 * * *'),
  /** Escalates referrals whose Task is still requested after sla.requestedWorkingDays. */
  slaEscalation: schedule.default('5 * * * *'),
  /** Puts on hold the Tasks of referrals whose Consent has run out (provision.period ended). */
  consentExpiry: schedule.default('10 * * * *'),
});

/** A calendar date, YYYY-MM-DD, that exists. */
const calendarDate = z.iso.date();

/** How long a service may leave a referral unanswered before it is escalated (src/jobs/sla-escalation.ts). */
const sla = z.strictObject({
  /** Working days (Monday to Friday in London, less holidays) a referral's Task may stay requested. */
  requestedWorkingDays: z.number().int().min(1).max(60).default(5),
  /** Days that are not working days; England and Wales bank holidays by default (bank-holidays.ts). */
  holidays: z.array(calendarDate).default(() => [...ENGLAND_AND_WALES_BANK_HOLIDAYS]),
});

export const deploymentSchema = z.strictObject({
  clients: z.array(client),
  organizations: z.array(organization),
  routes: z.array(route).default([]),
  delivery: delivery.default(() => delivery.parse({})),
  jobs: jobs.default(() => jobs.parse({})),
  sla: sla.default(() => sla.parse({})),
}).superRefine((cfg, ctx) => {
  const ids = new Set<string>();
  cfg.clients.forEach((c, i) => {
    if (ids.has(c.clientId)) ctx.addIssue({ code: 'custom', path: ['clients', i, 'clientId'], message: `duplicate clientId ${c.clientId}` });
    ids.add(c.clientId);
  });
  const orgs = new Map(cfg.organizations.map((o) => [o.ods, o]));
  if (orgs.size !== cfg.organizations.length) ctx.addIssue({ code: 'custom', path: ['organizations'], message: 'an ODS code is listed twice' });
  cfg.routes.forEach((r, i) => {
    if (orgs.get(r.practice)?.kind !== 'gp-practice') ctx.addIssue({ code: 'custom', path: ['routes', i, 'practice'], message: `${r.practice} is not a configured gp-practice` });
    if (orgs.get(r.service)?.kind !== 'sp-service') ctx.addIssue({ code: 'custom', path: ['routes', i, 'service'], message: `${r.service} is not a configured sp-service` });
  });
});

export type Deployment = z.infer<typeof deploymentSchema>;
/** A deployment config as written (defaults may be left out). */
export type DeploymentInput = z.input<typeof deploymentSchema>;
export type ClientConfig = Deployment['clients'][number];
export type OrganizationConfig = Deployment['organizations'][number];

/** Reads and validates the deployment config; the error message names the file and the field at fault. */
export function loadDeployment(file: string): Deployment {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`config ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  const parsed = deploymentSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = (issue?.path ?? []).map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
    throw new Error(`config ${file}: ${at || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * A demo deployment (one client per role, random secrets) for a first start without a config. The
 * config keeps only secret hashes; the plain secrets go to demo-credentials.json beside it. Both files
 * are created with mode 0600 and never logged.
 */
export function writeDemoDeployment(file: string): { config: Deployment; credentialsFile: string } {
  const clients = [
    { clientId: 'demo-gp', role: 'referrer', organization: 'A81001' },
    { clientId: 'demo-link-worker', role: 'link-worker', organization: 'SP001' },
    { clientId: 'demo-walking-group', role: 'community-asset', organization: 'V001' },
    { clientId: 'demo-auditor', role: 'auditor', organization: 'QWE' },
    { clientId: 'demo-commissioner', role: 'commissioner', organization: 'QWE' },
  ] as const;
  const secrets = clients.map((c) => ({ ...c, secret: randomBytes(24).toString('base64url') }));
  const config: DeploymentInput = {
    clients: secrets.map(({ secret, ...c }) => ({ ...c, secretSha256: sha256(secret) })),
    organizations: [
      { ods: 'A81001', name: 'Riverside Surgery', kind: 'gp-practice' },
      { ods: 'SP001', name: 'Riverside Social Prescribing Service', kind: 'sp-service' },
      { ods: 'V001', name: 'Riverside Walking Group', kind: 'community-asset' },
      { ods: 'QWE', name: 'Riverside Integrated Care Board', kind: 'commissioner', practices: ['A81001'] },
    ],
    routes: [{ practice: 'A81001', service: 'SP001' }],
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const credentialsFile = path.join(path.dirname(file), 'demo-credentials.json');
  // A stale credentials file (its config was removed) is replaced: created anew so that mode 0600 holds.
  fs.rmSync(credentialsFile, { force: true });
  fs.writeFileSync(credentialsFile, `${JSON.stringify({ clients: secrets }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return { config: deploymentSchema.parse(config), credentialsFile };
}
