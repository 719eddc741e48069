import type { Cursor, Stored, StoreTx } from '../store/store.js';
import { encodeCursor } from './cursor.js';
import { FhirError } from './errors.js';
import { referenceTarget, valuesAt } from './index-values.js';
import type { FhirContext, FhirRequest, FhirResult } from './interaction.js';
import { searchParam } from './registry.js';
import { requireType } from './resource-interactions.js';
import { parseSearch, type IncludeSpec } from './search-params.js';

/** Most resources one page may add through _include and _revinclude (which do not count towards _count). */
export const MAX_INCLUDED = 1000;

export function fullUrl(ctx: FhirContext, s: Stored): string {
  return `${ctx.baseUrl}/fhir/${s.type}/${s.id}`;
}

function linkFor(ctx: FhirContext, type: string, params: [string, string][]): string {
  const qs = new URLSearchParams(params).toString();
  return `${ctx.baseUrl}/fhir/${type}${qs ? `?${qs}` : ''}`;
}

/** Targets of the page's references named by `_include` specs, as Type/id. */
function includeTargets(page: Stored[], specs: IncludeSpec[], baseUrl: string): string[] {
  const out = new Set<string>();
  for (const spec of specs) {
    const def = searchParam(spec.sourceType, spec.param);
    for (const s of page) {
      for (const path of def?.paths ?? []) {
        for (const v of valuesAt(s.resource, path)) {
          const r = (v as { reference?: unknown }).reference;
          const target = typeof r === 'string' ? referenceTarget(r, baseUrl) : undefined;
          if (target && (!spec.targetType || target.startsWith(`${spec.targetType}/`))) out.add(target);
        }
      }
    }
  }
  return [...out];
}

/**
 * An included resource the store refuses (a type the caller may not read: 403) is left out, as a
 * resource outside its reach is: includes never turn a permitted search into a refusal.
 */
async function unlessRefused<T>(lookup: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await lookup();
  } catch (e) {
    if (e instanceof FhirError && e.status === 403) return fallback;
    throw e;
  }
}

async function included(tx: StoreTx, page: Stored[], includes: IncludeSpec[], revincludes: IncludeSpec[], baseUrl: string): Promise<Stored[]> {
  const seen = new Set(page.map((s) => `${s.type}/${s.id}`));
  const out: Stored[] = [];
  const add = (s: Stored) => {
    const key = `${s.type}/${s.id}`;
    if (!seen.has(key) && out.length < MAX_INCLUDED) {
      seen.add(key);
      out.push(s);
    }
  };
  for (const target of includeTargets(page, includes, baseUrl)) {
    const [type = '', id = ''] = target.split('/');
    const s = await unlessRefused(() => tx.read(type, id), undefined);
    if (s) add(s);
  }
  const pageRefs = page.map((s) => `${s.type}/${s.id}`);
  for (const spec of revincludes) {
    if (pageRefs.length === 0) break;
    const targets = spec.targetType ? pageRefs.filter((r) => r.startsWith(`${spec.targetType}/`)) : pageRefs;
    if (targets.length === 0) continue;
    const found = await unlessRefused(() => tx.search({
      type: spec.sourceType, sort: 'default', count: MAX_INCLUDED,
      filters: [{ kind: 'reference', param: spec.param, targets }],
    }), { matches: [], asOf: 0 });
    found.matches.forEach(add);
  }
  return out;
}

export async function search(req: FhirRequest, tx: StoreTx, ctx: FhirContext): Promise<FhirResult> {
  const type = requireType(req.type);
  const parsed = parseSearch(type, req.query, { lenient: req.lenient ?? false, baseUrl: ctx.baseUrl });
  const bundle: fhir4.Bundle = { resourceType: 'Bundle', type: 'searchset' };
  if (parsed.summaryCount) {
    const page = await tx.search({ ...parsed.query, count: 0 });
    const counted: fhir4.Bundle = { ...bundle, total: page.total ?? 0, link: [{ relation: 'self', url: linkFor(ctx, type, parsed.echo) }] };
    return { status: 200, resource: counted };
  }
  const page = await tx.search(parsed.query);
  const extra = await included(tx, page.matches, parsed.includes, parsed.revincludes, ctx.baseUrl);
  const cursor = (at: Cursor): [string, string] => ['_cursor', encodeCursor(parsed.query.sort, { ...at, asOf: page.asOf })];
  const self = parsed.query.after ? [...parsed.echo, cursor(parsed.query.after)] : parsed.echo;
  const link: fhir4.BundleLink[] = [{ relation: 'self', url: linkFor(ctx, type, self) }];
  if (page.next) link.push({ relation: 'next', url: linkFor(ctx, type, [...parsed.echo, cursor(page.next)]) });
  const result: fhir4.Bundle = {
      ...bundle,
      ...(page.total !== undefined ? { total: page.total } : {}),
      link,
      entry: [
        ...page.matches.map((s) => ({ fullUrl: fullUrl(ctx, s), resource: s.resource, search: { mode: 'match' as const } })),
        ...extra.map((s) => ({ fullUrl: fullUrl(ctx, s), resource: s.resource, search: { mode: 'include' as const } })),
      ],
  };
  return { status: 200, resource: result };
}
