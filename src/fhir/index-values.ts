import { parseDateRange, type MicroRange } from './instant.js';
import { resourceTypeDef, type SearchParamDef } from './registry.js';

/** What the store indexes for one resource version: one row per searchable value. */
export interface IndexEntries {
  tokens: { param: string; system: string | null; code: string }[];
  references: { param: string; target: string }[];
  dates: { param: string; lo: number; hi: number }[];
  /** `value` normalised for the default (prefix, case- and accent-insensitive) match; `exact` as written. */
  strings: { param: string; value: string; exact: string }[];
  /** Business identifiers that must be unique for the type. */
  uniqueIdentifiers: { system: string; value: string }[];
}

type Json = unknown;

/** Walks a dotted path through objects and arrays, flattening arrays at every step. */
export function valuesAt(root: Json, path: string): Json[] {
  let current: Json[] = [root];
  for (const key of path.split('.')) {
    const next: Json[] = [];
    for (const node of current) {
      if (node === null || typeof node !== 'object' || Array.isArray(node)) continue;
      const v = (node as Record<string, Json>)[key];
      if (Array.isArray(v)) next.push(...v);
      else if (v !== undefined && v !== null) next.push(v);
    }
    current = next;
  }
  return current;
}

const isObj = (v: Json): v is Record<string, Json> => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: Json): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** Token values of a code, Coding, CodeableConcept, Identifier, boolean or canonical. */
function tokensOf(v: Json): { system: string | null; code: string }[] {
  if (typeof v === 'string') return v ? [{ system: null, code: v }] : [];
  if (typeof v === 'boolean') return [{ system: null, code: String(v) }];
  if (!isObj(v)) return [];
  if (Array.isArray(v.coding)) return v.coding.flatMap(tokensOf);
  const code = str(v.code) ?? str(v.value);
  return code ? [{ system: str(v.system) ?? null, code }] : [];
}

/** The id in a relative reference `Type/id` to a resource of `type`; undefined for any other reference. */
export function idOfType(reference: string | undefined, type: string): string | undefined {
  const [t, id, ...rest] = (reference ?? '').split('/');
  return t === type && id && rest.length === 0 ? id : undefined;
}

/**
 * The "Type/id" a reference points to, for references this server can follow: relative ones, and
 * absolute ones under our own base URL. Others (urn:, external URLs, contained) are not indexed.
 */
export function referenceTarget(reference: string, baseUrl: string): string | undefined {
  let ref = reference;
  const fhirBase = `${baseUrl}/fhir/`;
  if (ref.startsWith(fhirBase)) ref = ref.slice(fhirBase.length);
  const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/.exec(ref);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

function datesOf(v: Json): MicroRange[] {
  if (typeof v === 'string') {
    const r = parseDateRange(v);
    return r ? [r] : [];
  }
  if (isObj(v) && (typeof v.start === 'string' || typeof v.end === 'string')) {
    const lo = typeof v.start === 'string' ? parseDateRange(v.start)?.lo : Number.MIN_SAFE_INTEGER;
    const hi = typeof v.end === 'string' ? parseDateRange(v.end)?.hi : Number.MAX_SAFE_INTEGER;
    return lo !== undefined && hi !== undefined ? [{ lo, hi }] : [];
  }
  return [];
}

/** Lower-cased, accents removed: FHIR string search is case- and accent-insensitive. */
export function normaliseString(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}

function stringsOf(v: Json): string[] {
  if (typeof v === 'string') return [v];
  if (!isObj(v)) return [];
  // HumanName and Address: every part is searchable.
  return Object.values(v).flatMap((part) => (Array.isArray(part) ? part : [part])).filter((p): p is string => typeof p === 'string');
}

function extractParam(resource: Json, p: SearchParamDef, baseUrl: string, out: IndexEntries): void {
  const key = p.name;
  for (const path of p.paths) {
    for (const v of valuesAt(resource, path)) {
      switch (p.type) {
        case 'token':
          for (const t of tokensOf(v)) out.tokens.push({ param: key, ...t });
          break;
        case 'reference': {
          const target = isObj(v) && typeof v.reference === 'string' ? referenceTarget(v.reference, baseUrl) : undefined;
          if (target) out.references.push({ param: key, target });
          break;
        }
        case 'date':
          for (const r of datesOf(v)) out.dates.push({ param: key, lo: r.lo, hi: r.hi });
          break;
        case 'string':
          for (const s of stringsOf(v)) out.strings.push({ param: key, value: normaliseString(s), exact: s });
          break;
      }
    }
  }
}

/** Everything the store must index for a resource, derived from the registry. */
export function indexEntries(resource: fhir4.Resource, baseUrl: string): IndexEntries {
  const out: IndexEntries = { tokens: [], references: [], dates: [], strings: [], uniqueIdentifiers: [] };
  const def = resourceTypeDef(resource.resourceType);
  if (!def) return out;
  for (const p of def.params) extractParam(resource, p, baseUrl, out);
  // One row per (param, value): a search driven by one value then names each resource once.
  const distinct = <T>(rows: T[]) => [...new Map(rows.map((r) => [JSON.stringify(r), r])).values()];
  out.tokens = distinct(out.tokens);
  out.references = distinct(out.references);
  out.dates = distinct(out.dates);
  out.strings = distinct(out.strings);
  const unique = def.uniqueIdentifierSystems;
  if (unique) {
    const seen = new Set<string>();
    for (const id of valuesAt(resource, 'identifier')) {
      if (!isObj(id)) continue;
      const system = str(id.system);
      const value = str(id.value);
      if (!system || !value || !(unique.includes('*') || unique.includes(system))) continue;
      const k = `${system}|${value}`;
      if (!seen.has(k)) {
        seen.add(k);
        out.uniqueIdentifiers.push({ system, value });
      }
    }
  }
  return out;
}
