import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { linkWorker, SERVICES, Tokens, writeDeployment } from './clients.js';
import { NhsNumbers } from './fixtures.js';
import { measure, measureAlternating, measureSpread, type Figures, type LoadSettings, type Scenario } from './load.js';
import { currentCommit, describeMachine } from './machine.js';
import {
  build, ROOT, runCompiled, startBaselineProcess, startCoreProcess, startGatewayProcess, startReceiverProcess, type Build, type ChildServer, type Sync,
} from './processes.js';
import { processCpu } from './cpu.js';
import { profileIn, summarise } from './profile.js';
import type { QueryPlans } from './query-plan.js';
import { measureReport, type ReportRun } from './report-scenario.js';
import { type DeliveryRun, GATEWAY_ONLY, JSON_PAIRS, jsonCost, medianRound, n0, type JsonPair, type PostgresPoll, type PostgresRun, readDrop, renderReport, SERVER_NAME, targets, type Key, type PollRun, type Row, type Run, type Server } from './report.js';
import { anonymous, baseline, bearer, fhirScenarios, outboxScenarios, pollScenario, receiverPut, type Scenarios } from './scenarios.js';
import type { SeedManifest } from './seed.js';
import { freshSchema } from '../test/fixtures/postgres.js';

/**
 * `npm run bench`: the bare express baseline, then the FHIR core alone and the whole gateway over one
 * seeded store, each scenario on a freshly started server; then a profiled pass of each; then
 * docs/PERFORMANCE.md from this run. BENCH_SECONDS and BENCH_RESOURCES shorten a run while working on
 * the bench itself.
 */

const SETTINGS: LoadSettings = {
  connections: 16, seconds: Number(process.env.BENCH_SECONDS ?? 10), warmupSeconds: 2, quietSeconds: 30, retryAbovePct: 25,
};
const RESOURCES = Number(process.env.BENCH_RESOURCES ?? 100_000);
/** Alternating rounds of the read pair (see Run.readRounds). */
const READ_ROUNDS = 5;
/** Issue 7's pairs: alternating blocks on one gateway (see measureAlternating), and the seconds of each. */
const JSON_BLOCKS = 8;
const JSON_BLOCK_SECONDS = Number(process.env.BENCH_BLOCK_SECONDS ?? 3);
const PROFILE_SECONDS = 5;
/**
 * BENCH_ONLY=read,intake measures only those scenarios, on both servers, skips the profiled pass and
 * leaves docs/PERFORMANCE.md alone: for working on one figure, never for the report.
 */
const ONLY = process.env.BENCH_ONLY?.split(',').filter(Boolean);
const REPORT = path.join(ROOT, 'docs', 'PERFORMANCE.md');
/** Issue 5: the store sizes the poll is measured at (Tasks alone), and its concurrency. */
const POLL_TASKS = (process.env.BENCH_POLL_TASKS ?? '100000,1000000').split(',').map(Number);
const POLL_CONNECTIONS = 8;
/** Issue 10: referrals in the social prescribing report's scope, on each store. */
const REPORT_REFERRALS = Number(process.env.BENCH_REPORT_REFERRALS ?? 100_000);
/** Issue 9: the outbox backlog a gateway delivers to the receiver, and the worker's concurrency (its lease batch). */
const DELIVERY_EVENTS = Number(process.env.BENCH_DELIVERY_EVENTS ?? 20_000);
const DELIVERY_BATCH = 32;

/**
 * Measures one scenario against a server started for it, and stops the server whatever happens.
 * `prepare` runs once the server is up (the gateway's clients fetch their tokens).
 */
async function against(
  server: Promise<ChildServer>, scenario: Scenario, settings: LoadSettings, prepare?: (url: string) => Promise<void>,
): Promise<Figures> {
  const s = await server;
  let figures: Figures;
  try {
    await prepare?.(s.url);
    figures = await measure(s.url, scenario, settings, [process.pid, s.pid]);
  } catch (e) {
    await s.stop().catch(() => undefined); // the measurement's error is the one worth showing
    throw new Error(`${(e as Error).message}\nserver output:\n${s.output() || '(none)'}`, { cause: (e as Error).cause });
  }
  await s.stop();
  return figures;
}

/**
 * Issue 5's polling figure on a store of `tasks` Tasks alone (seed.ts tasks): seeded in a data
 * directory of its own, the poll's query plan and SQL time, then the poll against the core and the
 * gateway at the polling concurrency.
 */
async function measurePolling(work: string, b: Build, tasks: number, gateway: { configFile: string; tokens: Tokens }): Promise<PollRun> {
  const dataDir = path.join(work, `poll-${tasks}`);
  const seeding = Date.now();
  const seed = JSON.parse(await runCompiled(b.seed, [dataDir, String(tasks), 'tasks'])) as SeedManifest;
  const seedSeconds = (Date.now() - seeding) / 1000;
  console.log(`seeded ${n0(tasks)} Tasks in ${seedSeconds.toFixed(1)} s`);
  const plans = JSON.parse(await runCompiled(b.queryPlan, [dataDir, 'poll', ...SERVICES])) as QueryPlans;
  for (const p of plans.plans) console.log(`poll SQL alone (${p.server}): ${p.medianMs.toFixed(2)} ms median, ${p.maxMs.toFixed(2)} ms worst of ${p.runs}`);
  const settings = { ...SETTINGS, connections: POLL_CONNECTIONS };
  const baselineNow = await against(startBaselineProcess(), baseline(), SETTINGS);
  print('bare express', `GET /ping/:id (before the ${n0(tasks)}-Task poll)`, '', baselineNow);
  const o = { dataDir, sync: 'full' as const };
  const core = await against(startCoreProcess({ ...o, main: b.coreMain }), pollScenario(seed, anonymous), settings);
  const gw = await against(startGatewayProcess({ ...o, main: b.gatewayMain, configFile: gateway.configFile }),
    pollScenario(seed, bearer(gateway.tokens)), settings, (url) => gateway.tokens.refresh(url));
  return { tasks, seedSeconds, plans, baseline: baselineNow, core, gateway: gw };
}

/**
 * On PostgreSQL the database's own processes do the store's work, and the bench counts them as "others":
 * no retry for a busy machine (it would always be busy), and the report says so.
 */
const PG_SETTINGS: LoadSettings = { ...SETTINGS, retryAbovePct: 0 };

/**
 * Issue 9, on the seeded SQLite store: (1) the receiver alone, taking the gateway's PUTs from autocannon at
 * the worker's concurrency (the baseline); (2) a backlog of DELIVERY_EVENTS outbox events, written
 * before the gateway starts, delivered to it: events/s from the first arrival to the last; (3) intake
 * from the announcing practice and from the quiet one in alternating blocks on that gateway.
 */
async function measureDelivery(work: string, b: Build, dataDir: string, nhs: NhsNumbers, before: Figures): Promise<DeliveryRun> {
  const receiver = await startReceiverProcess(b);
  let gateway: ChildServer | undefined;
  try {
    const put = await measure(receiver.url, receiverPut(), { ...SETTINGS, connections: DELIVERY_BATCH }, [process.pid, receiver.pid]);
    print('receiver', `${receiverPut().name}, ${DELIVERY_BATCH} connections`, '', put, before);
    const configFile = path.join(work, 'config-delivery.json');
    const tokens = new Tokens(writeDeployment(configFile, `${receiver.url}/fhir`));
    await runCompiled(b.outboxFill, [dataDir, String(DELIVERY_EVENTS)]);
    await fetch(`${receiver.url}/reset`, { method: 'POST' });
    gateway = await startGatewayProcess({ main: b.gatewayMain, dataDir, sync: 'full', configFile });
    const cpu = processCpu(gateway.pid);
    const deadline = Date.now() + 15 * 60_000;
    let seen = { count: 0, first: 0, last: 0, notifications: 0 };
    while (seen.count < DELIVERY_EVENTS) {
      if (Date.now() > deadline) throw new Error(`the gateway delivered ${seen.count} of ${DELIVERY_EVENTS} events in 15 minutes`);
      await new Promise((r) => setTimeout(r, 200));
      seen = await (await fetch(`${receiver.url}/count`)).json() as typeof seen;
    }
    const seconds = (seen.last - seen.first) / 1000;
    const throughput = { events: seen.count, seconds, eventsPerSecond: seen.count / seconds, serverCpuUs: (cpu() * 1000) / seen.count };
    console.log(`${'gateway'.padEnd(12)} ${`delivered ${n0(seen.count)} outbox events`.padEnd(60)} ${n0(throughput.eventsPerSecond)} events/s (${throughput.seconds.toFixed(1)} s, ${n0(throughput.serverCpuUs)} µs server CPU per event)`);
    // The announcing practice's service subscribes (to the receiver): each of its referrals owes two events.
    await tokens.refresh(gateway.url);
    const sub = await fetch(`${gateway.url}/fhir/Subscription`, {
      method: 'POST',
      headers: { ...tokens.headers(linkWorker(SERVICES[0]!)), 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Subscription', status: 'requested', reason: 'bench', criteria: `Task?owner=Organization/${SERVICES[0]!}`,
        channel: { type: 'rest-hook', endpoint: `${receiver.url}/hooks`, payload: 'application/fhir+json' },
        extension: [{ url: 'https://signpost.health/fhir/StructureDefinition/subscription-secret', valueString: 'bench-secret-of-at-least-thirty-two-characters' }],
      }),
    });
    if (sub.status !== 201) throw new Error(`the bench's subscription was refused: ${sub.status} ${await sub.text()}`);
    const { announced, quiet } = outboxScenarios(nhs, bearer(tokens));
    const blocks = await measureAlternating(gateway.url, [announced, quiet], SETTINGS, JSON_BLOCKS, JSON_BLOCK_SECONDS, [process.pid, gateway.pid]);
    const rounds = blocks.map((x) => ({ announced: x.a, quiet: x.b }));
    rounds.forEach((r, i) => {
      print('gateway', `${announced.name} (${i + 1})`, 'full', r.announced, before);
      print('gateway', `${quiet.name} (${i + 1})`, 'full', r.quiet, before);
    });
    // What the announcing blocks owed has gone out by now (the last quiet block ran meanwhile).
    const after = await (await fetch(`${receiver.url}/count`)).json() as typeof seen;
    return {
      put, throughput, intakeRounds: rounds, pushed: after.count - seen.count, notified: after.notifications,
      announcedName: announced.name, quietName: quiet.name,
    };
  } catch (e) {
    throw new Error(`${(e as Error).message}\ngateway output:\n${gateway?.output() || '(none)'}`, { cause: e });
  } finally {
    await gateway?.stop().catch(() => undefined);
    await receiver.stop().catch(() => undefined);
  }
}

/** Issue 8: the scenarios measured again on PostgreSQL (the JSON pairs are SQLite's alone; the poll has a store of its own). */
const POSTGRES_KEYS: readonly Key[] = ['read', 'search', 'create', 'transaction', 'intake'];

/**
 * The link-worker poll on a store of `tasks` Tasks alone seeded into a fresh PostgreSQL schema, against
 * the core and the gateway at the polling concurrency: the PostgreSQL side of measurePolling.
 */
async function measurePostgresPoll(work: string, b: Build, tasks: number, gateway: { configFile: string; tokens: Tokens }): Promise<PostgresPoll> {
  const schema = await freshSchema();
  try {
    const dataDir = path.join(work, `postgres-poll-${tasks}`);
    fs.mkdirSync(dataDir);
    const seeding = Date.now();
    const seed = JSON.parse(await runCompiled(b.seed, [dataDir, String(tasks), 'tasks'], schema.url)) as SeedManifest;
    const seedSeconds = (Date.now() - seeding) / 1000;
    console.log(`seeded ${n0(tasks)} Tasks into PostgreSQL in ${seedSeconds.toFixed(1)} s`);
    const settings = { ...PG_SETTINGS, connections: POLL_CONNECTIONS };
    const o = { dataDir, sync: 'full' as const, databaseUrl: schema.url };
    const core = await against(startCoreProcess({ ...o, main: b.coreMain }), pollScenario(seed, anonymous), settings);
    const gw = await against(startGatewayProcess({ ...o, main: b.gatewayMain, configFile: gateway.configFile }),
      pollScenario(seed, bearer(gateway.tokens)), settings, (url) => gateway.tokens.refresh(url));
    return { tasks, seedSeconds, core, gateway: gw };
  } finally {
    await schema.drop();
  }
}

/**
 * Issue 8's figures: a store of RESOURCES seeded in a schema of its own on the tests' PostgreSQL server
 * (SIGNPOST_TEST_DATABASE_URL), the scenarios of POSTGRES_KEYS on the core and the gateway over it, then
 * referral intake spread over two gateway instances on it, as behind a load balancer; and the poll on a
 * store of the first polling size.
 */
async function measurePostgres(work: string, b: Build, gateway: { configFile: string; tokens: Tokens }, before: Figures): Promise<PostgresRun> {
  const schema = await freshSchema();
  try {
    const dataDir = path.join(work, 'postgres'); // the instances' token-signing key
    fs.mkdirSync(dataDir);
    const seeding = Date.now();
    const seed = JSON.parse(await runCompiled(b.seed, [dataDir, String(RESOURCES)], schema.url)) as SeedManifest;
    const seedSeconds = (Date.now() - seeding) / 1000;
    console.log(`seeded ${n0(RESOURCES)} resources into PostgreSQL in ${seedSeconds.toFixed(1)} s`);
    const nhs = new NhsNumbers(seed.nhsUsed);
    const scenarios: Record<Server, Scenarios> = { core: fhirScenarios(seed, nhs, anonymous), gateway: fhirScenarios(seed, nhs, bearer(gateway.tokens)) };
    const o = { dataDir, sync: 'full' as const, databaseUrl: schema.url };
    const startOn = (server: Server) => (server === 'core'
      ? startCoreProcess({ ...o, main: b.coreMain })
      : startGatewayProcess({ ...o, main: b.gatewayMain, configFile: gateway.configFile }));
    const refresh = (url: string) => gateway.tokens.refresh(url);
    const rows: Row[] = [];
    for (const key of POSTGRES_KEYS) {
      for (const server of ['core', 'gateway'] as const) {
        if (server === 'core' && GATEWAY_ONLY.includes(key)) continue;
        const scenario = scenarios[server][key];
        const figures = await against(startOn(server), scenario, PG_SETTINGS, server === 'gateway' ? refresh : undefined);
        rows.push({ server, key, name: scenario.name, sync: 'full', figures });
        print(SERVER_NAME[server], `${scenario.name} (PostgreSQL)`, 'full', figures, before);
      }
    }
    // Started one after the other: the second finds the schema migrated and the key written. One
    // public origin, as behind a load balancer: a token's issuer is the same at both.
    const behindOneOrigin = () => startGatewayProcess({ ...o, main: b.gatewayMain, configFile: gateway.configFile, baseUrl: 'http://signpost.bench' });
    const first = await behindOneOrigin();
    const instances = [first];
    let twoInstances: Figures;
    try {
      instances.push(await behindOneOrigin());
      await refresh(first.url); // a token of one instance is good at both: they share the signing key
      twoInstances = await measureSpread(instances.map((i) => i.url), scenarios.gateway.intake, PG_SETTINGS, [process.pid, ...instances.map((i) => i.pid)]);
    } finally {
      for (const i of instances) await i.stop().catch(() => undefined);
    }
    print('2 gateways', `${scenarios.gateway.intake.name} (PostgreSQL)`, 'full', twoInstances, before);
    const client = new pg.Client({ connectionString: schema.url });
    let version: string;
    try {
      await client.connect();
      version = String((await client.query('SHOW server_version')).rows[0]?.server_version ?? 'unknown');
    } finally {
      await client.end();
    }
    const poll = await measurePostgresPoll(work, b, POLL_TASKS[0]!, gateway);
    for (const server of ['core', 'gateway'] as const) print(SERVER_NAME[server], `poll, ${n0(poll.tasks)} Tasks (PostgreSQL)`, 'full', poll[server], before);
    return { version, seedSeconds, rows, twoInstances, poll };
  } finally {
    await schema.drop();
  }
}

function print(server: string, name: string, sync: string, f: Figures, base?: Figures): void {
  const vs = base ? `  ${(f.rps / base.rps).toFixed(2)}× express` : '';
  console.log(`${server.padEnd(13)} ${name.padEnd(26)} ${sync.padEnd(7)} ${Math.round(f.rps).toString().padStart(7)} req/s  p50 ${f.p50.toFixed(2).padStart(7)} ms  p99 ${f.p99.toFixed(2).padStart(7)} ms  cpu ${f.serverCpuUs.toFixed(0).padStart(4)} µs/req  others ${f.othersPct.toFixed(0).padStart(3)}% of a core${vs}`);
}

async function main(work: string, b: Build, commit: string, started: number): Promise<void> {
  const dataDir = path.join(work, 'data');
  console.log(`concurrency ${SETTINGS.connections}, ${SETTINGS.warmupSeconds} s warm-up + ${SETTINGS.seconds} s per scenario`);
  const before = await against(startBaselineProcess(), baseline(), SETTINGS);
  print('bare express', 'GET /ping/:id (baseline)', '', before);

  const seeding = Date.now();
  const seed = JSON.parse(await runCompiled(b.seed, [dataDir, String(RESOURCES)])) as SeedManifest;
  const seedSeconds = (Date.now() - seeding) / 1000;
  console.log(`seeded ${RESOURCES} resources in ${seedSeconds.toFixed(1)} s`);
  const machine = describeMachine(dataDir, commit);
  // Before any server writes: the plan and the cost of the search on exactly the seeded store.
  const queryPlans = JSON.parse(await runCompiled(b.queryPlan, [dataDir, 'search', ...SERVICES])) as QueryPlans;
  for (const p of queryPlans.plans) console.log(`Task search SQL alone (${p.server}): ${p.medianMs.toFixed(2)} ms median, ${p.maxMs.toFixed(2)} ms worst of ${p.runs}`);

  const configFile = path.join(work, 'config.json');
  const tokens = new Tokens(writeDeployment(configFile));
  const nhs = new NhsNumbers(seed.nhsUsed); // one series for both servers: they write to the same store
  const scenarios: Record<Server, Scenarios> = {
    core: fhirScenarios(seed, nhs, anonymous),
    gateway: fhirScenarios(seed, nhs, bearer(tokens)),
  };
  const refresh = (url: string) => tokens.refresh(url);
  const start = (server: Server, sync: Sync, cpuProfDir?: string) => {
    const o = { dataDir, sync, ...(cpuProfDir ? { cpuProfDir } : {}) };
    return server === 'core' ? startCoreProcess({ ...o, main: b.coreMain }) : startGatewayProcess({ ...o, main: b.gatewayMain, configFile });
  };
  const prepare = (server: Server) => (server === 'gateway' ? refresh : undefined);
  // Reads and searches first, so they see exactly the seeded store; writes add to it afterwards. Core
  // and gateway in turn on each scenario, so the pairs compared are measured close together.
  const rows: Row[] = [];
  // Reads in alternating rounds (see Run.readRounds), before anything writes to the seeded store.
  const readRounds: Run['readRounds'] = [];
  if (!ONLY || ONLY.includes('read')) {
    for (let round = 1; round <= READ_ROUNDS; round++) {
      const pair = {} as Run['readRounds'][number];
      for (const server of ['core', 'gateway'] as const) {
        pair[server] = await against(start(server, 'full'), scenarios[server].read, SETTINGS, prepare(server));
        print(SERVER_NAME[server], `${scenarios[server].read.name} (${round})`, 'full', pair[server], before);
      }
      readRounds.push(pair);
    }
    for (const server of ['core', 'gateway'] as const) {
      rows.push({ server, key: 'read', name: scenarios[server].read.name, sync: 'full', figures: medianRound(readRounds.map((r) => r[server])) });
    }
  }
  const single = async ([server, key, sync]: [Server, Key, Sync]) => {
    if (ONLY && !ONLY.includes(key)) return;
    const scenario = scenarios[server][key];
    const figures = await against(start(server, sync), scenario, SETTINGS, prepare(server));
    rows.push({ server, key, name: scenario.name, sync, figures });
    print(SERVER_NAME[server], scenario.name, sync, figures, before);
  };
  // Issue 7: a FHIR interaction and the plain-JSON call that becomes it, on one gateway in alternating
  // short blocks (see measureAlternating).
  const jsonRounds: Run['jsonRounds'] = [];
  const pairRounds = async (pair: JsonPair) => {
    if (ONLY && !ONLY.includes(pair.fhir) && !ONLY.includes(pair.json)) return;
    const fhir = scenarios.gateway[pair.fhir];
    const json = scenarios.gateway[pair.json];
    const s = await start('gateway', 'full');
    let blocks: { a: Figures; b: Figures }[];
    try {
      await refresh(s.url);
      blocks = await measureAlternating(s.url, [fhir, json], SETTINGS, JSON_BLOCKS, JSON_BLOCK_SECONDS, [process.pid, s.pid]);
    } catch (e) {
      await s.stop().catch(() => undefined);
      throw new Error(`${(e as Error).message}\nserver output:\n${s.output() || '(none)'}`, { cause: (e as Error).cause });
    }
    await s.stop();
    const rounds = blocks.map((x) => ({ fhir: x.a, json: x.b }));
    rounds.forEach((r, i) => {
      print('gateway', `${fhir.name} (${i + 1})`, 'full', r.fhir, before);
      print('gateway', `${json.name} (${i + 1})`, 'full', r.json, before);
    });
    jsonRounds.push({ fhir: pair.fhir, rounds });
    rows.push({ server: 'gateway', key: pair.fhir, name: fhir.name, sync: 'full', figures: medianRound(rounds.map((r) => r.fhir)) });
    rows.push({ server: 'gateway', key: pair.json, name: json.name, sync: 'full', figures: medianRound(rounds.map((r) => r.json)) });
  };
  const pairOf = (fhir: Key) => JSON_PAIRS.find((p) => p.fhir === fhir)!;
  // The searches and the list pair before any write, like the reads; then the writes.
  await single(['core', 'search', 'full']);
  await single(['gateway', 'search', 'full']);
  await pairRounds(pairOf('list'));
  for (const step of [
    ['core', 'create', 'full'], ['core', 'create', 'normal'], ['gateway', 'create', 'full'],
    ['core', 'transaction', 'full'], ['gateway', 'transaction', 'full'],
  ] as const) await single([...step]);
  await pairRounds(pairOf('intake'));
  await pairRounds(pairOf('act'));
  const delivery = !ONLY || ONLY.includes('delivery') ? await measureDelivery(work, b, dataDir, nhs, before) : undefined;
  const postgres = !ONLY || ONLY.includes('postgres') ? await measurePostgres(work, b, { configFile, tokens }, before) : undefined;
  const reports: ReportRun[] = [];
  if (!ONLY || ONLY.includes('reports')) {
    for (const store of ['sqlite', 'postgres'] as const) {
      const r = await measureReport(work, b, store, REPORT_REFERRALS);
      reports.push(r);
      const ms = r.jsonMs.map((x) => x.toFixed(0)).join(', ');
      console.log(`gateway       social prescribing report, ${n0(REPORT_REFERRALS)} referrals (${store}): ${ms} ms; CSV ${r.csvMs.toFixed(0)} ms; the query alone ${r.plans.queriesMedianMs.toFixed(0)} ms (median); ${n0(r.serverCpuMs)} ms server CPU per report`);
      console.log(`  profiled, inclusive: ${r.profile.signpost.map((f) => `${f.pct.toFixed(1)}% ${f.name}`).join('; ')}`);
      console.log(`  profiled, self: ${r.profile.functions.map((f) => `${f.pct.toFixed(1)}% ${f.name}`).join('; ')}`);
    }
  }
  const polling: PollRun[] = [];
  if (!ONLY || ONLY.includes('poll')) {
    for (const tasks of POLL_TASKS) {
      const run = await measurePolling(work, b, tasks, { configFile, tokens });
      polling.push(run);
      for (const server of ['core', 'gateway'] as const) print(SERVER_NAME[server], `poll, ${n0(tasks)} Tasks`, 'full', run[server], before);
    }
  }
  // Measured again at the end: the ratios use the faster of the two, so a busy moment cannot flatter them.
  const after = await against(startBaselineProcess(), baseline(), SETTINGS);
  print('bare express', 'GET /ping/:id (again)', '', after);
  if (readRounds.length) console.log(`\nauth + audit cost on reads: ${(100 * readDrop({ readRounds })).toFixed(0)}% drop, median of ${readRounds.length} rounds (target < 30%)`);
  for (const j of jsonRounds) console.log(`plain-JSON cost over FHIR, ${j.fhir}: ${(100 * jsonCost(j)).toFixed(0)}%, median of ${j.rounds.length} rounds (target ≤ 15%)`);

  if (ONLY && !process.env.BENCH_PROFILE) return;
  // Profiles give shares of the server's own time, which a busy neighbour hardly skews: no waiting.
  const profiles: Run['profiles'] = [];
  for (const server of ['core', 'gateway'] as const) {
    const keys = ONLY ? ONLY.filter((k): k is Key => k in scenarios[server]) : ['read', 'search', 'create', 'transaction'] as const;
    for (const key of keys) {
      if (server === 'core' && GATEWAY_ONLY.includes(key)) continue;
      const dir = fs.mkdtempSync(path.join(work, 'profile-'));
      const scenario: Scenario = scenarios[server][key];
      await against(start(server, 'full', dir), scenario, { ...SETTINGS, warmupSeconds: 1, seconds: PROFILE_SECONDS, quietSeconds: 0, retryAbovePct: 0 }, prepare(server));
      profiles.push({ server, name: scenario.name, summary: summarise(profileIn(dir), b.root, ONLY ? 30 : 12) });
    }
  }
  if (ONLY) {
    console.log(JSON.stringify(profiles, null, 1));
    return;
  }

  const run: Run = {
    machine, settings: SETTINGS, baselines: [before, after], rows, readRounds, jsonRounds, ...(postgres ? { postgres } : {}), ...(delivery ? { delivery } : {}), queryPlans, polling, reports, profileSeconds: PROFILE_SECONDS, profiles,
    seed: {
      resources: RESOURCES, patients: seed.patients.length, tasks: RESOURCES - seed.patients.length - SERVICES.length - 1,
      owners: SERVICES.length, seconds: seedSeconds,
    },
    seconds: (Date.now() - started) / 1000,
  };
  console.log('\ntargets:');
  for (const t of targets(run)) console.log(`  ${t.pass ? 'pass' : 'FAIL'}  issue ${t.issue}: ${t.name}: ${t.measured}`);
  fs.writeFileSync(REPORT, renderReport(run));
  console.log(`\nwrote ${path.relative(ROOT, REPORT)} (commit ${commit}; ${(run.seconds / 60).toFixed(1)} minutes)`);
}

// The report names the file system of this scratch space: on tmpfs an fsync would cost nothing.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'signpost-bench-'));
const started = Date.now();
let compiled: Build | undefined;
try {
  const commit = currentCommit(); // read before compiling, so it names what the build holds
  compiled = build();
  await main(work, compiled, commit, started);
} catch (e) {
  const cause = (e as Error).cause;
  console.error(`bench failed: ${(e as Error).message}${cause ? ` (${String(cause)})` : ''}`);
  process.exitCode = 1;
} finally {
  fs.rmSync(work, { recursive: true, force: true });
  compiled?.remove();
}
