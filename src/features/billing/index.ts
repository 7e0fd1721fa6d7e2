/**
 * Payments: verified, deduplicated provider webhooks, subscriptions and receipts. The public entry
 * of the feature: other features, plugins and routes import from here.
 */
export * from './schemas.ts'
export { BillingService } from './service.ts'
export { WebhookSignatureVerifier } from './signature.ts'
export { registerBillingJobs } from './jobs.ts'
