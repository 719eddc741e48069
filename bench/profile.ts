import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './processes.js';

/** Where a server's CPU time went, from the V8 CPU profile `node --cpu-prof` writes on exit. */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  /** Microseconds since the previous sample. */
  timeDeltas: number[];
}

export interface Share {
  name: string;
  /** Percent of the time the process was not idle. */
  pct: number;
}

export interface ProfileSummary {
  /** Wall-clock time the profile covers: the whole process, start-up and warm-up included. */
  seconds: number;
  idlePct: number;
  /** Functions by self time: where the CPU actually was. */
  functions: Share[];
  /** The same time grouped by who owns the code: a package, a directory of dist/, or a V8 builtin. */
  areas: Share[];
  /** Signpost's own functions (and the bench's core server) by inclusive time (themselves and all they call): which step costs what. */
  signpost: Share[];
}

/**
 * Where the code is. The servers' own code is named as `npm run build` would place it: dist/… for
 * src/, bench/… and test/… for the core server and its fixture (wherever this run compiled them);
 * other code by its package path.
 */
function location(url: string, buildRoot: string): string {
  if (!url) return '';
  if (!url.startsWith('file://')) return url;
  const file = new URL(url).pathname;
  if (file.startsWith(`${buildRoot}/`)) return file.slice(buildRoot.length + 1).replace(/^src\//, 'dist/');
  return path.relative(ROOT, file).replace(/^node_modules\//, '');
}

/** Code compiled from this repository: src/ (as dist/), and the bench's core server with its test fixture. */
const ours = (where: string) => /^(dist|bench|test)\//.test(where);

function label(frame: ProfileNode['callFrame'], buildRoot: string): string {
  const where = location(frame.url, buildRoot);
  return `${frame.functionName || '(anonymous)'}${where ? ` ${where}:${frame.lineNumber + 1}` : ''}`;
}

function area(frame: ProfileNode['callFrame'], buildRoot: string): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : `V8/native: ${functionName}`;
  const file = location(url, buildRoot);
  if (file.startsWith('node:')) return 'node core';
  const dist = /^dist\/([^/]+)/.exec(file);
  if (dist) return `signpost ${dist[1]}/`;
  if (ours(file)) return `signpost ${file.split('/')[0]}/`;
  return file.split('/')[0]!.startsWith('@') ? file.split('/').slice(0, 2).join('/') : file.split('/')[0]!;
}

function top(totals: Map<string, number>, busy: number, n: number): Share[] {
  return [...totals].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, us]) => ({ name, pct: (100 * us) / busy }));
}

/** `buildRoot`: the root of the compilation the profiled server ran (Build.root). */
export function summarise(file: string, buildRoot: string, n = 12): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const signpost = new Map<string, number>();
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  let idle = 0;
  let total = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!.callFrame;
    const us = profile.timeDeltas[i] ?? 0;
    total += us;
    if (frame.functionName === '(idle)') {
      idle += us;
      return;
    }
    const name = label(frame, buildRoot);
    functions.set(name, (functions.get(name) ?? 0) + us);
    const onStack = new Set<string>(); // a recursive function counts once per sample
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      if (ours(location(f.url, buildRoot))) onStack.add(label(f, buildRoot));
    }
    for (const name of onStack) signpost.set(name, (signpost.get(name) ?? 0) + us);
    const a = area(frame, buildRoot);
    areas.set(a, (areas.get(a) ?? 0) + us);
  });
  const busy = Math.max(1, total - idle);
  return {
    seconds: total / 1e6, idlePct: (100 * idle) / Math.max(1, total),
    functions: top(functions, busy, n), areas: top(areas, busy, n), signpost: top(signpost, busy, n),
  };
}

/**
 * The main thread's profile of the one process that wrote into `dir`. Worker threads (the store's
 * checkpointer) write profiles of their own: node names each CPU.<date>.<time>.<pid>.<thread>.<seq>,
 * and the main thread is thread 0.
 */
export function profileIn(dir: string): string {
  const files = fs.readdirSync(dir).filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  if (files.length !== 1) throw new Error(`expected one main-thread CPU profile in ${dir}, found ${files.length}: ${fs.readdirSync(dir).join(', ')}`);
  return path.join(dir, files[0]!);
}
