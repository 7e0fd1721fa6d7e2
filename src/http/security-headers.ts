import type { IncomingMessage, ServerResponse } from 'node:http'
import helmet, { type HelmetOptions } from 'helmet'

// @fastify/helmet runs helmet's whole middleware chain on every request (and builds it anew for
// each one, in two hooks), which measured as the costliest hook of a request. These headers never
// vary per request: helmet itself computes them once, and each response copies a frozen object.

/** Headers helmet would set with these options, read off a stand-in response. */
function helmetHeaders (options: HelmetOptions): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {}
  const recorder = {
    setHeader (name: string, value: string) { headers[name.toLowerCase()] = value },
    removeHeader () {}
  }
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, error => {
    if (error !== undefined) throw error
  })
  return Object.freeze(headers)
}

const sharedHelmetOptions: HelmetOptions = {
  strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
  xContentTypeOptions: true,
  xFrameOptions: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  // headers for browsers and plug-ins long gone (IE8 downloads, Flash policies, the XSS auditor)
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xDnsPrefetchControl: false,
  xXssProtection: false
}

/** JSON only: nothing may load, frame, or submit anything. */
export const apiHeaders = helmetHeaders({
  ...sharedHelmetOptions,
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] }
  }
})

/** swagger-ui: its scripts, styles and images come from /docs/static, the spec from /docs/json. */
export const docsHeaders = helmetHeaders({
  ...sharedHelmetOptions,
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"]
    }
  }
})

/** The docs page and its assets (plugins/openapi.ts) get docsHeaders, everything else apiHeaders. */
export const isDocsUrl = (url: string | undefined) => url !== undefined && (url === '/docs' || url.startsWith('/docs/'))
