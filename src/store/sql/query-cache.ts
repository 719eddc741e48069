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
    let t = this.templates.get(key);
    if (!t) {
      const query = build((name) => `${MARK}${name}`).compile();
      const slots = query.parameters.map((p, i) => {
        if (typeof p !== 'string' || !p.startsWith(MARK)) throw new Error(`query ${key}: parameter ${i} is not a slot`);
        return p.slice(MARK.length);
      });
      t = { query, slots };
      this.templates.set(key, t);
    }
    const parameters = t.slots.map((name) => {
      if (!(name in values)) throw new Error(`query ${key}: no value for slot ${name}`);
      return values[name];
    });
    return { ...t.query, parameters };
  }
}
