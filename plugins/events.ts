import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions, onResponseHookHandler } from 'fastify'
import { Counter } from 'prom-client'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the domain event a successful call of this route is (`article.created`), counted in /metrics */
    event?: string
  }
}

/**
 * Automatic domain-event tracking: a route declares `config: { event: 'article.created' }` and
 * every 2xx answer of it counts in `atrium_domain_events_total{event}`. Only routes that declare
 * an event get the hook, so the others pay nothing.
 */
async function eventsPlugin (app: FastifyInstance): Promise<void> {
  const events = new Counter({
    name: 'atrium_domain_events_total',
    help: 'Successful domain mutations by event type',
    labelNames: ['event'] as const,
    registers: [app.metrics]
  })

  app.addHook('onRoute', (route: RouteOptions) => {
    const event = route.config?.event
    if (event === undefined) return
    const counter = events.labels(event)
    const count = (_request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
      if (reply.statusCode >= 200 && reply.statusCode < 300) counter.inc()
      done()
    }
    const existing = route.onResponse
    route.onResponse = existing === undefined
      ? count
      : [...(Array.isArray(existing) ? existing : [existing]), count] as onResponseHookHandler[]
  })
}

export default fp(eventsPlugin, { name: 'events', fastify: '5.x', dependencies: ['metrics'] })
