import t from 'tap'
import { createSql } from '../../../src/platform/db/client.ts'
import { Database, forEachTenant, type TransactionSql } from '../../../src/platform/db/database.ts'
import { createLogger } from '../../../src/platform/logger.ts'
import { createTestDatabase } from '../../helpers/database.ts'

// A transaction that spans tenants (a global flag audited in each tenant, an account left in
// each tenant) acts as each one in turn through forEachTenant, and as none afterwards.
const db = await createTestDatabase()
const sql = createSql(db.runtimeUrl, { max: 2 })
t.teardown(async () => { await sql.end(); await db.drop() })
const database = new Database(sql, { log: createLogger({ LOG_LEVEL: 'silent' }), slowQueryMs: 10_000, lockTimeoutMs: 1_000, defaultBudgetMs: 5_000 })

const tenants = await database.transaction(null, tx => tx<Array<{ id: string }>>`
  insert into tenants (slug, name) values ('each-one', 'One'), ('each-two', 'Two') returning id`)
const ids = tenants.map(tenant => tenant.id)

const audit = (tx: TransactionSql, tenantId: string) => tx`
  insert into audit_log (tenant_id, action, object_type, object_id) values (${tenantId}, 'updated', 'test', 'each')`

const setting = async (tx: TransactionSql): Promise<string> => {
  const [row] = await tx<Array<{ tenant: string }>>`select current_setting('app.tenant_id', true) as tenant`
  return row!.tenant
}

t.test('each item runs as its own tenant, and no tenant is set afterwards', async tt => {
  const seen: string[] = []
  const after = await database.transaction(null, async tx => {
    await forEachTenant(tx, ids, id => id, async id => {
      seen.push(await setting(tx))
      await audit(tx, id)
    })
    return await setting(tx)
  })
  tt.same(seen, ids, 'the setting names each tenant in turn')
  tt.equal(after, '', 'and none once the loop is done')
  for (const id of ids) {
    const [row] = await database.transaction(id, tx => tx<Array<{ n: number }>>`select count(*)::int as n from audit_log where object_id = 'each'`)
    tt.equal(row?.n, 1, 'one entry written under each tenant')
  }
})

t.test("row-level security holds inside the loop: an item cannot write another tenant's row", async tt => {
  await tt.rejects(database.transaction(null, tx => forEachTenant(tx, [ids[0]!], id => id, async () => {
    await audit(tx, ids[1]!)
  })), { code: '42501' })
})

t.test('no items, no statement: the transaction keeps its own tenant', async tt => {
  const after = await database.transaction(ids[0]!, async tx => {
    await forEachTenant(tx, [], id => id, async () => { throw new Error('not called') })
    return await setting(tx)
  })
  tt.equal(after, ids[0])
})
