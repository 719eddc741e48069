import http from 'node:http';
import autocannon from 'autocannon';
import { othersCpu, processCpu, waitForQuiet } from './cpu.js';

/** One kind of request, sent over and over by every connection. */
export interface Scenario {
  name: string;
  method: 'GET' | 'POST' | 'PUT';
  /** The status every response must have: anything else fails the run rather than counting as throughput. */
  expect: number;
  /** The next request; called once per request, so ids, NHS numbers and clients can vary. */
  next(): { path: string; body?: string; headers?: Record<string, string> };
  /** Extra checks on one response body before the run (e.g. that a search page is full); a message when wrong. */
  check?(body: unknown): string | undefined;
}

export interface Figures {
  requests: number;
  seconds: number;
  rps: number;
  /** Milliseconds, over successful responses. */
  p50: number;
  p99: number;
  /** Percent of one core that other processes used while this ran: high values mean the figures are low. */
  othersPct: number;
  /** Microseconds of CPU the server process used per request (all threads, user and kernel). */
  serverCpuUs: number;
}

export interface LoadSettings {
  connections: number;
  seconds: number;
  warmupSeconds: number;
  /** How long to wait at most for other processes to leave the cores alone before the measured run. */
  quietSeconds: number;
  /**
   * Percent of one core: a measured run during which other processes used more is run once more
   * (after another wait for quiet), and the run they disturbed less is kept. 0 or absent: never.
   */
  retryAbovePct?: number;
}

/** Seconds: a slow answer is a result to report (as latency), not an error; only a hung server times out. */
const RESPONSE_TIMEOUT = 120;

const HEADERS = { accept: 'application/fhir+json', 'content-type': 'application/fhir+json' };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** One request on a connection of its own: a kept-alive one may be closed by the server as we reuse it. */
function send(url: string, method: string, body: string | undefined, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => { text += d; }).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject).end(body);
  });
}

/** One request outside the load, so a misconfigured scenario fails with the server's own explanation. */
async function probe(url: string, s: Scenario): Promise<void> {
  const { path, body, headers } = s.next();
  const res = await send(url + path, s.method, body, { ...HEADERS, ...headers });
  let problem = res.status === s.expect ? undefined : `answered ${res.status}, expected ${s.expect}`;
  if (!problem && s.check) problem = s.check(JSON.parse(res.text));
  if (problem) throw new Error(`${s.name}: ${s.method} ${path} ${problem}:\n${res.text.slice(0, 600)}`);
}

async function run(url: string, s: Scenario, connections: number, seconds: number): Promise<Omit<Figures, 'othersPct' | 'serverCpuUs'> & { latencies: number[] }> {
  const latencies: number[] = [];
  const instance = autocannon({
    url, connections, pipelining: 1, duration: seconds, timeout: RESPONSE_TIMEOUT,
    requests: [{
      method: s.method,
      setupRequest: (req) => {
        const { path, body, headers } = s.next();
        return { ...req, path, ...(body !== undefined ? { body } : {}), headers: { ...HEADERS, ...headers } };
      },
    }],
  });
  // autocannon's own histogram keeps whole milliseconds; a 5 ms target needs finer figures.
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status === s.expect) latencies.push(ms);
  });
  const r = await instance;
  const wrong = Object.entries(r.statusCodeStats).filter(([code]) => Number(code) !== s.expect);
  if (r.errors || r.timeouts || wrong.length) {
    const codes = Object.entries(r.statusCodeStats).map(([code, { count }]) => `${code}×${count}`).join(', ');
    throw new Error(`${s.name}: ${r.errors} connection errors, ${r.timeouts} timeouts, statuses ${codes} (every response must be ${s.expect})`);
  }
  return summary(latencies, r.duration);
}

/** Throughput and latency percentiles of the responses of one run (or of runs side by side for `seconds`). */
function summary(latencies: number[], seconds: number): Omit<Figures, 'othersPct' | 'serverCpuUs'> & { latencies: number[] } {
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length, seconds, rps: latencies.length / seconds,
    p50: percentile(latencies, 50), p99: percentile(latencies, 99), latencies,
  };
}

/**
 * Probe, warm up (JIT, page cache), wait for a quiet machine, then measure at a fixed number of
 * concurrent connections (once more if other processes disturbed it; see retryAbovePct). `pids` are the
 * processes doing the work: this one and the server.
 */
export async function measure(url: string, s: Scenario, settings: LoadSettings, pids: number[]): Promise<Figures> {
  await probe(url, s);
  await run(url, s, settings.connections, settings.warmupSeconds);
  const measured = async (): Promise<Figures> => {
    // The run before (warm-up or a disturbed measurement) leaves requests the server has queued but not
    // answered; the store runs transactions in order, so a probe returns only once they are done.
    await probe(url, s);
    await waitForQuiet(pids, settings.quietSeconds);
    const others = othersCpu(pids);
    const server = processCpu(pids[pids.length - 1]!);
    const { latencies: _, ...figures } = await run(url, s, settings.connections, settings.seconds);
    return { ...figures, othersPct: others(), serverCpuUs: (server() * 1000) / Math.max(1, figures.requests) };
  };
  const first = await measured();
  const limit = settings.retryAbovePct ?? 0;
  if (limit <= 0 || first.othersPct <= limit) return first;
  console.log(`  (other processes used ${first.othersPct.toFixed(0)}% of a core meanwhile: measuring ${s.name} once more)`);
  const second = await measured();
  return second.othersPct < first.othersPct ? second : first;
}

/**
 * Two scenarios on one server in alternating short blocks (A, B, A, B, …), after warming up both: for
 * comparing two ways of doing one thing whose difference is smaller than this machine's drift from one
 * run to the next (seen: the same scenario at 339 and 458 req/s a minute apart). A block pair shares
 * its moment, its server process and its store. Returns each block pair's figures.
 */
export async function measureAlternating(
  url: string, [a, b]: [Scenario, Scenario], settings: LoadSettings, blocks: number, blockSeconds: number, pids: number[],
): Promise<{ a: Figures; b: Figures }[]> {
  for (const s of [a, b]) {
    await probe(url, s);
    await run(url, s, settings.connections, settings.warmupSeconds);
  }
  await probe(url, a);
  await waitForQuiet(pids, settings.quietSeconds);
  const block = async (s: Scenario): Promise<Figures> => {
    await probe(url, s); // also waits for what the previous block left queued
    const others = othersCpu(pids);
    const server = processCpu(pids[pids.length - 1]!);
    const { latencies: _, ...figures } = await run(url, s, settings.connections, blockSeconds);
    return { ...figures, othersPct: others(), serverCpuUs: (server() * 1000) / Math.max(1, figures.requests) };
  };
  const pairs: { a: Figures; b: Figures }[] = [];
  for (let i = 0; i < blocks; i++) pairs.push({ a: await block(a), b: await block(b) });
  return pairs;
}

/**
 * One scenario against several servers at once (instances of one deployment behind a load balancer):
 * the connections are shared out among them, and the figures are of all their responses together;
 * server CPU is summed over the servers. `pids`: this process, then the servers, in the order of `urls`.
 */
export async function measureSpread(urls: string[], s: Scenario, settings: LoadSettings, pids: number[]): Promise<Figures> {
  const each = Math.max(1, Math.floor(settings.connections / urls.length));
  for (const url of urls) await probe(url, s);
  await Promise.all(urls.map((url) => run(url, s, each, settings.warmupSeconds)));
  for (const url of urls) await probe(url, s);
  await waitForQuiet(pids, settings.quietSeconds);
  const others = othersCpu(pids);
  const servers = pids.slice(1).map(processCpu);
  const runs = await Promise.all(urls.map((url) => run(url, s, each, settings.seconds)));
  const { latencies: _, ...figures } = summary(runs.flatMap((r) => r.latencies), Math.max(...runs.map((r) => r.seconds)));
  const cpu = servers.reduce((sum, used) => sum + used(), 0);
  return { ...figures, othersPct: others(), serverCpuUs: (cpu * 1000) / Math.max(1, figures.requests) };
}
