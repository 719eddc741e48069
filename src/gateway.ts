import fs from 'node:fs';
import path from 'node:path';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { renderStoredAuditRecord } from './audit/audit-event.js';
import { auditedRunner, auditRefusal } from './audit/audited-run.js';
import { verifyOperation } from './audit/verify-operation.js';
import { AccessTokens } from './auth/access-token.js';
import { bearerAuth } from './auth/bearer.js';
import { loadOrCreateSigningKey, loadPreviousSigningKey } from './auth/signing-key.js';
import { ClientSignIn, smartConfiguration, TOKEN_PATH, tokenRouter } from './auth/token-endpoint.js';
import { FailureLimiter } from './auth/rate-limit.js';
import { localOrigin, type Env } from './config/env.js';
import { loadDeployment, writeDemoDeployment, type Deployment } from './config/deployment.js';
import { materialiseOrganizations } from './config/organizations.js';
import { supportedProfiles } from './config/profiles.js';
import { indexEntries } from './fhir/index-values.js';
import { intakeRules } from './referral/intake.js';
import { loadTaskStatusReasons } from './workflow/status-reasons.js';
import { workflowRules } from './workflow/task-rules.js';
import { outcomeRules, taskOutcomes } from './outcomes/outcome-rules.js';
import { Questionnaires } from './outcomes/questionnaires.js';
import { processMessageOperation } from './referral/process-message.js';
import { loadReferralReasons } from './referral/reasons.js';
import { gpFeedbackAnnouncer } from './delivery/announcements.js';
import { deliveryOperations } from './delivery/deliveries-operation.js';
import { createDeliveryWorker } from './delivery/delivery-setup.js';
import { outboxWriter } from './delivery/outbox.js';
import { subscriptionAnnouncer, subscriptionRules } from './delivery/subscriptions.js';
import { createApp } from './http/app.js';
import { materialiseMeasure } from './reports/measure.js';
import { REPORTS_PATH } from './reports/page-layout.js';
import { reportLabels } from './reports/report-labels.js';
import { reportOperations } from './reports/report-operation.js';
import { reportPageRouter } from './reports/report-page-route.js';
import { projectReports } from './reports/report-projection.js';
import { scheduledJobs } from './jobs/jobs.js';
import { JobScheduler } from './jobs/scheduler.js';
import type { FhirRouterOptions } from './http/fhir-routes.js';
import type { RunInteraction } from './fhir/interaction.js';
import { jsonApiRouter } from './json-api/routes.js';
import { openStore } from './store/open-store.js';
import type { Store } from './store/store.js';

export interface Gateway {
  server: Server;
  store: Store;
  url: string;
  stop(): Promise<void>;
}

/** The package's root: src/.. under tsx, dist/.. when compiled. */
function packageRoot(): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
}

function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export interface AppParts {
  deployment: Deployment;
  store: Store;
  dataDir: string;
  /** The public origin; a function because it is known only once the server listens (PORT=0). */
  baseUrl: () => string;
  logger: Logger;
  version?: string;
  /** SIGNPOST_TRUST_PROXY. */
  trustProxy?: string;
  /** Told when an interaction has written events to the outbox: wakes the delivery worker. */
  onEnqueued?: () => void;
}

export interface BuiltApp {
  app: Express;
  /** How every interaction runs (audited, with its rules and outbox): the scheduled jobs' changes go through it too. */
  run: RunInteraction;
}

/** Everything behind the HTTP port, wired as in production: used by `npm start`, the tests and the benchmarks. */
export async function buildApp(parts: AppParts): Promise<BuiltApp> {
  const { deployment, store, baseUrl } = parts;
  await materialiseOrganizations(store, deployment);
  const previousKey = loadPreviousSigningKey(parts.dataDir);
  const tokens = new AccessTokens({
    key: loadOrCreateSigningKey(parts.dataDir),
    ...(previousKey ? { previousKey } : {}),
    issuer: baseUrl,
  });
  const profilesDir = path.join(packageRoot(), 'profiles');
  const questionnaires = Questionnaires.load(profilesDir);
  await questionnaires.materialise(store);
  await materialiseMeasure(store, profilesDir);
  // One set of rules per type: intake's are Patient, Consent and ServiceRequest; the workflow's, Task;
  // the outcomes', QuestionnaireResponse.
  const statusReasons = loadTaskStatusReasons(profilesDir);
  const rules = {
    ...intakeRules({ deployment, reasons: loadReferralReasons(profilesDir) }),
    ...workflowRules({ deployment, statusReasons, outcomes: taskOutcomes }),
    ...outcomeRules(questionnaires),
    Subscription: subscriptionRules(),
  };
  const enqueued = parts.onEnqueued ?? (() => undefined);
  const outbox = outboxWriter([gpFeedbackAnnouncer(deployment), subscriptionAnnouncer()], enqueued);
  const context = {
    get baseUrl() { return baseUrl(); },
    run: auditedRunner(store, baseUrl, rules, async (tx, written) => {
      await projectReports(tx, written);
      await outbox(tx, written);
    }),
  };
  const info = {
    get baseUrl() { return baseUrl(); },
    version: parts.version ?? packageVersion(),
    startedAt: new Date().toISOString(),
    profiles: supportedProfiles(profilesDir),
  };
  const authenticate = bearerAuth(tokens);
  const auditRefused: FhirRouterOptions['auditRefusal'] = (caller, interaction, error) => auditRefusal(store, baseUrl(), caller, interaction, error);
  // One failure limiter for both doors clients sign in by (the token endpoint, the reports' form).
  const signInDeps = { clients: deployment.clients, store, tokens, baseUrl, limiter: new FailureLimiter() };
  const app = createApp({
    logger: parts.logger,
    ...(parts.trustProxy ? { trustProxy: parts.trustProxy } : {}),
    routes: [
      { path: TOKEN_PATH, router: tokenRouter(signInDeps) },
      { path: '/api/v1', router: jsonApiRouter({ context, authenticate, auditRefusal: auditRefused, version: info.version, statusReasons }) },
      {
        path: REPORTS_PATH,
        router: reportPageRouter({
          context, deployment, tokens, signIn: new ClientSignIn(signInDeps), auditRefusal: auditRefused,
          labels: reportLabels(deployment, profilesDir), logger: parts.logger,
        }),
      },
    ],
    fhir: {
      context, info,
      authenticate,
      smartConfiguration: () => smartConfiguration(baseUrl()),
      operations: [verifyOperation(store, context), processMessageOperation(context), ...deliveryOperations(context, enqueued), ...reportOperations(context, deployment)],
      auditRefusal: auditRefused,
    },
  });
  return { app, run: context.run };
}

/** The deployment config: the file named by the environment, or a demo written on first start. */
function deploymentFor(env: Env, logger: Logger): Deployment {
  const isDefault = env.configFile === path.join(env.dataDir, 'config.json');
  if (isDefault && !fs.existsSync(env.configFile)) {
    const { config, credentialsFile } = writeDemoDeployment(env.configFile);
    logger.info({ config: env.configFile, credentials: credentialsFile }, 'wrote a demo deployment config; client secrets are in the credentials file');
    return config;
  }
  return loadDeployment(env.configFile);
}

/** Opens the store, builds the app and listens: everything `npm start` does. */
export async function startGateway(env: Env, logger: Logger): Promise<Gateway> {
  const deployment = deploymentFor(env, logger);
  let baseUrl = env.baseUrl ?? '';
  const store = await openStore(env, (r) => indexEntries(r, baseUrl), renderStoredAuditRecord);
  const deliveries = createDeliveryWorker({ store, deployment, baseUrl: () => baseUrl, logger });
  try {
    const { app, run } = await buildApp({
      deployment, store, dataDir: env.dataDir, baseUrl: () => baseUrl, logger, trustProxy: env.trustProxy, onEnqueued: () => deliveries.wake(),
    });
    const server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(env.port, env.host, () => resolve(s));
      s.once('error', reject);
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : env.port;
    const url = localOrigin(env.host, port);
    baseUrl = env.baseUrl ?? url;
    // Events left by an earlier run (or another instance that stopped) are due now.
    deliveries.start();
    const scheduler = new JobScheduler(store, logger);
    scheduler.start(scheduledJobs({ store, run, deployment, baseUrl: () => baseUrl, logger, deliveries }));
    return {
      server, store, url,
      async stop() {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await scheduler.stop();
        await deliveries.stop();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
