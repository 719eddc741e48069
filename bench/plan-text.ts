/** One step of SQLite's EXPLAIN QUERY PLAN. */
export interface SqlitePlanRow { id: number; parent: number; detail: string }

/** SQLite's EXPLAIN QUERY PLAN, one line per step, indented under its parent as the sqlite3 shell does. */
export function renderSqlitePlan(rows: SqlitePlanRow[]): string[] {
  const depth = new Map<number, number>([[0, -1]]);
  return rows.map((r) => {
    const d = (depth.get(r.parent) ?? -1) + 1;
    depth.set(r.id, d);
    return `${'   '.repeat(d)}${r.detail}`;
  });
}
