import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { runWithContext } from '../../../src/context.ts'
import { createLogger } from '../../../src/platform/logger.ts'
import { domainJobs } from '../../../src/features/jobs.ts'
import { publishArticleJob } from '../../../src/features/articles/jobs.ts'
import { PUBLISH_ARTICLE_JOB, type PublishArticlePayload } from '../../../src/features/articles/job-names.ts'
import { JobRegistry, type JobContext } from '../../../src/platform/jobs/registry.ts'
import { MAX_HOP_MS, publicationJobId } from '../../../src/features/articles/scheduled-publishing.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { clientOf, type Client } from '../../helpers/http.ts'
import { serviceDatabase, startTestWorker } from '../../helpers/jobs.ts'
import { waitFor } from '../../helpers/wait.ts'
import { withSql } from '../../helpers/sql.ts'
import { createTenant, enableFeature, relaxedAuthLimits, type TestTenant } from '../../helpers/tenants.ts'
import type { TestDatabase } from '../../helpers/database.ts'

interface ArticleJson {
  id: string
  status: 'draft' | 'scheduled' | 'published'
  publish_at: string | null
  published_at: string | null
  updated_at: string
}

interface AuditJson {
  action: string
  actor: { id: string, name: string } | null
  request_id: string | null
}

const articleOf = (response: { json: () => unknown }) => (response.json() as { article: ArticleJson }).article

/** A tenant with the flag on, its editor's client and helpers to make, schedule and read articles. */
async function scheduler (app: FastifyInstance) {
  const tenant: TestTenant = await createTenant(app)
  await enableFeature(app, 'scheduled-publishing', [tenant.id])
  const editor: Client = clientOf(app, tenant.editor.token)
  const owner: Client = clientOf(app, tenant.owner.token)
  const draft = async (title: string): Promise<ArticleJson> => {
    const response = await editor.post('/v1/articles', { title })
    if (response.statusCode !== 201) throw new Error(`create: ${response.statusCode} ${response.body}`)
    return articleOf(response)
  }
  const schedule = async (id: string, publishAt: Date) => {
    const response = await editor.post(`/v1/articles/${id}/schedule`, { publish_at: publishAt.toISOString() })
    if (response.statusCode !== 200) throw new Error(`schedule: ${response.statusCode} ${response.body}`)
    return { article: articleOf(response), requestId: String(response.headers['x-request-id']) }
  }
  const read = async (id: string): Promise<ArticleJson> => articleOf(await editor.get(`/v1/articles/${id}`))
  const audit = async (id: string): Promise<AuditJson[]> =>
    (((await owner.get(`/v1/audit-log?object_id=${id}`)).json()) as { data: AuditJson[] }).data
  return { tenant, editor, draft, schedule, read, audit }
}

/** The job as the worker runs it: in the context of the scheduling request, on the runtime role's pool. */
function jobRunner (tt: Test, app: FastifyInstance, db: TestDatabase) {
  const { database } = serviceDatabase(tt, db)
  const context: JobContext = { db: database, redis: app.redis, log: createLogger({ LOG_LEVEL: 'silent' }), jobId: 'direct', attempt: 1 }
  return async (payload: PublishArticlePayload, requestId: string): Promise<void> =>
    await runWithContext({ requestId, tenantId: payload.tenantId, route: `job:${PUBLISH_ARTICLE_JOB}` },
      () => publishArticleJob.handler(payload, context))
}

t.test('the catalog registers the publishing job on the publishing queue', async tt => {
  const { config } = await buildTestApp(tt)
  const type = domainJobs(config).get(PUBLISH_ARTICLE_JOB)
  tt.equal(type?.queue, 'publishing')
})

t.test('with a worker running', async tt => {
  const { app, db, config } = await buildTestApp(tt, { env: relaxedAuthLimits })
  const { queues, logs } = await startTestWorker(tt, db, new JobRegistry().register(publishArticleJob), { config })
  const { tenant, editor, draft, schedule, read, audit } = await scheduler(app)
  const publishing = queues.get('publishing')

  tt.test('a scheduled article is published at its time, not before, by a job in the scheduling request\'s name', async t2 => {
    const article = await draft('Due soon')
    const publishAt = new Date(Date.now() + 1_500)
    const { article: scheduled, requestId } = await schedule(article.id, publishAt)
    t2.equal(scheduled.status, 'scheduled')

    const job = await waitFor('the delayed job is in BullMQ', () => publishing.getJob(publicationJobId(article.id)))
    t2.same(job.data.payload, { articleId: article.id, tenantId: tenant.id, publishAt: publishAt.toISOString() }, 'the job carries ids and the time')
    t2.equal(job.data.requestId, requestId, 'and the scheduling request id')

    const seenBeforeTime = new Set<string>()
    const published = await waitFor('the article was published', async () => {
      const current = await read(article.id)
      if (Date.now() < publishAt.getTime()) seenBeforeTime.add(current.status)
      await sleep(50)
      return current.status === 'published' ? current : undefined
    })
    t2.same([...seenBeforeTime], ['scheduled'], 'every read answered before its time saw it scheduled')
    t2.ok(Date.parse(published.published_at ?? '') >= publishAt.getTime(), `published at ${published.published_at ?? ''}, not before ${publishAt.toISOString()}`)
    t2.equal(published.publish_at, null, 'publish_at is cleared')

    const entries = await audit(article.id)
    t2.same(entries.map(entry => entry.action), ['published', 'scheduled', 'created'], 'one audit entry per change, newest first')
    t2.match(entries[0], { action: 'published', actor: null, request_id: requestId }, 'published by the job: no actor, the scheduling request id')
    t2.match(entries[1], { action: 'scheduled', actor: { id: tenant.editor.id }, request_id: requestId })
    t2.match(logs.find(line => line.msg === 'scheduled article published' && line.article_id === article.id),
      { request_id: requestId, tenant_id: tenant.id }, 'the worker logged it in the scheduling request\'s context')
  })

  tt.test('rescheduling replaces the earlier job: the first time passes without publishing', async t2 => {
    const article = await draft('Moved')
    const first = new Date(Date.now() + 1_500)
    await schedule(article.id, first)
    await waitFor('the first job is in BullMQ', () => publishing.getJob(publicationJobId(article.id)))
    const second = new Date(Date.now() + 3_500)
    const { requestId } = await schedule(article.id, second)
    await waitFor('the job was replaced', async () =>
      (await publishing.getJob(publicationJobId(article.id)))?.data.payload.publishAt === second.toISOString())

    await sleep(Math.max(0, first.getTime() + 700 - Date.now()))
    const meanwhile = await read(article.id)
    t2.equal(meanwhile.status, 'scheduled', 'still scheduled after the first time')
    t2.equal(meanwhile.publish_at, second.toISOString(), 'for the new time')

    const published = await waitFor('published at the new time', async () => {
      const current = await read(article.id)
      return current.status === 'published' ? current : undefined
    })
    t2.ok(Date.parse(published.published_at ?? '') >= second.getTime(), 'not before the new time')
    const entries = await audit(article.id)
    t2.equal(entries.filter(entry => entry.action === 'published').length, 1, 'published once')
    t2.match(entries[0], { action: 'published', actor: null, request_id: requestId }, 'by the job of the rescheduling request')
    t2.match(await publishing.getJobCounts('delayed', 'waiting', 'failed'), { delayed: 0, waiting: 0, failed: 0 }, 'no job left behind')
  })

  tt.test('publishing by hand before the time makes the job a no-op', async t2 => {
    const article = await draft('Eager')
    const publishAt = new Date(Date.now() + 1_200)
    await schedule(article.id, publishAt)
    const manual = await editor.post(`/v1/articles/${article.id}/publish`)
    t2.equal(manual.statusCode, 200)
    const byHand = articleOf(manual)
    t2.equal(byHand.status, 'published')

    await waitFor('the job ran', async () => await (await publishing.getJob(publicationJobId(article.id)))?.getState() === 'completed')
    t2.same(await read(article.id), byHand, 'the article is exactly as the manual publish left it')
    const entries = await audit(article.id)
    t2.equal(entries.filter(entry => entry.action === 'published').length, 1, 'one published entry')
    t2.match(entries[0], { action: 'published', actor: { id: tenant.editor.id } }, 'the manual one')
    t2.ok(logs.some(line => line.article_id === article.id && line.published === false), 'the job found nothing to do')
  })

  tt.test('scheduling far ahead works: the job waits in hops the outbox can hold', async t2 => {
    const article = await draft('Next year')
    const publishAt = new Date(Date.now() + 365 * 86_400_000)
    const { article: scheduled } = await schedule(article.id, publishAt)
    t2.equal(scheduled.status, 'scheduled')
    const job = await waitFor('the job is in BullMQ', () => publishing.getJob(publicationJobId(article.id)))
    t2.equal(await job.getState(), 'delayed')
    t2.ok(job.opts.delay !== undefined && job.opts.delay <= MAX_HOP_MS, `the first hop is at most ${MAX_HOP_MS} ms`)
  })
})

t.test('the job run directly: twice, early, or stale', async tt => {
  const { app, db } = await buildTestApp(tt, { env: relaxedAuthLimits })
  const { tenant, draft, schedule, read, audit } = await scheduler(app)
  const run = jobRunner(tt, app, db)
  const outboxRows = async (articleId: string) => await withSql(db.ownerUrl, sql =>
    sql<Array<{ payload: PublishArticlePayload, delay_ms: number }>>`
      select payload, delay_ms from outbox where job_id = ${publicationJobId(articleId)} order by id`)

  tt.test('running the job twice leaves the same state as once', async t2 => {
    const article = await draft('Twice')
    const publishAt = new Date(Date.now() + 300)
    const { requestId } = await schedule(article.id, publishAt)
    const payload: PublishArticlePayload = { articleId: article.id, tenantId: tenant.id, publishAt: publishAt.toISOString() }
    const rows = await outboxRows(article.id)
    t2.same(rows.map(row => row.payload), [payload], 'scheduling wrote one outbox row with that payload')

    await run(payload, requestId)
    const once = await read(article.id)
    const auditOnce = await audit(article.id)
    t2.equal(once.status, 'published')
    t2.ok(Date.parse(once.published_at ?? '') >= publishAt.getTime(), 'a job a little early waits for the time')

    await run(payload, requestId)
    await Promise.all([run(payload, requestId), run(payload, requestId)])
    t2.same(await read(article.id), once, 'the article is unchanged by later runs')
    t2.same(await audit(article.id), auditOnce, 'and no audit entry is added')
  })

  tt.test('a stale job (the article was rescheduled) changes nothing', async t2 => {
    const article = await draft('Stale')
    const first = new Date(Date.now() + 200)
    await schedule(article.id, first)
    const second = new Date(Date.now() + 60_000)
    await schedule(article.id, second)
    const before = await read(article.id)
    await sleep(Math.max(0, first.getTime() - Date.now()))
    await run({ articleId: article.id, tenantId: tenant.id, publishAt: first.toISOString() }, 'req-stale')
    t2.same(await read(article.id), before, 'still scheduled for the second time')
    t2.notOk((await audit(article.id)).some(entry => entry.action === 'published'))
  })

  tt.test('a job that runs long before its time enqueues the next hop instead of publishing', async t2 => {
    const article = await draft('Far')
    const publishAt = new Date(Date.now() + 30 * 86_400_000)
    await schedule(article.id, publishAt)
    const payload: PublishArticlePayload = { articleId: article.id, tenantId: tenant.id, publishAt: publishAt.toISOString() }
    await run(payload, 'req-hop')
    t2.equal((await read(article.id)).status, 'scheduled', 'not published early')
    const rows = await outboxRows(article.id)
    t2.equal(rows.length, 2, 'a second hop was enqueued under the same job id')
    t2.same(rows[1]?.payload, payload)
    t2.ok((rows[1]?.delay_ms ?? 0) > 0 && (rows[1]?.delay_ms ?? Infinity) <= MAX_HOP_MS, 'delayed by at most one hop')

    await schedule(article.id, new Date(Date.now() + 40 * 86_400_000))
    await run(payload, 'req-hop-stale')
    t2.equal((await outboxRows(article.id)).length, 3, 'a stale hop enqueues nothing (only the reschedule did)')
  })
})
