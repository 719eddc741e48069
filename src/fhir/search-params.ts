import type { DatePrefix, Filter, SearchQuery, SortOrder } from '../store/store.js';
import { decodeCursor } from './cursor.js';
import { FhirError } from './errors.js';
import { normaliseString, referenceTarget } from './index-values.js';
import { parseDateRange } from './instant.js';
import { resourceTypeDef, searchParam, type SearchParamDef } from './registry.js';
import { CONTROL_CHARACTER_RULE, hasControlCharacter } from './text.js';

export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 1000;

export interface IncludeSpec {
  /** The type whose reference parameter is followed. */
  sourceType: string;
  param: string;
  targetType?: string;
}

/** A validated search: the store query plus what shapes the Bundle. */
export interface ParsedSearch {
  query: SearchQuery;
  includes: IncludeSpec[];
  revincludes: IncludeSpec[];
  summaryCount: boolean;
  /** The parameters as understood, for the Bundle's self and next links (lenient drops are left out). */
  echo: [string, string][];
}

const DATE_PREFIXES: readonly DatePrefix[] = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'];

const bad = (param: string, message: string) => new FhirError(400, 'invalid', message, param);

/** Splits on `sep` where it is not escaped with a backslash; the parts keep their escapes. */
function splitUnescaped(value: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === '\\' && i + 1 < value.length) {
      cur += ch + value[++i];
    } else if (ch === sep) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Removes FHIR search escapes: a backslash before ',', '|', '$' or another backslash. */
function unescape(value: string): string {
  return value.replace(/\\(.)/g, '$1');
}

/** The comma-separated alternatives of a parameter value, unescaped (FHIR search escaping). */
function splitValues(value: string): string[] {
  return splitUnescaped(value, ',').map(unescape);
}

/** Bounds on one search, so that no query grows past what the database plans cheaply. */
export const MAX_ALTERNATIVES = 100;
export const MAX_CONDITIONS = 30;
export const MAX_INCLUDES = 10;

function parseDateValue(key: string, raw: string): { prefix: DatePrefix; range: { lo: number; hi: number } } {
  const maybe = raw.slice(0, 2) as DatePrefix;
  const prefix = DATE_PREFIXES.includes(maybe) ? maybe : 'eq';
  const text = DATE_PREFIXES.includes(maybe) ? raw.slice(2) : raw;
  const range = parseDateRange(text);
  if (!range) throw bad(key, `${key}: '${raw}' is not a FHIR date, dateTime or instant (with an optional prefix eq, ne, gt, lt, ge, le, sa, eb, ap)`);
  return { prefix, range };
}

function parseIncludeSpec(key: string, raw: string, mustBeType?: string): IncludeSpec {
  const [sourceType = '', param = '', targetType, ...extra] = raw.split(':');
  if (raw === '*' || extra.length > 0) throw new FhirError(400, 'not-supported', `${key}=${raw} is not supported; name Type:parameter[:TargetType]`, key);
  if (mustBeType && sourceType !== mustBeType) throw bad(key, `${key}=${raw}: the source type must be ${mustBeType}`);
  const def = searchParam(sourceType, param);
  if (!def || def.type !== 'reference') throw bad(key, `${key}=${raw}: ${sourceType} has no reference search parameter '${param}'`);
  if (targetType && !resourceTypeDef(targetType)) throw bad(key, `${key}=${raw}: unknown target type ${targetType}`);
  return { sourceType, param, ...(targetType ? { targetType } : {}) };
}

function parseParamFilter(def: SearchParamDef, key: string, modifier: string | undefined, value: string, baseUrl: string): Filter {
  if (modifier === 'missing') {
    if (value !== 'true' && value !== 'false') throw bad(key, `${key} takes true or false`);
    return { kind: 'missing', param: def.name, index: def.type, missing: value === 'true' };
  }
  const raw = splitUnescaped(value, ',');
  if (raw.length > MAX_ALTERNATIVES) {
    throw new FhirError(400, 'too-costly', `${key}: at most ${MAX_ALTERNATIVES} comma-separated values`, key);
  }
  const values = raw.map(unescape);
  if (values.some((v) => v === '')) throw bad(key, `${key}: empty value`);
  switch (def.type) {
    case 'token': {
      if (modifier !== undefined && modifier !== 'not') throw new FhirError(400, 'not-supported', `Modifier :${modifier} is not supported on token parameter ${def.name}`, key);
      const parsed = raw.map((escaped) => {
        const parts = splitUnescaped(escaped, '|');
        if (parts.length === 1) return { code: unescape(escaped) };
        // The first unescaped '|' ends the system; the code is the rest.
        const system = unescape(parts[0]!);
        const code = unescape(parts.slice(1).join('|'));
        if (!code && !system) throw bad(key, `${key}: '|' alone names nothing`);
        return { system: system === '' ? null : system, ...(code ? { code } : {}) };
      });
      return { kind: 'token', param: def.name, values: parsed, ...(modifier === 'not' ? { not: true } : {}) };
    }
    case 'reference': {
      if (modifier !== undefined && !resourceTypeDef(modifier)) throw new FhirError(400, 'not-supported', `Modifier :${modifier} is not supported on reference parameter ${def.name}`, key);
      const targets = values.flatMap((v) => {
        const target = referenceTarget(v, baseUrl);
        if (target) {
          if (modifier && !target.startsWith(`${modifier}/`)) throw bad(key, `${key}: ${v} is not a ${modifier}`);
          return [target];
        }
        if (!/^[A-Za-z0-9\-.]{1,64}$/.test(v)) throw bad(key, `${key}: '${v}' is neither Type/id nor an id`);
        const types = modifier ? [modifier] : def.targets ?? [];
        if (types.length === 0) throw bad(key, `${key}: give the reference as Type/id`);
        return types.map((t) => `${t}/${v}`);
      });
      return { kind: 'reference', param: def.name, targets };
    }
    case 'date': {
      if (modifier !== undefined) throw new FhirError(400, 'not-supported', `Modifier :${modifier} is not supported on date parameter ${def.name}`, key);
      if (values.length > 1) throw new FhirError(400, 'not-supported', `${key}: give one date per parameter; repeat the parameter to combine`, key);
      return { kind: 'date', param: def.name, ...parseDateValue(key, values[0] ?? '') };
    }
    case 'string': {
      if (modifier !== undefined && modifier !== 'exact') throw new FhirError(400, 'not-supported', `Modifier :${modifier} is not supported on string parameter ${def.name}`, key);
      // :exact compares the text as stored; the default is a case- and accent-insensitive prefix match.
      return { kind: 'string', param: def.name, values: modifier === 'exact' ? values : values.map(normaliseString), exact: modifier === 'exact' };
    }
  }
}

/**
 * Turns a query string into a validated search for `type`. Unknown parameters are an error unless the
 * client asked for lenient handling, in which case they are dropped (and left out of the self link).
 */
export function parseSearch(type: string, params: URLSearchParams, opts: { lenient: boolean; baseUrl: string }): ParsedSearch {
  const filters: Filter[] = [];
  const includes: IncludeSpec[] = [];
  const revincludes: IncludeSpec[] = [];
  const echo: [string, string][] = [];
  let count = DEFAULT_COUNT;
  let sort: SortOrder = 'default';
  let cursorText: string | undefined;
  let total = false;
  let summaryCount = false;

  let conditions = 0;
  for (const [key, value] of params) {
    const [name = '', modifier, ...rest] = key.split(':');
    if (name === '') throw new FhirError(400, 'invalid', `A search parameter has no name (in '${key}=${value}')`, type);
    if (hasControlCharacter(key) || hasControlCharacter(value)) throw new FhirError(400, 'value', `${JSON.stringify(key)}: ${CONTROL_CHARACTER_RULE}`, JSON.stringify(key).slice(1, -1));
    if (!name.startsWith('_') || name === '_id' || name === '_lastUpdated') {
      if (++conditions > MAX_CONDITIONS) throw new FhirError(400, 'too-costly', `At most ${MAX_CONDITIONS} search conditions in one search`, key);
    }
    let understood = true;
    switch (name) {
      case '_format':
        continue; // negotiated by the HTTP layer
      case '_count': {
        if (!/^\d+$/.test(value)) throw bad(key, `_count must be a whole number from 0 to ${MAX_COUNT}`);
        count = Math.min(Number(value), MAX_COUNT);
        echo.push([key, String(count)]);
        continue;
      }
      case '_sort':
        if (value !== '_lastUpdated' && value !== '-_lastUpdated') {
          throw new FhirError(400, 'not-supported', `_sort=${value} is not supported; use _lastUpdated or -_lastUpdated`, key);
        }
        sort = value;
        break;
      case '_cursor':
        cursorText = value;
        continue;
      case '_total':
        if (!['none', 'estimate', 'accurate'].includes(value)) throw bad(key, '_total takes none, estimate or accurate');
        total = value === 'accurate';
        break;
      case '_summary':
        if (value === 'count') summaryCount = true;
        else if (value !== 'false') throw new FhirError(400, 'not-supported', `_summary=${value} is not supported; use count or false`, key);
        break;
      case '_include':
        if (modifier !== undefined) throw new FhirError(400, 'not-supported', `${key} is not supported`, key);
        includes.push(...splitValues(value).map((v) => parseIncludeSpec(key, v, type)));
        break;
      case '_revinclude':
        if (modifier !== undefined) throw new FhirError(400, 'not-supported', `${key} is not supported`, key);
        revincludes.push(...splitValues(value).map((v) => parseIncludeSpec(key, v)));
        break;
      case '_id': {
        const ids = splitValues(value);
        if (ids.length > MAX_ALTERNATIVES) throw new FhirError(400, 'too-costly', `_id: at most ${MAX_ALTERNATIVES} ids`, key);
        if (modifier !== undefined || ids.some((i) => !/^[A-Za-z0-9\-.]{1,64}$/.test(i))) throw bad(key, `_id takes resource ids (1-64 of A-Z a-z 0-9 - .)`);
        filters.push({ kind: 'id', ids });
        break;
      }
      case '_lastUpdated':
        if (modifier !== undefined) throw new FhirError(400, 'not-supported', `${key} is not supported`, key);
        filters.push({ kind: 'lastUpdated', ...parseDateValue(key, value) });
        break;
      default: {
        const def = searchParam(type, name);
        if (!def || rest.length > 0) {
          if (!opts.lenient) {
            throw new FhirError(400, 'not-supported', `Unknown search parameter '${key}' for ${type}${def ? '' : ` (supported: ${(resourceTypeDef(type)?.params ?? []).map((p) => p.name).join(', ')})`}`, key);
          }
          understood = false;
        } else {
          filters.push(parseParamFilter(def, key, modifier, value, opts.baseUrl));
        }
      }
    }
    if (understood) echo.push([key, value]);
  }
  if (includes.length + revincludes.length > MAX_INCLUDES) {
    throw new FhirError(400, 'too-costly', `At most ${MAX_INCLUDES} _include and _revinclude values in one search`, '_include');
  }
  const query: SearchQuery = { type, filters, sort, count, total: total || summaryCount };
  if (cursorText !== undefined) {
    const { asOf, ...after } = decodeCursor(cursorText, sort);
    query.after = after;
    query.asOf = asOf;
  }
  return { query, includes, revincludes, summaryCount, echo };
}
