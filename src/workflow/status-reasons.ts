import fs from 'node:fs';
import path from 'node:path';

export const TASK_STATUS_REASONS_URL = 'https://signpost.health/fhir/ValueSet/sp-task-status-reasons';
export const LOCAL_STATUS_REASON_SYSTEM = 'https://signpost.health/fhir/CodeSystem/sp-task-status-reason';

const readJson = <T>(file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as T;

/**
 * The codings Task.statusReason may carry (`system|code`): the ValueSet in profiles/ that the sp-task
 * profile binds it to (required), its SNOMED CT concepts listed and the local CodeSystem included whole.
 */
export function loadTaskStatusReasons(profilesDir: string): ReadonlySet<string> {
  const file = path.join(profilesDir, 'ValueSet-sp-task-status-reasons.json');
  const vs = readJson<fhir4.ValueSet>(file);
  if (vs.url !== TASK_STATUS_REASONS_URL) throw new Error(`${file} is not ${TASK_STATUS_REASONS_URL}`);
  const codes = new Set<string>();
  for (const include of vs.compose?.include ?? []) {
    let concepts = include.concept;
    if (!concepts && include.system === LOCAL_STATUS_REASON_SYSTEM) {
      concepts = readJson<fhir4.CodeSystem>(path.join(profilesDir, 'CodeSystem-sp-task-status-reason.json')).concept;
    }
    if (!concepts) throw new Error(`${file}: cannot expand the include of ${include.system ?? '(no system)'}`);
    for (const c of concepts) codes.add(`${include.system}|${c.code}`);
  }
  return codes;
}
