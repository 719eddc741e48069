import fs from 'node:fs';
import os from 'node:os';

/**
 * CPU used by processes other than the bench and the server under test. On a 2-core machine shared
 * with test runs, one busy neighbour halves the throughput we measure, so each scenario waits for a
 * quiet machine first and records how much of a core others took while it ran.
 */

/** Busy jiffies of the whole machine (/proc/stat: all fields but idle and iowait). */
function machineBusy(): number {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return fields.reduce((a, b) => a + b, 0) - (fields[3] ?? 0) - (fields[4] ?? 0);
}

/** Jiffies a process has used (utime + stime, /proc/<pid>/stat fields 14 and 15). */
function processBusy(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0; // the process has gone: its time no longer shows in the machine's either
  }
}

/** Jiffies per second (USER_HZ): 100 on every Linux architecture Node supports. */
const HZ = 100;

/**
 * Starts counting the CPU one process uses (all its threads, user and kernel); the returned function
 * gives the milliseconds used since. Divided by the requests served, it is a cost per request that a
 * slower or busier machine changes far less than it changes req/s.
 */
export function processCpu(pid: number): () => number {
  const t0 = processBusy(pid);
  return () => ((processBusy(pid) - t0) * 1000) / HZ;
}

/** Starts counting; the returned function gives the share of one core others used since, in percent. */
export function othersCpu(pids: number[]): () => number {
  const ours = () => pids.reduce((sum, pid) => sum + processBusy(pid), 0);
  const machine0 = machineBusy();
  const ours0 = ours();
  const t0 = performance.now();
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    const others = machineBusy() - machine0 - (ours() - ours0);
    return Math.max(0, (100 * others) / HZ / seconds);
  };
}

/** Waits (up to `maxSeconds`) for a second in which others use under 10% of one core. */
export async function waitForQuiet(pids: number[], maxSeconds: number): Promise<void> {
  if (maxSeconds <= 0) return;
  const deadline = Date.now() + maxSeconds * 1000;
  while (Date.now() < deadline) {
    const others = othersCpu(pids);
    await new Promise((r) => setTimeout(r, 1000));
    if (others() < 10) return;
  }
  console.log(`  (the machine stayed busy for ${maxSeconds} s; measuring anyway, ${os.loadavg()[0]!.toFixed(1)} load)`);
}
