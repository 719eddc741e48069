import fs from 'node:fs';
import path from 'node:path';
import { writeIfChanged } from '../store/server-resources.js';
import type { Store } from '../store/store.js';
import { MEASURE_URL } from './measure-report.js';

/**
 * Makes the store hold our Measure (profiles/Measure-social-prescribing.json) at start-up, as it does
 * the Questionnaires: every MeasureReport names it, and every client may read it (a directory type).
 */
export async function materialiseMeasure(store: Store, profilesDir: string): Promise<void> {
  const file = path.join(profilesDir, 'Measure-social-prescribing.json');
  const measure = JSON.parse(fs.readFileSync(file, 'utf8')) as fhir4.Measure & { id: string };
  if (measure.url !== MEASURE_URL) throw new Error(`${file} is not ${MEASURE_URL}`);
  await store.transaction((tx) => writeIfChanged(tx, measure));
}
