import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './processes.js';

/** What the figures were measured on: they mean little without it. */
export interface Machine {
  cpu: string;
  cores: number;
  ramGiB: number;
  node: string;
  os: string;
  /** The file system the SQLite file lived on: fsync cost depends on it (tmpfs would make it free). */
  disk: string;
  /** Median milliseconds of a 4 KiB append + fsync there: what one durable commit adds at least. */
  fsyncMs: number;
  commit: string;
  date: string;
}

function cpuModel(): string {
  const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
  return line?.split(':')[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
}

/** The mount holding `dir`: the longest mount point that is a prefix of it. */
function mountOf(dir: string): string {
  const mounts = fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' '))
    .filter((m): m is [string, string, string, ...string[]] => m.length >= 3 && (dir === m[1] || dir.startsWith(`${m[1] === '/' ? '' : m[1]}/`)));
  const m = mounts.sort((a, b) => b[1].length - a[1].length)[0];
  return m ? `${m[2]} on ${m[0]} (mounted at ${m[1]})` : 'unknown';
}

function fsyncLatency(dir: string): number {
  const file = path.join(dir, 'fsync-probe');
  const fd = fs.openSync(file, 'w');
  const page = Buffer.alloc(4096, 1);
  const times: number[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      fs.writeSync(fd, page);
      const t0 = performance.now();
      fs.fsyncSync(fd);
      times.push(performance.now() - t0);
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file);
  }
  return times.sort((a, b) => a - b)[times.length >> 1]!;
}

/** The commit checked out (and whether src/ differs from it): read just before compiling, so it names what was built. */
export function currentCommit(): string {
  try {
    const head = execFileSync('git', ['log', '-1', '--format=%h (%s)'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head} with uncommitted changes under src/` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

export function describeMachine(dataDir: string, commit: string): Machine {
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism(),
    ramGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    disk: mountOf(fs.realpathSync(dataDir)),
    fsyncMs: fsyncLatency(dataDir),
    commit,
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
  };
}
