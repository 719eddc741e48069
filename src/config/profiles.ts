import fs from 'node:fs';
import path from 'node:path';

/**
 * The profiles in profiles/ by the resource type they constrain: what the CapabilityStatement cites as
 * supportedProfile. profiles/ is the source of truth; nothing here restates a profile.
 */
export function supportedProfiles(profilesDir: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const file of fs.readdirSync(profilesDir).filter((f) => f.startsWith('StructureDefinition-') && f.endsWith('.json')).sort()) {
    const sd = JSON.parse(fs.readFileSync(path.join(profilesDir, file), 'utf8')) as fhir4.StructureDefinition;
    if (sd.kind === 'resource' && sd.url) (out[sd.type] ??= []).push(sd.url);
  }
  return out;
}
