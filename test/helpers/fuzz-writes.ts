import type { Sql } from '../../src/platform/db/client.ts'

interface State { snapshot: string, tables: Record<string, string> }

/**
 * Tells whether anything was written to the app's database between `before()` and `after()`.
 *
 * Evidence, cheapest first: PostgreSQL's current snapshot (`xmin:xmax:in-progress ids`,
 * cluster-wide) did not change, so no transaction that could have written anything ended in
 * between. Other test files share the cluster, so when it moved, the fingerprint decides: per
 * table of this database, the row count and the sum and maximum of `xmin`. An insert or update
 * commits a row version with a new `xmin`, a delete lowers the count; a rolled-back write leaves
 * all three as they were. Read as the owner, so row-level security hides nothing.
 */
export class WriteWatch {
  private state: State | undefined

  private constructor (private readonly sql: Sql, private readonly fingerprintQuery: string) {}

  static async create (sql: Sql): Promise<WriteWatch> {
    const tables = await sql<Array<{ name: string }>>`
      select table_name as name from information_schema.tables
      where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`
    const parts = tables.map(({ name }) => `select '${name}' as t, concat_ws(':', count(*), sum(xmin::text::bigint), max(xmin::text::bigint)) as f from "${name}"`)
    // one statement: the snapshot text and every table come from the same snapshot
    const query = `select pg_current_snapshot()::text as snapshot, (select json_object_agg(t, f) from (${parts.join(' union all ')}) s) as tables`
    return new WriteWatch(sql, query)
  }

  private async snapshot (): Promise<string> {
    const [row] = await this.sql<Array<{ snapshot: string }>>`select pg_current_snapshot()::text as snapshot`
    return row!.snapshot
  }

  private async fingerprint (): Promise<State> {
    const [row] = await this.sql.unsafe<Array<{ snapshot: string, tables: Record<string, string> }>>(this.fingerprintQuery)
    return row!
  }

  /** Before a request: makes sure the remembered fingerprint describes the database now. */
  async before (): Promise<void> {
    if (this.state === undefined || this.state.snapshot !== await this.snapshot()) this.state = await this.fingerprint()
  }

  /** After a request: the tables whose rows changed since `before()` (empty: nothing written). */
  async after (): Promise<string[]> {
    const previous = this.state
    if (previous === undefined) throw new Error('WriteWatch.after() without before()')
    if (previous.snapshot === await this.snapshot()) return []
    const now = await this.fingerprint()
    this.state = now
    return Object.keys({ ...previous.tables, ...now.tables }).filter(table => previous.tables[table] !== now.tables[table])
  }
}
