import type { Micros } from '../fhir/instant.js';

/**
 * A scheduled job (issue 9). `run` is idempotent: run twice for the same moment it changes nothing the
 * second time, so a job interrupted by a crash is simply run again. `now` is the moment it runs for
 * (tests move it); it answers what it did, in a few words for the log.
 */
export interface Job {
  name: string;
  run(now: Micros): Promise<Record<string, number | string | boolean>>;
}
