import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Servers under test run as child processes, so the load generator never shares their event loop. */

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';
/** Characters of a server's output kept for error messages. */
const OUTPUT_KEPT = 4000;

export interface ChildServer {
  url: string;
  pid: number;
  /** The end of what the server wrote (warnings and errors only, at LOG_LEVEL=warn): shown when a run fails. */
  output(): string;
  /** SIGTERM, then wait for the exit (a --cpu-prof profile is written on exit). */
  stop(): Promise<void>;
}

/** A port nobody listens on now. The gateway logs its URL only at info level, which we keep off under load. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, HOST, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

async function startChild(name: string, args: string[], env: NodeJS.ProcessEnv, readyPath: string, port: number): Promise<ChildServer> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer) => { output = (output + d.toString()).slice(-OUTPUT_KEPT); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = `http://${HOST}:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before it was ready:\n${output}`);
    const ok = await fetch(url + readyPath).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} was not ready within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid!,
    output: () => output,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited(child);
      clearTimeout(timer);
      if (code !== 0) throw new Error(`${name} did not shut down cleanly (exit ${code}):\n${output}`);
    },
  };
}

/** What one run measures: everything compiled once, from src/ as it was when the run began. */
export interface Build {
  /** The gateway's main.js, as `npm start` runs it. */
  gatewayMain: string;
  /** bench/core-server.ts, compiled: the FHIR core alone over the same compiled src/. */
  coreMain: string;
  /** bench/query-plan.ts and bench/seed.ts, compiled. */
  queryPlan: string;
  seed: string;
  /** bench/outbox-fill.ts and bench/receiver-server.ts, compiled (issue 9). */
  outboxFill: string;
  receiver: string;
  /** bench/report-seed.ts and bench/report-plan.ts, compiled (issue 10). */
  reportSeed: string;
  reportPlan: string;
  /** Where the compiled src/ is: dist/ of `npm run build`, for this run. */
  distDir: string;
  /** The root of the compilation (src/, bench/ and test/ beneath it). */
  root: string;
  remove(): void;
}

/**
 * Compiles the gateway, the core server, the seed and the query-plan script in one tsc run (bench/tsconfig.build.json)
 * into a directory of this run's own: other engineers rebuild dist/ while they work, and a run must
 * measure one build throughout, the same one for both servers. The directory lies under node_modules
 * so that the compiled code finds its packages, with package.json and profiles/ copied beside src/
 * (the gateway reads its version and the referral ValueSets there).
 */
export function build(): Build {
  const cache = path.join(ROOT, 'node_modules', '.cache');
  fs.mkdirSync(cache, { recursive: true });
  const dir = fs.mkdtempSync(path.join(cache, 'signpost-bench-'));
  const out = path.join(dir, 'build');
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(ROOT, 'bench', 'tsconfig.build.json'), '--outDir', out], { cwd: ROOT, stdio: 'inherit' });
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error('the build failed (tsc output above)', { cause: e });
  }
  // Beside src/ as in the repository: the gateway reads its version and the referral ValueSets there.
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(out, 'package.json'));
  fs.cpSync(path.join(ROOT, 'profiles'), path.join(out, 'profiles'), { recursive: true });
  return {
    gatewayMain: path.join(out, 'src', 'main.js'),
    coreMain: path.join(out, 'bench', 'core-server.js'),
    queryPlan: path.join(out, 'bench', 'query-plan.js'),
    seed: path.join(out, 'bench', 'seed.js'),
    outboxFill: path.join(out, 'bench', 'outbox-fill.js'),
    receiver: path.join(out, 'bench', 'receiver-server.js'),
    reportSeed: path.join(out, 'bench', 'report-seed.js'),
    reportPlan: path.join(out, 'bench', 'report-plan.js'),
    distDir: path.join(out, 'src'),
    root: out,
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export type Sync = 'full' | 'normal';

export interface ServerOptions {
  /** The compiled script to run (see build). */
  main: string;
  dataDir: string;
  sync: Sync;
  /** Write a V8 CPU profile of the whole run into this directory. */
  cpuProfDir?: string;
  /** The PostgreSQL store to serve, instead of the data directory's SQLite file. */
  databaseUrl?: string;
  /** SIGNPOST_BASE_URL: instances of one deployment share their public origin (and so their tokens' issuer). */
  baseUrl?: string;
}

/** The environment both servers read, as DESIGN.md defines it: no per-request log lines, a port of our choosing. */
function serverEnv(port: number, o: ServerOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env, PORT: String(port), HOST, SIGNPOST_DATA_DIR: o.dataDir, LOG_LEVEL: 'warn', SIGNPOST_SQLITE_SYNC: o.sync,
  };
  // Settings of the developer's shell must not leak into the measured deployment.
  for (const k of ['DATABASE_URL', 'SIGNPOST_BASE_URL', 'SIGNPOST_CONFIG']) delete env[k];
  if (o.databaseUrl) env.DATABASE_URL = o.databaseUrl;
  if (o.baseUrl) env.SIGNPOST_BASE_URL = o.baseUrl;
  return env;
}

const profiling = (o: ServerOptions) => (o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : []);

/** The real gateway, exactly as `npm start` runs it (compiled main.js), with the bench's deployment config. */
export async function startGatewayProcess(o: ServerOptions & { configFile: string }): Promise<ChildServer> {
  const port = await freePort();
  return startChild('the gateway', [...profiling(o), o.main], { ...serverEnv(port, o), SIGNPOST_CONFIG: o.configFile }, '/healthz', port);
}

/** The FHIR core alone (bench/core-server.ts, compiled), on the same data directory. */
export async function startCoreProcess(o: ServerOptions): Promise<ChildServer> {
  const port = await freePort();
  return startChild('the core server', [...profiling(o), o.main], serverEnv(port, o), '/healthz', port);
}

/** Runs a compiled script to completion and returns what it printed on stdout; `databaseUrl` becomes its DATABASE_URL. */
export async function runCompiled(script: string, args: string[], databaseUrl?: string): Promise<string> {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  return collect(spawn(process.execPath, [script, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] }), script);
}

async function collect(child: ChildProcess, name: string): Promise<string> {
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await exited(child);
  if (code !== 0) throw new Error(`${name} failed (exit ${code})`);
  return out;
}

/** The bare express 5 server of the baseline. */
export async function startBaselineProcess(): Promise<ChildServer> {
  const port = await freePort();
  const script = path.join(ROOT, 'bench', 'baseline-server.ts');
  return startChild('the baseline server', ['--import', 'tsx', script], { ...process.env, PORT: String(port) }, '/ping/ready', port);
}

/** Issue 9's receiver: a GP system's FHIR endpoint that answers every PUT at once (bench/receiver-server.ts). */
export async function startReceiverProcess(b: Build): Promise<ChildServer> {
  const port = await freePort();
  return startChild('the receiver', [b.receiver], { ...process.env, PORT: String(port) }, '/count', port);
}
