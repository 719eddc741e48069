import { randomUUID } from 'node:crypto';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import type { Job } from './job.js';
import { runExclusively } from './job-lease.js';

/** Longest a job may hold its lease: an instance that dies mid-job leaves the job to others after this. */
const LEASE_MS = 15 * 60_000;

export interface ScheduledJob {
  job: Job;
  /** A cron expression (node-cron: minute hour day-of-month month day-of-week, optional seconds first). */
  schedule: string;
}

/**
 * Runs each job on its schedule (node-cron), in every instance, but each run only where the job's
 * lease can be taken (job-lease.ts): with several instances on one database, one runs it at a time.
 */
export class JobScheduler {
  private readonly holder = randomUUID();
  private readonly tasks: ScheduledTask[] = [];
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly nowMicros: () => number = () => Date.now() * 1000,
  ) {}

  start(jobs: readonly ScheduledJob[]): void {
    for (const { job, schedule } of jobs) {
      this.tasks.push(cron.schedule(schedule, () => { void this.runNow(job); }, { name: job.name, noOverlap: true }));
    }
  }

  /** Runs a job now if no instance holds it: 'ran', 'skipped' (held elsewhere) or 'failed' (logged). */
  async runNow(job: Job): Promise<'ran' | 'skipped' | 'failed'> {
    const run = (async () => {
      try {
        const ran = await runExclusively(this.store, job.name, this.holder, LEASE_MS, async () => {
          const report = await job.run(this.nowMicros());
          this.logger.info({ job: job.name, ...report }, `job ${job.name} done`);
        });
        return ran ? 'ran' as const : 'skipped' as const;
      } catch (e) {
        this.logger.error({ job: job.name, err: (e as Error).message }, `job ${job.name} failed`);
        return 'failed' as const;
      }
    })();
    this.running.add(run);
    try {
      return await run;
    } finally {
      this.running.delete(run);
    }
  }

  /** Stops scheduling and waits for the runs in flight. */
  async stop(): Promise<void> {
    for (const t of this.tasks.splice(0)) await t.stop();
    await Promise.all(this.running);
  }
}
