import { COMMISSIONED_PRACTICES, PRACTICE, QUIET_PRACTICE } from './clients.js';
import type { Figures, LoadSettings } from './load.js';
import type { Machine } from './machine.js';
import type { Sync } from './processes.js';
import type { ProfileSummary } from './profile.js';
import type { QueryPlans } from './query-plan.js';
import type { ReportRun, ReportStore } from './report-scenario.js';

/** Renders a run as docs/PERFORMANCE.md: figures, targets, query plan and profiles, all from this one run. */

export type Key = 'read' | 'create' | 'search' | 'transaction' | 'intake' | 'jsonIntake' | 'list' | 'jsonList' | 'act' | 'jsonAct';
/** Scenarios of the gateway alone: the referral rules and the plain-JSON API are not the core's. */
export const GATEWAY_ONLY: readonly Key[] = ['intake', 'jsonIntake', 'list', 'jsonList', 'act', 'jsonAct'];
/** Issue 7: each plain-JSON call beside the FHIR interaction it becomes. */
export const JSON_PAIRS = [
  { fhir: 'list', json: 'jsonList', what: 'a platform\'s poll of its referrals' },
  { fhir: 'intake', json: 'jsonIntake', what: 'referral intake' },
  { fhir: 'act', json: 'jsonAct', what: 'putting a referral on hold or resuming it' },
] as const satisfies readonly { fhir: Key; json: Key; what: string }[];
export type JsonPair = (typeof JSON_PAIRS)[number];
/** The FHIR core alone (no token, policy or audit), or the whole gateway as deployed. */
export type Server = 'core' | 'gateway';

export interface Row {
  server: Server;
  key: Key;
  name: string;
  sync: Sync;
  figures: Figures;
}

export interface Run {
  machine: Machine;
  settings: LoadSettings;
  seed: { resources: number; patients: number; tasks: number; owners: number; seconds: number };
  /** Bare express, measured first and last. */
  baselines: [Figures, Figures];
  rows: Row[];
  /**
   * The read pair, measured in alternating rounds (core, gateway, core, gateway, …): the machine's speed
   * drifts by more than the difference being measured, and a pair measured back to back shares a drift.
   */
  readRounds: { core: Figures; gateway: Figures }[];
  /** Issue 7's pairs, each in alternating blocks on one gateway (load.ts measureAlternating), for the same reason. */
  jsonRounds: { fhir: JsonPair['fhir']; rounds: { fhir: Figures; json: Figures }[] }[];
  queryPlans: QueryPlans;
  /** Issue 5: the link-worker poll on stores of Tasks alone, one entry per size. */
  polling: PollRun[];
  /** Issue 8: the same scenarios on PostgreSQL, and intake over two gateway instances. */
  postgres?: PostgresRun;
  /** Issue 9: delivery throughput to a local receiver, and what the outbox adds to intake. */
  delivery?: DeliveryRun;
  /** Issue 10: the social prescribing report over the seeded referrals, on each store. */
  reports: ReportRun[];
  /** Seconds of load in each profiled pass. */
  profileSeconds: number;
  profiles: { server: Server; name: string; summary: ProfileSummary }[];
  /** Wall-clock seconds of the whole run, compile to report. */
  seconds: number;
}

/** Medplum 5 (PostgreSQL + Redis) on the same kind of machine, as ratios to the same bare express baseline. */
const MEDPLUM: Record<Key, string> = { read: '0.13×', create: '0.033×', search: '0.033×', transaction: '0.008× (3 entries)', intake: '', jsonIntake: '', list: '', jsonList: '', act: '', jsonAct: '' };

export interface DeliveryRun {
  /** The receiver alone: the gateway's PUT of a Task from autocannon at the worker's concurrency. */
  put: Figures;
  /** A backlog written before the gateway started, delivered: from the first arrival to the last. */
  throughput: { events: number; seconds: number; eventsPerSecond: number; serverCpuUs: number };
  /** Intake from the announcing practice and from the quiet one, in alternating blocks on one gateway. */
  intakeRounds: { announced: Figures; quiet: Figures }[];
  /** Events the receiver took during the intake blocks: PUTs to the practice's endpoint, notifications. */
  pushed: number;
  notified: number;
  announcedName: string;
  quietName: string;
}

export interface PostgresRun {
  /** The server's `SHOW server_version`. */
  version: string;
  seedSeconds: number;
  /** The scenarios on PostgreSQL, each on a server started for it. */
  rows: Row[];
  /** Referral intake with the connections shared between two gateway instances on PostgreSQL. */
  twoInstances: Figures;
  /** The link-worker poll on a PostgreSQL store of Tasks alone, the size of the first SQLite poll. */
  poll: PostgresPoll;
}

export interface PostgresPoll {
  tasks: number;
  seedSeconds: number;
  core: Figures;
  gateway: Figures;
}

export const SERVER_NAME: Record<Server, string> = { core: 'core', gateway: 'gateway' };

/** The poll measured on a store of `tasks` Tasks: its seeding, its SQL and both servers' figures. */
export interface PollRun {
  tasks: number;
  seedSeconds: number;
  plans: QueryPlans;
  /**
   * Bare express measured just before this size's poll: this VM's speed drifts by up to 2× within a
   * run (seen: 8,757 req/s at the start, 4,596 at the end), so each size is compared with the machine
   * as it was then, not only with the other size.
   */
  baseline: Figures;
  core: Figures;
  gateway: Figures;
}

/** Issue 5's target: a poll's p99 at 8 connections on 100,000 Tasks. */
const POLL_P99_MS = 10;
const POLL_TARGET_TASKS = 100_000;

/** Issue 10's target: the report over 100,000 referrals, on each store. */
const REPORT_TARGET_MS = 2000;
const STORE_NAME: Record<ReportStore, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

export interface Target {
  issue: 2 | 3 | 4 | 5 | 7 | 10;
  name: string;
  measured: string;
  /** The same figure for the gateway, where the target is the core's: context, not judged. */
  gateway?: string;
  pass: boolean;
}

export const n0 = (x: number) => Math.round(x).toLocaleString('en-GB');
const ms = (x: number) => x.toFixed(2);
const ratio = (x: number) => `${x.toFixed(2)}×`;
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
/** A difference with its sign: +1.20, −0.67. */
const signed = (x: number, format: (v: number) => string) => `${x < 0 ? '−' : '+'}${format(Math.abs(x))}`;

/** The faster baseline: the one a busy moment slowed least, so ratios err low. */
export function baseline(run: Pick<Run, 'baselines'>): Figures {
  const [a, b] = run.baselines;
  return a.rps >= b.rps ? a : b;
}

export function row(run: Pick<Run, 'rows'>, server: Server, key: Key, sync: Sync = 'full'): Row {
  const r = run.rows.find((x) => x.server === server && x.key === key && x.sync === sync);
  if (!r) throw new Error(`no ${server} ${key} (${sync}) figures in this run`);
  return r;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;

/**
 * Share of the core's read throughput the gateway loses to tokens, access policy and audit: the median
 * over the alternating rounds of each round's drop (the lower middle one, for an even count).
 */
export function readDrop(run: Pick<Run, 'readRounds'>): number {
  return median(run.readRounds.map((r) => 1 - r.gateway.rps / r.core.rps));
}

const JSON_BLOCK_COUNT = (run: Pick<Run, 'jsonRounds'>) => run.jsonRounds[0]?.rounds.length ?? 0;

/** How much more a plain-JSON call costs than its FHIR interaction: the median over the rounds of each round's req/s ratio, less one. */
export function jsonCost(pair: Run['jsonRounds'][number]): number {
  return median(pair.rounds.map((r) => r.fhir.rps / r.json.rps - 1));
}

/** Of several rounds of one server's reads, the one with the median req/s: what the tables show. */
export function medianRound(rounds: Figures[]): Figures {
  const sorted = [...rounds].sort((a, b) => a.rps - b.rps);
  const m = sorted[Math.floor((sorted.length - 1) / 2)];
  if (!m) throw new Error('no read rounds in this run');
  return m;
}

export function targets(run: Pick<Run, 'rows' | 'baselines' | 'readRounds' | 'jsonRounds' | 'polling' | 'reports'>): Target[] {
  const base = baseline(run);
  const of = (server: Server) => ({
    read: row(run, server, 'read').figures, create: row(run, server, 'create').figures, search: row(run, server, 'search').figures,
  });
  const core = of('core');
  const gw = of('gateway');
  const share = (f: Figures) => `${pct(f.rps / base.rps)} (${n0(f.rps)} of ${n0(base.rps)})`;
  const drop = readDrop(run);
  return [
    { issue: 2, name: 'read by id ≥ 40% of bare express req/s', measured: share(core.read), gateway: share(gw.read), pass: core.read.rps / base.rps >= 0.4 },
    { issue: 2, name: 'single create ≥ 2,000/s (durable: fsync per commit)', measured: `${n0(core.create.rps)}/s`, gateway: `${n0(gw.create.rps)}/s`, pass: core.create.rps >= 2000 },
    { issue: 2, name: 'search page p99 < 20 ms', measured: `${ms(core.search.p99)} ms`, gateway: `${ms(gw.search.p99)} ms`, pass: core.search.p99 < 20 },
    { issue: 2, name: 'read p99 < 5 ms', measured: `${ms(core.read.p99)} ms`, gateway: `${ms(gw.read.p99)} ms`, pass: core.read.p99 < 5 },
    (() => {
      const intake = row(run, 'gateway', 'intake').figures;
      return {
        issue: 4, name: 'referral intake ≥ 1,000 referrals/s, p99 < 50 ms (gateway, durable)',
        measured: `${n0(intake.rps)}/s, p99 ${ms(intake.p99)} ms (${ratio(intake.rps / base.rps)} bare express)`,
        pass: intake.rps >= 1000 && intake.p99 < 50,
      };
    })(),
    ...run.polling.filter((p) => p.tasks === POLL_TARGET_TASKS).map((p) => ({
      issue: 5 as const, name: `Task poll (owner, status, _lastUpdated, page of 50) p99 < ${POLL_P99_MS} ms at 8 connections, ${n0(p.tasks)} Tasks (gateway)`,
      measured: `${ms(p.gateway.p99)} ms (${n0(p.gateway.rps)}/s)`, gateway: `core: ${ms(p.core.p99)} ms`, pass: p.gateway.p99 < POLL_P99_MS,
    })),
    ...reportTargets(run.reports),
    ...JSON_PAIRS.flatMap((p) => {
      const measured = run.jsonRounds.find((j) => j.fhir === p.fhir);
      if (!measured) return [];
      const cost = jsonCost(measured);
      const cpu = median(measured.rounds.map((r) => r.json.serverCpuUs / r.fhir.serverCpuUs));
      return [{
        issue: 7 as const, name: `plain-JSON API costs ≤ 15% over the same FHIR interaction: ${p.what}`,
        measured: `${pct(cost)} (median of ${measured.rounds.length} alternating rounds: ${measured.rounds.map((r) => `${n0(r.json.rps)}/${n0(r.fhir.rps)}`).join(', ')} req/s JSON/FHIR); server CPU per request ${ratio(cpu)} the FHIR interaction's (${measured.rounds.map((r) => `${n0(r.json.serverCpuUs)}/${n0(r.fhir.serverCpuUs)}`).join(', ')} µs)`,
        pass: cost <= 0.15,
      }];
    }),
    {
      issue: 3, name: 'auth + audit cost on reads: gateway read req/s < 30% below the core\'s',
      measured: `${pct(drop)} drop (median of ${run.readRounds.length} alternating rounds: ${run.readRounds.map((r) => `${n0(r.gateway.rps)}/${n0(r.core.rps)}`).join(', ')} req/s gateway/core); server CPU per read ${ratio(median(run.readRounds.map((r) => r.gateway.serverCpuUs / r.core.serverCpuUs)))} the core's (median of the rounds: ${run.readRounds.map((r) => `${n0(r.gateway.serverCpuUs)}/${n0(r.core.serverCpuUs)}`).join(', ')} µs)`, pass: drop < 0.3,
    },
  ];
}

/** Issue 10's target on each store: every timed report, the CSV included, under 2 s. */
function reportTargets(reports: readonly ReportRun[]): Target[] {
  return reports.map((r) => ({
    issue: 10, name: `social prescribing report over ${n0(r.seed.referrals)} referrals in under 2 s (${STORE_NAME[r.store]}, gateway, over HTTP)`,
    measured: `${n0(Math.max(...r.jsonMs))} ms at worst, ${n0(median(r.jsonMs))} ms median of ${r.jsonMs.length}; CSV ${n0(r.csvMs)} ms`,
    pass: Math.max(...r.jsonMs, r.csvMs) < REPORT_TARGET_MS,
  }));
}

/** A markdown table; cells may not hold a pipe, so any is escaped. */
function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

function figuresTable(run: Run): string {
  const b = baseline(run);
  const others = (f: Figures) => `${f.othersPct.toFixed(0)}%`;
  const [first, last] = run.baselines;
  const baseRow = (label: string, f: Figures) =>
    ['bare express', label, '–', n0(f.rps), ratio(f.rps / b.rps), '', ms(f.p50), ms(f.p99), n0(f.serverCpuUs), '', others(f)];
  // Scenario by scenario, core then gateway, in the order of the table's scenarios.
  const keys: Key[] = ['read', 'search', 'list', 'jsonList', 'create', 'transaction', 'intake', 'jsonIntake', 'act', 'jsonAct'];
  const rows = keys.flatMap((key) => run.rows.filter((r) => r.key === key)
    .sort((x, y) => (x.server === y.server ? (x.sync === 'full' ? -1 : 1) : x.server === 'core' ? -1 : 1)));
  return table(['server', 'scenario', 'durability', 'req/s', '× bare express', '× core', 'p50 ms', 'p99 ms', 'server CPU µs/request', 'Medplum 5, × bare express', 'others\' CPU'], [
    baseRow('GET /ping/:id, first', first),
    ...rows.map((r) => {
      const f = r.figures;
      const core = run.rows.find((x) => x.server === 'core' && x.key === r.key && x.sync === r.sync);
      const vsCore = r.server === 'gateway' && core ? ratio(f.rps / core.figures.rps) : '';
      return [
        SERVER_NAME[r.server], r.name, r.sync === 'full' ? 'full (default)' : 'normal', n0(f.rps), ratio(f.rps / b.rps), vsCore,
        ms(f.p50), ms(f.p99), n0(f.serverCpuUs), r.sync === 'full' ? MEDPLUM[r.key] : '', others(f),
      ];
    }),
    baseRow('GET /ping/:id, last', last),
  ]);
}

function postgresSection(run: Run): string {
  const pg = run.postgres;
  if (!pg) return 'Not measured in this run.\n';
  const compared = (server: Server, name: string, f: Figures, lite: Figures | undefined) => [
    SERVER_NAME[server], name, lite ? n0(lite.rps) : '', n0(f.rps), lite ? ratio(f.rps / lite.rps) : '',
    lite ? ms(lite.p99) : '', ms(f.p99), lite ? n0(lite.serverCpuUs) : '', n0(f.serverCpuUs),
  ];
  const litePoll = run.polling.find((p) => p.tasks === pg.poll.tasks);
  const rows = [
    ...pg.rows.map((p) => compared(p.server, p.name, p.figures, run.rows.find((r) => r.server === p.server && r.key === p.key && r.sync === 'full')?.figures)),
    ...(['core', 'gateway'] as const).map((server) => compared(server, `link-worker poll, ${n0(pg.poll.tasks)} Tasks alone`, pg.poll[server], litePoll?.[server])),
  ];
  const one = pg.rows.find((r) => r.server === 'gateway' && r.key === 'intake')?.figures;
  const two = pg.twoInstances;
  return [
    `The scenarios of the results above again, in the same run, on a store of the same ${n0(run.seed.resources)} resources seeded into PostgreSQL (PostgreSQL ${pg.version} on this machine, over TCP on 127.0.0.1, default settings: \`synchronous_commit\` on, so a commit returns once its WAL is flushed) in a schema of the run's own (${pg.seedSeconds.toFixed(0)} s); the poll on ${n0(pg.poll.tasks)} Tasks alone in another (${pg.poll.seedSeconds.toFixed(0)} s), at the polling concurrency. SQLite figures are the rows above (reads: the median round; the poll: the polling section's). The database's processes do the store's work here, so the others' CPU the bench records meanwhile is mostly PostgreSQL's: these runs are measured once, never retried for a busy machine.`,
    '',
    table(['server', 'scenario', 'SQLite req/s', 'PostgreSQL req/s', 'PostgreSQL ÷ SQLite', 'SQLite p99 ms', 'PostgreSQL p99 ms', 'SQLite server CPU µs/request', 'PostgreSQL server CPU µs/request (gateway process only)'], rows),
    '',
    `Referral intake over **two gateway instances** on the one PostgreSQL database, the ${run.settings.connections} connections shared between them (as behind a load balancer): **${n0(two.rps)}/s**, p99 ${ms(two.p99)} ms, against ${one ? `${n0(one.rps)}/s (p99 ${ms(one.p99)} ms) from one instance` : 'one instance (not measured)'}${one ? ` (${ratio(two.rps / one.rps)})` : ''}; server CPU ${n0(two.serverCpuUs)} µs per referral over both processes.`,
    '',
    'Why they differ. SQLite runs inside the gateway\'s process: a statement is a function call on pages the process has mapped, and a batch of transactions costs one fsync of the WAL, made off the event loop. PostgreSQL is another process: every statement is a round trip over a socket with its own parse of the protocol on both sides (named prepared statements spare the planning, not the trip), and every request pays several before its own: a batch (reads too, whose AuditEvent must commit before they are answered) is BEGIN, the lock on `store_head`, a savepoint and its release per transaction, the batch\'s audit insert, the head\'s update and COMMIT; a write then adds about ten of its own (the current version, the identifier check, the resource row, the version, the index rows, the grants), each an await on the event loop. The database\'s own work per statement is small; the trips and the driver\'s JavaScript are what the gateway\'s main thread pays, which is why server CPU per request grows on PostgreSQL although the database\'s CPU is not counted in it. A read, whose own work is one statement, therefore loses the largest share; the ratios otherwise cluster around a third. Searches run the plan SQLite runs: the most selective filter drives in index order and every other filter is probed per candidate, the page stopping at its 51st match; on PostgreSQL each probe is an EXISTS with `OFFSET 0`, which keeps the planner from turning it into a join it would reorder on estimates that take owner and grant to be independent (a service\'s Tasks are exactly those granted to it): without it, a poll page took 147 ms at 100,000 Tasks, with it 2 ms, and one prepared plan serves every owner.',
    '',
    'Why a second instance adds little here. Every batch, on every instance, first locks the one row of `store_head` (docs/ARCHITECTURE.md, "Several instances"): batches of all instances commit one at a time, so what two instances share is the database\'s single-file queue, not the work. They gain where the work is outside the store (HTTP, tokens, validation, JSON), and lose the batching one instance gets (two half-full batches instead of one). On this machine\'s 2 cores the two gateway processes, PostgreSQL and the load generator also share the CPUs: a deployment gives each instance cores of its own.',
  ].join('\n');
}

function deliverySection(run: Run): string {
  const d = run.delivery;
  if (!d) return 'Not measured in this run.\n';
  const t = d.throughput;
  const announced = medianRound(d.intakeRounds.map((r) => r.announced));
  const quiet = medianRound(d.intakeRounds.map((r) => r.quiet));
  const p50 = median(d.intakeRounds.map((r) => r.announced.p50 - r.quiet.p50));
  const p99 = median(d.intakeRounds.map((r) => r.announced.p99 - r.quiet.p99));
  const cost = median(d.intakeRounds.map((r) => 1 - r.announced.rps / r.quiet.rps));
  const cpu = median(d.intakeRounds.map((r) => r.announced.serverCpuUs - r.quiet.serverCpuUs));
  return [
    `**Delivery throughput.** ${n0(t.events)} outbox events (each a Task version owed to the practice's FHIR endpoint, each of its own referral, written into the seeded store before the gateway started) were delivered by one gateway to a local receiver (bench/receiver-server.ts, answering every PUT at once) in ${t.seconds.toFixed(1)} s: **${n0(t.eventsPerSecond)} events/s**, ${n0(t.serverCpuUs)} µs of gateway CPU per event. Each event is a lease (in a batch of up to 32), a read of the version, a \`PUT\` with fhir-kit-client and its settlement; a batch's events are sent concurrently, and each batch's lease and settlement are two durable transactions. Baseline in the same run: the same receiver taking the same kind of PUT from autocannon at 32 connections, with nothing behind it: ${n0(d.put.rps)}/s (p99 ${ms(d.put.p99)} ms). The gateway delivers at ${ratio(t.eventsPerSecond / d.put.rps)} of that.`,
    '',
    `**The outbox's added cost on intake**, on the same gateway in ${d.intakeRounds.length} alternating blocks (as issue 7's pairs): the referral of issue 4 from the practice with an endpoint, whose service also holds an active Subscription (each referral writes two outbox events in its transaction, which the worker then delivers while the load goes on), and from a practice with neither (no events). Medians over the block pairs of the differences (announced less quiet): p50 **${signed(p50, ms)} ms**, p99 ${signed(p99, ms)} ms, ${cost >= 0 ? `${pct(cost)} fewer` : `${pct(-cost)} more`} referrals/s, ${signed(cpu, n0)} µs server CPU per referral (the delivery of its two events included); differences this small are within the blocks' own spread (below). During the announcing blocks the receiver took ${n0(d.pushed)} pushes and ${n0(d.notified)} notifications.`,
    '',
    table(['scenario (median block)', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/request'], [
      [d.announcedName, n0(announced.rps), ms(announced.p50), ms(announced.p99), n0(announced.serverCpuUs)],
      [d.quietName, n0(quiet.rps), ms(quiet.p50), ms(quiet.p99), n0(quiet.serverCpuUs)],
    ]),
    '',
    `Blocks (announced/quiet req/s): ${d.intakeRounds.map((r) => `${n0(r.announced.rps)}/${n0(r.quiet.rps)}`).join(', ')}.`,
  ].join('\n');
}

/** A query plan as the database printed it. */
const planBlock = (store: 'sqlite' | 'postgres', plan: readonly string[]) =>
  ['```', store === 'sqlite' ? 'EXPLAIN QUERY PLAN' : 'EXPLAIN (ANALYZE, BUFFERS)', ...plan, '```', ''];

function reportSection(run: Run): string {
  if (run.reports.length === 0) return 'Not measured in this run.\n';
  const [first] = run.reports;
  const s = first!.seed;
  const rows = run.reports.map((r) => {
    const m = median(r.jsonMs);
    return [
      STORE_NAME[r.store], n0(m), n0(Math.max(...r.jsonMs)), n0(r.csvMs), n0(r.plans.queriesMedianMs), ratio(m / r.plans.queriesMedianMs),
      n0(r.serverCpuMs), `${(r.bytes / 1024).toFixed(0)} KiB`, `${r.othersPct.toFixed(0)}%`, `${r.seed.seconds.toFixed(0)} s`,
    ];
  });
  return [
    `A commissioner's \`GET /fhir/MeasureReport/$social-prescribing?period-start=${s.periodStart}&period-end=${s.periodEnd}\` over HTTP to the gateway as \`npm start\` runs it (its bearer token, the access policy, the audited interaction), on a store whose reports' read model holds **${n0(s.referrals)} referrals received that year from the ${COMMISSIONED_PRACTICES.length} practices it commissions for**, with ${n0(s.scores)} score rows (SWEMWBS, ONS4 and UCLA-3: a baseline for half of those under way, a baseline and follow-ups for three in four of those who finished), and ${n0(s.outOfScope)} referrals the report must leave out (received the year before, or from another board's practice). bench/report-seed.ts writes the rows straight into \`referral_fact\` and \`score_fact\` from a fixed-seed generator (strata, reasons, statuses and timings spread as referrals are): the projection that keeps them from resources is tested on its own (test/api/report-facts.test.ts), and writing 100,000 referrals' resources through the gateway would take most of an hour. One request to warm up (checked: it counts every referral in scope), then ${first!.jsonMs.length} timed one after another, from sending to the last byte; then the CSV (\`Accept: text/csv\`) once. Each store in a database of its own, seeded in the time the last column gives.`,
    '',
    `Baseline: the report's query alone (\`cohortQuery\` of sql-report-facts.ts, the function the store builds it with: the referrals in scope, each score's change pivoted into its row), on the same database through the store's own driver, every row fetched into JavaScript (bench/report-plan.ts, median of ${first!.plans.runs} after one to warm up): no report computed from this read model can take less. What the gateway adds beyond it is its own: the figures and their disclosure control (reports/social-prescribing.ts), rendering the MeasureReport, and the audited interaction around it.`,
    '',
    table(['store', 'report, median ms', 'report, slowest ms', 'CSV ms', 'the query alone, median ms', 'report ÷ queries', 'gateway CPU ms per report', 'MeasureReport', 'others\' CPU', 'seeded in'], rows),
    '',
    table(['target', 'measured', 'result'], reportTargets(run.reports).map((t) => [t.name, t.measured, t.pass ? 'pass' : '**FAIL**'])),
    '',
    'The plans. SQLite pivots the scores with a follow-up in score_fact\'s primary key order (referral, code; SQLite names it `sqlite_autoindex_score_fact_1`), then reads the referrals through the index `referral_fact_practice` (practice, received), a range of it per practice, each joined to its scores\' changes by an automatic index. PostgreSQL plans by its statistics (the seed ends with `VACUUM ANALYZE`, as autovacuum would leave them): for a report whose scope is most of the table it may rightly read the tables whole and hash-join them; the same query for a narrow report (the first practice\'s first 31 days, planned but not timed, after the timed plans) shows whether it then takes the indexes.',
    '',
    ...run.reports.flatMap((r) => r.plans.plans.flatMap((p) => [
      `### ${STORE_NAME[r.store]}: ${p.query}, ${n0(p.rows)} rows, ${ms(p.medianMs)} ms median, ${ms(p.maxMs)} ms at worst`,
      '',
      '```sql',
      p.sql,
      '```',
      '',
      ...planBlock(r.store, p.plan),
    ])),
    ...run.reports.flatMap((r) => r.plans.narrowPlans.flatMap((p) => [
      `### ${STORE_NAME[r.store]}: ${p.query}, a narrow report`,
      '',
      ...planBlock(r.store, p.plan),
    ])),
    `Where the time goes: a gateway under \`node --cpu-prof\` on each store, answering the same ${first!.jsonMs.length + 1} reports after its start-up (the timed runs above are without the profiler).`,
    '',
    ...run.reports.flatMap((r) => [profileSection({ server: 'gateway', name: `social prescribing report, ${STORE_NAME[r.store]}`, summary: r.profile }), '']),
  ].join('\n');
}

function durability(run: Run): string {
  const full = row(run, 'core', 'create', 'full').figures;
  const normal = row(run, 'core', 'create', 'normal').figures;
  const cost = 1 - full.rps / normal.rps;
  return [
    'With the default, `SIGNPOST_SQLITE_SYNC=full`, a write is acknowledged only once the write-ahead log holding it has been fsynced, so it survives power loss; group commit shares each fsync among all the transactions committed meanwhile. `normal` acknowledges at commit without the fsync: a crash of the process loses nothing, a power cut can lose the last commits.',
    '',
    `Single creates on the core: **${n0(full.rps)}/s with full** against ${n0(normal.rps)}/s with normal: ${cost >= 0 ? `durability costs ${pct(cost)} of create throughput here` : 'no measurable cost in this run (the difference is noise)'} (p99 ${ms(full.p99)} ms against ${ms(normal.p99)} ms). This disk fsyncs in ${ms(run.machine.fsyncMs)} ms; on one that takes longer the cost grows, though group commit keeps it per batch rather than per request. Every other figure in this report is with full.`,
  ].join('\n');
}

function queryPlanSection(run: Run): string {
  const q = run.queryPlans;
  return [
    `The SQL the store runs for \`${q.query}\`, compiled as \`SqlStoreTx.search\` compiles it (\`parseSearch\`, then \`searchPageQuery\` on \`queryBuilder('sqlite')\`), against the seeded database before any scenario wrote to it. The gateway's \`CallerTx\` adds the access policy's filter (the Tasks granted to the link worker's organisation); the core runs the query as parsed. The timing is of the statement alone, prepared once, run ${q.plans[0]?.runs ?? 0} times over the ${run.seed.owners} owners in turn: what SQLite costs before any HTTP, JSON or audit work.`,
    '',
    ...q.plans.flatMap((p) => [
      `### ${SERVER_NAME[p.server]}: ${p.rows} rows (a page of 50 and one more, which tells whether a next page exists), ${ms(p.medianMs)} ms median, ${ms(p.maxMs)} ms at worst`,
      '',
      '```sql',
      p.sql,
      `-- parameters: ${JSON.stringify(p.parameters)}`,
      '```',
      '',
      '```',
      'EXPLAIN QUERY PLAN',
      ...p.plan,
      '```',
      '',
    ]),
  ].join('\n');
}

function pollingSection(run: Run): string {
  if (run.polling.length === 0) return 'Not measured in this run.\n';
  const smallest = run.polling[0]!;
  const rows = run.polling.flatMap((p) => (['core', 'gateway'] as const).map((server) => {
    const f = p[server];
    const sql = p.plans.plans.find((x) => x.server === server);
    return [
      n0(p.tasks), SERVER_NAME[server], n0(f.rps), ms(f.p50), ms(f.p99), sql ? `${ms(sql.medianMs)} / ${ms(sql.maxMs)}` : '', n0(f.serverCpuUs),
      `${n0(p.baseline.rps)} req/s, ${n0(p.baseline.serverCpuUs)} µs/req`, ratio(f.serverCpuUs / p.baseline.serverCpuUs), `${p.seedSeconds.toFixed(0)} s`,
    ];
  }));
  // Growth in raw figures, and in CPU per request as a multiple of bare express's at the same moment,
  // which a machine that slowed down between the two sizes does not inflate.
  const relative = (p: PollRun, server: 'core' | 'gateway') => p[server].serverCpuUs / p.baseline.serverCpuUs;
  const growth = run.polling.slice(1).map((p) => `${n0(p.tasks)} Tasks: p99 ${ratio(p.gateway.p99 / smallest.gateway.p99)} the ${n0(smallest.tasks)}-Task figure on the gateway, ${ratio(p.core.p99 / smallest.core.p99)} on the core, while bare express measured just before served ${ratio(p.baseline.rps / smallest.baseline.rps)} the requests/s; server CPU per poll as a multiple of bare express's at the same moment ${ratio(relative(p, 'gateway') / relative(smallest, 'gateway'))} on the gateway, ${ratio(relative(p, 'core') / relative(smallest, 'core'))} on the core; the SQL alone ${ratio((p.plans.plans[1]?.medianMs ?? NaN) / (smallest.plans.plans[1]?.medianMs ?? NaN))} (median)`);
  const t = targets(run).filter((x) => x.issue === 5);
  return [
    `A link-worker platform's poll, \`${smallest.plans.query}\`, by the service's link worker (gateway) or as the core's fixed caller, for a random service and a random T in the first 80% of the seeded writes (so every page is full and comes from anywhere in the store's history), at **8 concurrent connections**, ${run.settings.warmupSeconds} s warm-up and ${run.settings.seconds} s measured. Each store holds Tasks alone (seed.ts \`tasks\`: spread over the ${run.seed.owners} services, 40% \`requested\`, each about a Patient that is not stored), seeded in a data directory of its own through SqliteStore with their grants.`,
    '',
    table(['Tasks stored', 'server', 'req/s', 'p50 ms', 'p99 ms', 'SQL alone ms, median / worst', 'server CPU µs/request', 'bare express just before', 'CPU per request, × bare express', 'seeded in'], rows),
    '',
    ...(growth.length ? [`How p99 grows: ${growth.join('; ')}.`, ''] : []),
    table(['target', 'measured', 'result', 'for comparison'], t.map((x) => [x.name, x.measured, x.pass ? 'pass' : '**FAIL**', x.gateway ?? ''])),
    '',
    'The poll is driven by the owner\'s reference rows in order of last change (index `sp_reference_recent`, migration 4): a reference row is written with each version, so its `valid_from` is that version\'s lastUpdated, and the index yields an owner\'s Tasks from T on in the order the page needs; the page stops after its first 51 matches whatever the store holds. The plans (gateway: with the access policy\'s grant filter):',
    '',
    ...run.polling.flatMap((p) => {
      const g = p.plans.plans.find((x) => x.server === 'gateway') ?? p.plans.plans[0]!;
      return [`${n0(p.tasks)} Tasks, ${SERVER_NAME[g.server]}: ${g.rows} rows, ${ms(g.medianMs)} ms median, ${ms(g.maxMs)} ms worst of ${g.runs}`, '', '```sql', g.sql, '```', '', '```', 'EXPLAIN QUERY PLAN', ...g.plan, '```', ''];
    }),
  ].join('\n');
}

function profileSection(p: Run['profiles'][number]): string {
  const list = (items: { name: string; pct: number }[]) => items.map((i) => `${i.pct.toFixed(1)}% \`${i.name}\``).join('<br>');
  return [
    `### ${SERVER_NAME[p.server]}: ${p.name}`,
    `The ${p.server === 'core' ? 'core server' : 'gateway'} process over ${p.summary.seconds.toFixed(1)} s (start-up, warm-up and load), idle ${p.summary.idlePct.toFixed(0)}% of the time; percentages are of the time it was busy. Inclusive time of a middleware includes what runs inside its \`next()\`.`,
    '',
    table(['by owner of the code (self time)', 'by function (self time)', 'Signpost functions (inclusive)'], [[
      list(p.summary.areas), list(p.summary.functions), list(p.summary.signpost),
    ]]),
  ].join('\n');
}

export function renderReport(run: Run): string {
  const m = run.machine;
  const s = run.settings;
  const ts = targets(run);
  const verdict = (t: Target) => (t.pass ? 'pass' : '**FAIL**');
  return `# Performance

Generated by \`npm run bench\` (bench/run.ts) on ${m.date} in ${(run.seconds / 60).toFixed(1)} minutes; rerun it rather than editing this file.

Two servers over the same seeded store, from the same build: the **core** (the FHIR R4 interactions alone, as the FHIR-mechanics tests run them: no token, no access policy, no audit) and the **gateway** (everything \`npm start\` runs: bearer tokens, the access policy on every read and query, a hash-chained audit record in the transaction of every request and the Provenance of every write). Issue 2's targets are the core's; issue 3's is what the gateway adds on reads.

## Results

${figuresTable(run)}

Ratios are of req/s: "× bare express" to the faster of the two baseline runs, "× core" of the gateway to the core on the same scenario. For scale: Medplum 5 (PostgreSQL + Redis), a widely used open-source FHIR server, measured on this same kind of machine, reached 0.13× the bare express req/s on reads, 0.033× on creates, 0.033× on a search page and 0.008× on a 3-entry transaction.

## Targets (at concurrency ${s.connections}, ${n0(run.seed.resources)} resources stored)

Issue 2, on the core:

${table(['target', 'core', 'result', 'gateway, for comparison'], ts.filter((t) => t.issue === 2).map((t) => [t.name, t.measured, verdict(t), t.gateway ?? '']))}

For the latency targets, the floor on this machine in this run: the bare express endpoint itself, with no store behind it, answered with a p99 of ${ms(run.baselines[0].p99)} ms (first) and ${ms(run.baselines[1].p99)} ms (last) at the same concurrency.

Issue 3, the gateway against the core:

${table(['target', 'measured', 'result'], ts.filter((t) => t.issue === 3).map((t) => [t.name, t.measured, verdict(t)]))}

Issue 4, referral intake on the gateway (a transaction of Patient, Consent and ServiceRequest; the gateway also writes the Task, the Provenance of the four and the AuditEvent, durably):

${table(['target', 'measured', 'result'], ts.filter((t) => t.issue === 4).map((t) => [t.name, t.measured, verdict(t)]))}

Issue 7, the plain-JSON API against the FHIR interaction it translates into, each pair on one gateway in ${JSON_BLOCK_COUNT(run)} alternating blocks of a few seconds (FHIR, JSON, FHIR, …, after warming up both; a pair of blocks shares its moment, which separate runs a minute apart do not on this machine), all durable: the referral of the intake above sent as JSON to \`POST /api/v1/referrals\`; a service's link worker polling its requested referrals changed since a random T in the first half of the seeded writes, as \`GET /fhir/Task?owner=…&status=requested&_lastUpdated=geT&_sort=_lastUpdated&_count=50&_include=Task:focus&_include=Task:patient\` and as \`GET /api/v1/referrals?status=requested&after=<cursor at T>\` (which also names the practice and the service); and the link worker putting one of the seeded in-progress referrals on hold (with a reason) or resuming it, at the version it last left it, as \`PUT /fhir/Task/<id>\` with \`If-Match\` and as \`POST /api/v1/referrals/<id>/hold\` or \`/resume\` with \`If-Match\` and a new \`Idempotency-Key\` (which the gateway keeps for a day). Cost: the median over the block pairs of how many more requests/s the FHIR interaction served; the results table shows each side's median block.

${table(['target', 'measured', 'result'], ts.filter((t) => t.issue === 7).map((t) => [t.name, t.measured, verdict(t)]))}

Issue 5, the link-worker poll:

${table(['target', 'measured', 'result', 'for comparison'], ts.filter((t) => t.issue === 5).map((t) => [t.name, t.measured, verdict(t), t.gateway ?? '']))}

## PostgreSQL and several instances (issue 8)

${postgresSection(run)}

## Delivery: pushes, notifications and the outbox (issue 9)

${deliverySection(run)}

## The social prescribing report (issue 10)

${reportSection(run)}
## Durability and its cost

${durability(run)}

## Machine

${table(['', ''], [
    ['CPU', `${m.cpu}, ${m.cores} cores`], ['RAM', `${m.ramGiB} GiB`], ['Node', m.node], ['OS', m.os],
    ['data directory', `${m.disk}; a 4 KiB append + fsync takes ${m.fsyncMs.toFixed(2)} ms (median)`], ['Signpost', `commit ${m.commit}`],
  ])}

## Method

- Load: autocannon 8, driven from the bench process; every server under test runs in a process of its own. **${s.connections} concurrent connections**, no pipelining, ${s.warmupSeconds} s of warm-up (discarded) then ${s.seconds} s measured per scenario. Latencies are per request, over successful responses, measured by the client with sub-millisecond precision.
- A run fails if any response has another status than the scenario expects, or any connection errors or times out: errors are never counted as throughput. Before each scenario one probe request checks the answer (a search must return a full page).
- Reads of the two servers are measured in ${run.readRounds.length} alternating rounds (core, gateway, core, …), each on a freshly started server: this machine's speed drifts by more than the gateway's overhead within minutes, and each round's pair shares its drift. The tables show each server's median round; issue 3's figure is the median of the rounds' drops. Server CPU per request (all threads of the server process, user and kernel, from /proc) is in the last column of the results: it moves less with the machine's speed than req/s does.
- Baseline: a bare express 5 app (no middleware, no store) answering \`GET /ping/:id\` with a two-field JSON, same client settings, measured first and last; ratios are to the faster of the two.
- The machine is shared (other engineers' test runs): each scenario waits (up to ${s.quietSeconds} s) for a quiet second before its measured run, and the last column gives how much of one core other processes used meanwhile (kernel work for our own fsyncs included). A scenario during which others used more than ${s.retryAbovePct ?? 0}% of a core is measured once more and the less disturbed run kept; figures with a high share there are still low.
- Build: at the start of the run, one \`tsc\` compiles \`src/\` together with the bench's core server, seed and query-plan script (bench/tsconfig.build.json) into a directory of the run's own, so both servers run the very same compiled \`src/\` whatever happens to \`dist/\` meanwhile. Each scenario gets a freshly started server process, \`LOG_LEVEL=warn\` (no per-request log lines), on the seeded \`SIGNPOST_DATA_DIR\`, with \`SIGNPOST_SQLITE_SYNC=full\` unless the durability column says otherwise.
- **Core**: bench/core-server.ts, which opens the store as the gateway does (\`SqliteStore\` on \`signpost.sqlite\` in the data directory) and serves \`createApp(coreAppOptions(store))\`, imported from test/fixtures/gateway.ts: the same express app, FHIR routes, validation, interactions and store as the gateway, but every request runs as one fixed caller straight in a store transaction: no bearer token is checked, no access policy narrows reads or searches, no AuditEvent or Provenance is written, and no Organizations are materialised from a deployment config.
- **Gateway**: the compiled \`main.js\`, as \`npm start\` runs it, with the bench's own deployment config: practice ${PRACTICE} with a referrer client (and a second practice, ${QUIET_PRACTICE}, used only by issue 9's pair), and ${run.seed.owners} social prescribing services, each with a link-worker client. The two scheduled jobs that change Tasks (SLA escalation, consent expiry) are scheduled once a year in that config: the seeded Tasks were authored in 2025, and escalating them would be a migration's work, not a request's. Every request carries a bearer token from \`POST /oauth2/token\` (fetched before the measured load) and passes the access policy; the gateway appends a hash-chained audit record for each one in the same transaction, and writes the Provenance of what each request wrote (one per request, activity and audience).
- Store: seeded with **${n0(run.seed.resources)} resources** (${n0(run.seed.patients)} Patients with NHS numbers, ${n0(run.seed.tasks)} Tasks, ${run.seed.owners + 2} Organizations; each Task is owned by one of the services and has a status, 40% \`requested\`), written through SqliteStore in 50-write transactions with the access grants the practice's client would have given them (${run.seed.seconds.toFixed(0)} s). Reads and searches of both servers run on exactly that (core and gateway in turn, scenario by scenario); creates and transactions add to it.
- Scenarios (the same requests to both servers, but for the bearer token): read = the practice's \`GET /fhir/Patient/<random seeded id>\`; create = the practice's \`POST /fhir/Patient\` (a new NHS number each, which the unique index checks); search = \`GET /fhir/Task?owner=Organization/<service>&status=requested&_count=50\` by that service's link worker, for a random service (a full page of 50, with a next link); transaction = the practice's \`POST /fhir\` Bundle of 5 Patients and 5 Consents that refer to them by \`urn:uuid\` (10 POST entries).

## Task polling (issue 5)

${pollingSection(run)}
## Query plan of the Task search

${queryPlanSection(run)}
## Where the time goes

A second, shorter pass of each scenario on each server (${run.profileSeconds} s of load, full durability) under \`node --cpu-prof\`; the figures above are without the profiler. File names are of the compiled build: \`dist/\` is \`src/\` as \`npm run build\` lays it out (its source maps lead back to \`src/\`), \`bench/\` and \`test/\` the core server and its fixture.

${run.profiles.map(profileSection).join('\n\n')}
`;
}
