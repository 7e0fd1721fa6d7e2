import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ArticleEnvelope, ArticleList, ArticleListQuery, ArticleParams, ArticlePatchBody, NewArticleBody, ScheduleBody, articlePageTag, articleTag } from '../../../src/features/articles/index.ts'
import { actorOf } from '../../../src/http/actor.ts'
import { notModified } from '../../../src/http/revalidation.ts'

const tags = ['articles']
/** the answer to a matching If-None-Match (src/http/revalidation.ts) */
const NotModified = Type.Null({ description: 'Not Modified: the If-None-Match names the current ETag; no body' })

const articlesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const articles = app.services.articles

  app.get('/', {
    config: { permission: 'articles:read' },
    schema: { summary: 'List articles, newest first', tags, querystring: ArticleListQuery, response: { 200: ArticleList, 304: NotModified } }
  }, async (request, reply) => {
    const { limit, cursor, status, tag, author_id: authorId } = request.query
    const page = await articles.list(request.tenant!.id, { status, tag, author_id: authorId }, limit, cursor)
    return notModified(request, reply, articlePageTag(page)) ? reply : page
  })

  app.post('/', {
    config: { permission: 'articles:write', event: 'article.created' },
    schema: { summary: 'Create a draft article', tags, body: NewArticleBody, response: { 201: ArticleEnvelope } }
  }, async (request, reply) => {
    const article = await articles.create(request.tenant!.id, actorOf(request), request.body)
    reply.code(201)
    return { article }
  })

  app.get('/:id', {
    config: { permission: 'articles:read' },
    schema: { summary: 'Get one article', tags, params: ArticleParams, response: { 200: ArticleEnvelope, 304: NotModified } }
  }, async (request, reply) => {
    const article = await articles.get(request.tenant!.id, request.params.id)
    return notModified(request, reply, articleTag(article)) ? reply : { article }
  })

  app.patch('/:id', {
    config: { permission: 'articles:write', event: 'article.updated' },
    schema: { summary: 'Change an article', tags, params: ArticleParams, body: ArticlePatchBody, response: { 200: ArticleEnvelope } }
  }, async (request) => ({ article: await articles.update(request.tenant!.id, actorOf(request), request.params.id, request.body) }))

  app.delete('/:id', {
    config: { permission: 'articles:write', event: 'article.deleted' },
    schema: { summary: 'Delete an article', tags, params: ArticleParams, response: { 204: Type.Null() } }
  }, async (request, reply) => {
    await articles.remove(request.tenant!.id, actorOf(request), request.params.id)
    reply.code(204)
  })

  app.post('/:id/publish', {
    config: { permission: 'articles:publish', event: 'article.published' },
    schema: { summary: 'Publish an article now', tags, params: ArticleParams, response: { 200: ArticleEnvelope } }
  }, async (request) => ({ article: await articles.publish(request.tenant!.id, actorOf(request), request.params.id) }))

  app.post('/:id/schedule', {
    config: { permission: 'articles:publish', feature: 'scheduled-publishing', event: 'article.scheduled' },
    schema: { summary: 'Schedule an article to be published later', tags, params: ArticleParams, body: ScheduleBody, response: { 200: ArticleEnvelope } }
  }, async (request) => ({
    article: await articles.schedule(request.tenant!.id, actorOf(request), request.params.id, new Date(request.body.publish_at))
  }))
}

export default articlesRoutes
