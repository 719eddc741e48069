import fs from 'node:fs';
import path from 'node:path';
import type { Deployment } from '../config/deployment.js';
import { REFERRAL_REASONS_URL } from '../referral/reasons.js';
import { LOCAL_STATUS_REASON_SYSTEM, TASK_STATUS_REASONS_URL } from '../workflow/status-reasons.js';

/**
 * The names a person reads beside the codes of the report (the MeasureReport and the CSV carry the
 * codes alone): organisations by ODS code from the deployment config, referral and decline reasons by
 * code from their ValueSets and CodeSystem in profiles/.
 */
export interface ReportLabels {
  organizations: ReadonlyMap<string, string>;
  reasons: ReadonlyMap<string, string>;
  declineReasons: ReadonlyMap<string, string>;
}

const readJson = <T>(file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as T;

/** code → display of every concept a ValueSet lists, and of the CodeSystems it includes whole that are in `codeSystems`. */
function displays(valueSet: fhir4.ValueSet, codeSystems: Readonly<Record<string, fhir4.CodeSystem>> = {}): Map<string, string> {
  const out = new Map<string, string>();
  for (const include of valueSet.compose?.include ?? []) {
    const concepts = include.concept ?? (include.system ? codeSystems[include.system]?.concept : undefined) ?? [];
    for (const c of concepts) if (c.display) out.set(c.code, c.display);
  }
  return out;
}

function valueSet(profilesDir: string, file: string, url: string): fhir4.ValueSet {
  const vs = readJson<fhir4.ValueSet>(path.join(profilesDir, file));
  if (vs.url !== url) throw new Error(`${file} is not ${url}`);
  return vs;
}

export function reportLabels(deployment: Deployment, profilesDir: string): ReportLabels {
  const statusReasons = readJson<fhir4.CodeSystem>(path.join(profilesDir, 'CodeSystem-sp-task-status-reason.json'));
  return {
    organizations: new Map(deployment.organizations.map((o) => [o.ods, o.name])),
    reasons: displays(valueSet(profilesDir, 'ValueSet-sp-referral-reasons.json', REFERRAL_REASONS_URL)),
    declineReasons: displays(valueSet(profilesDir, 'ValueSet-sp-task-status-reasons.json', TASK_STATUS_REASONS_URL),
      { [LOCAL_STATUS_REASON_SYSTEM]: statusReasons }),
  };
}
