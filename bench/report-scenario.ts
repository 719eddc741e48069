import fs from 'node:fs';
import path from 'node:path';
import { londonMidnight } from '../src/workflow/working-days.js';
import { freshSchema } from '../test/fixtures/postgres.js';
import { COMMISSIONED_PRACTICES, COMMISSIONER_CLIENT, Tokens, writeReportDeployment } from './clients.js';
import { othersCpu, processCpu, waitForQuiet } from './cpu.js';
import { runCompiled, startGatewayProcess, type Build, type ChildServer } from './processes.js';
import { profileIn, summarise, type ProfileSummary } from './profile.js';
import type { ReportPlans } from './report-plan.js';
import { n0 } from './report.js';
import type { ReportSeed } from './report-seed.js';

/**
 * Issue 10: the social prescribing report over 100,000 referrals, on one store. report-seed.ts fills a
 * new store's read model; report-plan.ts plans the report's query and times it alone (the
 * baseline); then the gateway, started as `npm start` runs it, answers the commissioner's
 * `GET /fhir/MeasureReport/$social-prescribing` for the seeded year over HTTP: one request to warm up
 * (checked: the report counts every referral seeded in its scope), RUNS more timed one after another,
 * and the CSV once; then the same requests again to a gateway under `node --cpu-prof`, for where the
 * time goes (the timed runs are without the profiler).
 */

export type ReportStore = 'sqlite' | 'postgres';

export interface ReportRun {
  store: ReportStore;
  seed: ReportSeed;
  plans: ReportPlans;
  /** Milliseconds from sending each timed request to the answer's last byte. */
  jsonMs: number[];
  csvMs: number;
  /** Milliseconds of CPU the gateway process used per timed report (all its threads). */
  serverCpuMs: number;
  /** Percent of one core other processes used during the timed reports. */
  othersPct: number;
  /** The MeasureReport's size, bytes. */
  bytes: number;
  /** The profiled gateway's CPU: start-up, then the same reports as the timed runs. */
  profile: ProfileSummary;
}

const RUNS = 5;

async function timed(url: string, headers: Record<string, string>): Promise<{ ms: number; status: number; body: string }> {
  const t0 = performance.now();
  const res = await fetch(url, { headers });
  const body = await res.text();
  return { ms: performance.now() - t0, status: res.status, body };
}

/** The count of the report's group `received`: every referral in its scope (a count over 7 is never masked). */
function received(body: string): number | undefined {
  const report = JSON.parse(body) as fhir4.MeasureReport;
  return report.group?.find((g) => g.code?.coding?.[0]?.code === 'received')?.population?.[0]?.count;
}

const nextDay = (date: string) => new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

export async function measureReport(work: string, b: Build, store: ReportStore, referrals: number): Promise<ReportRun> {
  const schema = store === 'postgres' ? await freshSchema() : undefined;
  let gateway: ChildServer | undefined;
  try {
    const dataDir = path.join(work, `report-${store}`);
    fs.mkdirSync(dataDir);
    const seed = JSON.parse(await runCompiled(b.reportSeed, [dataDir, String(referrals)], schema?.url)) as ReportSeed;
    console.log(`seeded ${n0(referrals)} referrals' read model (${n0(seed.scores)} scores, ${n0(seed.outOfScope)} referrals out of scope) into ${store} in ${seed.seconds.toFixed(1)} s`);
    // The scope the report operation derives from the period: London days, both inclusive.
    const from = londonMidnight(seed.periodStart) * 1000;
    const to = londonMidnight(nextDay(seed.periodEnd)) * 1000;
    const plans = JSON.parse(await runCompiled(b.reportPlan, [dataDir, String(from), String(to), ...COMMISSIONED_PRACTICES], schema?.url)) as ReportPlans;
    const configFile = path.join(work, `config-report-${store}.json`);
    const tokens = new Tokens(writeReportDeployment(configFile));
    const start = async (cpuProfDir?: string) => {
      gateway = await startGatewayProcess({
        main: b.gatewayMain, dataDir, sync: 'full', configFile, ...(schema ? { databaseUrl: schema.url } : {}), ...(cpuProfDir ? { cpuProfDir } : {}),
      });
      await tokens.refresh(gateway.url);
      const url = `${gateway.url}/fhir/MeasureReport/$social-prescribing?period-start=${seed.periodStart}&period-end=${seed.periodEnd}`;
      return { server: gateway, url, headers: { ...tokens.headers(COMMISSIONER_CLIENT), accept: 'application/fhir+json' } };
    };
    const { server, url, headers } = await start();
    const first = await timed(url, headers);
    if (first.status !== 200) throw new Error(`the report answered ${first.status}: ${first.body.slice(0, 600)}`);
    if (received(first.body) !== referrals) throw new Error(`the report counted ${received(first.body)} referrals received, not the ${referrals} seeded in its scope`);
    await waitForQuiet([process.pid, server.pid], 30);
    const cpu = processCpu(server.pid);
    const others = othersCpu([process.pid, server.pid]);
    const jsonMs: number[] = [];
    for (let i = 0; i < RUNS; i++) jsonMs.push((await timed(url, headers)).ms);
    const serverCpuMs = cpu() / RUNS;
    const othersPct = others();
    const csv = await timed(url, { ...headers, accept: 'text/csv' });
    if (csv.status !== 200 || !csv.body.includes(',')) throw new Error(`the report as CSV answered ${csv.status}: ${csv.body.slice(0, 600)}`);
    await server.stop();
    gateway = undefined;

    const profileDir = fs.mkdtempSync(path.join(work, 'profile-report-'));
    const profiled = await start(profileDir);
    for (let i = 0; i <= RUNS; i++) await timed(profiled.url, profiled.headers);
    await profiled.server.stop();
    gateway = undefined;
    const profile = summarise(profileIn(profileDir), b.root, 15);
    return { store, seed, plans, jsonMs, csvMs: csv.ms, serverCpuMs, othersPct, bytes: Buffer.byteLength(first.body), profile };
  } catch (e) {
    throw new Error(`${(e as Error).message}\ngateway output:\n${gateway?.output() || '(none)'}`, { cause: e });
  } finally {
    await gateway?.stop().catch(() => undefined);
    await schema?.drop();
  }
}
