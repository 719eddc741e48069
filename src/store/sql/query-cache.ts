import type { CompiledQuery } from 'kysely';

interface Compilable {
  compile(): CompiledQuery;
}

interface Template {
  query: CompiledQuery;
  /** For each bound parameter, the name of the slot whose value it takes. */
  slots: string[];
}

const MARK = '\u0000slot:';

/**
 * Compiles each query shape once. Building a query with kysely costs more than running a point lookup
 * in SQLite, so hot queries are built with named slots instead of values; the first compile records
 * which parameter is which slot, and later calls only fill in values. The key must name everything that
 * changes the SQL text (for instance the number of rows of an insert).
 */
export class QueryCache {
  private readonly templates = new Map<string, Template>();

  get(key: string, build: (slot: (name: string) => string) => Compilable, values: Record<string, unknown>): CompiledQuery {
    const t = this.template(key, build);
    const parameters = t.slots.map((name) => {
      if (!(name in values)) throw new Error(`query ${key}: no value for slot ${name}`);
      return values[name];
    });
    return { ...t.query, parameters };
  }

  /**
   * As `get`, for a shape whose slots are numbered in the order the SQL binds them (checked when it is
   * first compiled): the values are used as given, with no lookup by name. For the multi-row inserts of
   * every audited request, where building and looking up slot names showed in profiles.
   */
  positional(key: string, build: (slot: (position: number) => string) => Compilable, parameters: unknown[]): CompiledQuery {
    const t = this.template(key, (slot) => build((position) => slot(String(position))), (slots) => {
      if (slots.some((name, i) => name !== String(i))) throw new Error(`query ${key}: the slots are not bound in the order they are numbered`);
    });
    if (t.slots.length !== parameters.length) throw new Error(`query ${key}: ${t.slots.length} slots but ${parameters.length} values`);
    return { ...t.query, parameters };
  }

  private template(key: string, build: (slot: (name: string) => string) => Compilable, check?: (slots: string[]) => void): Template {
    let t = this.templates.get(key);
    if (!t) {
      const query = build((name) => `${MARK}${name}`).compile();
      const slots = query.parameters.map((p, i) => {
        if (typeof p !== 'string' || !p.startsWith(MARK)) throw new Error(`query ${key}: parameter ${i} is not a slot`);
        return p.slice(MARK.length);
      });
      check?.(slots);
      t = { query, slots };
      this.templates.set(key, t);
    }
    return t;
  }
}
