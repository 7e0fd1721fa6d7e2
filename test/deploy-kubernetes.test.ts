import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { Deployment } from 'kubernetes-models/apps/v1'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2'
import { Job } from 'kubernetes-models/batch/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { ConfigMap, Service } from 'kubernetes-models/v1'
import type { IContainer, IPodSpec } from 'kubernetes-models/v1'
import { ConfigSchema } from '../src/config.ts'
import { repoRoot } from './helpers/paths.ts'

const folder = join(repoRoot, 'deploy/kubernetes')
const settings = new Set(Object.keys(ConfigSchema.properties))
/** settings that are secrets: they must come from the Secret, never a value in a manifest */
const SECRETS = new Set(['DATABASE_URL', 'DATABASE_LISTEN_URL', 'DATABASE_OWNER_URL', 'REDIS_URL', 'JWT_SECRETS', 'PAYMENTS_WEBHOOK_SECRETS'])

interface Manifest { file: string, apiVersion: string, kind: string, metadata: { name: string }, [key: string]: unknown }

/** Each kind the folder may hold, validated by its kubernetes-models class (the Kubernetes schema). */
const models: Record<string, (manifest: Manifest) => { validate: () => void }> = {
  'v1/ConfigMap': m => new ConfigMap(m as unknown as ConstructorParameters<typeof ConfigMap>[0]),
  'v1/Service': m => new Service(m as unknown as ConstructorParameters<typeof Service>[0]),
  'apps/v1/Deployment': m => new Deployment(m as unknown as ConstructorParameters<typeof Deployment>[0]),
  'batch/v1/Job': m => new Job(m as unknown as ConstructorParameters<typeof Job>[0]),
  'policy/v1/PodDisruptionBudget': m => new PodDisruptionBudget(m as unknown as ConstructorParameters<typeof PodDisruptionBudget>[0]),
  'autoscaling/v2/HorizontalPodAutoscaler': m => new HorizontalPodAutoscaler(m as unknown as ConstructorParameters<typeof HorizontalPodAutoscaler>[0])
}

const files = (await readdir(folder)).filter(f => f.endsWith('.yaml')).sort()
const manifests: Manifest[] = []
for (const file of files.filter(f => f !== 'kustomization.yaml')) {
  for (const document of parseAllDocuments(await readFile(join(folder, file), 'utf8'))) {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors.map(e => e.message).join('; ')}`)
    manifests.push({ ...(document.toJS() as Record<string, unknown>), file } as Manifest)
  }
}
const named = <T>(kind: string, name: string): T => {
  const found = manifests.find(m => m.kind === kind && m.metadata.name === name)
  if (found === undefined) throw new Error(`no ${kind} ${name} in deploy/kubernetes`)
  return found as unknown as T
}

t.test('every manifest is valid against the Kubernetes schema of its kind', async tt => {
  tt.ok(manifests.length >= 10, `${manifests.length} manifests in ${files.length} files`)
  for (const manifest of manifests) {
    const model = models[`${manifest.apiVersion}/${manifest.kind}`]
    tt.ok(model, `${manifest.file}: ${manifest.apiVersion} ${manifest.kind} is a kind this test knows`)
    if (model === undefined) continue
    const { file, ...object } = manifest
    tt.doesNotThrow(() => model(object as Manifest).validate(), `${file}: ${manifest.kind} ${manifest.metadata.name} validates`)
  }
  const kustomization = (await readFile(join(folder, 'kustomization.yaml'), 'utf8'))
  for (const file of files.filter(f => f !== 'kustomization.yaml')) tt.match(kustomization, `- ${file}`, `kustomization.yaml lists ${file}`)
})

const config = named<{ data: Record<string, string> }>('ConfigMap', 'atrium-config').data
type PodTemplate = { spec: { template: { metadata: { labels: Record<string, string> }, spec: IPodSpec } } }
const api = named<PodTemplate>('Deployment', 'atrium-api')
const worker = named<PodTemplate>('Deployment', 'atrium-worker')
const migrate = named<PodTemplate>('Job', 'atrium-migrate')
const containerOf = (pod: PodTemplate): IContainer => pod.spec.template.spec.containers[0]!

t.test('the app containers name only settings of ConfigSchema, and take secrets from the Secret', async tt => {
  for (const key of Object.keys(config)) {
    tt.ok(settings.has(key), `atrium-config: ${key} is a setting`)
    tt.notOk(SECRETS.has(key), `atrium-config: ${key} is not a secret`)
  }
  for (const [name, pod] of [['api', api], ['worker', worker], ['migrate', migrate]] as const) {
    const container = containerOf(pod)
    tt.same(container.envFrom, [{ configMapRef: { name: 'atrium-config' } }], `${name}: settings from atrium-config`)
    for (const variable of container.env ?? []) {
      tt.ok(settings.has(variable.name), `${name}: ${variable.name} is a setting`)
      if (SECRETS.has(variable.name)) {
        tt.same(variable.valueFrom, { secretKeyRef: { name: 'atrium-secrets', key: variable.name } }, `${name}: ${variable.name} from the Secret, no default`)
      }
    }
    const names = new Set((container.env ?? []).map(v => v.name))
    for (const required of ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRETS', 'PAYMENTS_WEBHOOK_SECRETS']) tt.ok(names.has(required), `${name}: sets ${required}`)
    tt.ok(container.resources?.requests?.cpu !== undefined && container.resources.requests.memory !== undefined, `${name}: resource requests`)
    tt.ok(container.resources?.limits?.memory !== undefined, `${name}: a memory limit`)
  }
  tt.match(containerOf(api).env, [{ name: 'ROLE', value: 'api' }], 'api: ROLE=api')
  tt.match(containerOf(worker).env, [{ name: 'ROLE', value: 'worker' }], 'worker: ROLE=worker')
  tt.ok(containerOf(worker).env?.some(v => v.name === 'DATABASE_LISTEN_URL'), 'worker: the relay LISTENs past PgBouncer')
  tt.ok(containerOf(migrate).env?.some(v => v.name === 'DATABASE_OWNER_URL'), 'migrate: the owner connection')
  tt.equal(config.DATABASE_PREPARE, 'false', 'behind PgBouncer: DATABASE_PREPARE=false')
  tt.equal(containerOf(api).image, containerOf(worker).image, 'api and worker run the same image')
})

t.test('api probes, port and draining match the app', async tt => {
  const container = containerOf(api)
  const port = Number(config.PORT)
  tt.same(container.ports, [{ name: 'http', containerPort: port }], `the container port is PORT (${port})`)
  tt.match(container.readinessProbe, { httpGet: { path: '/readyz', port: 'http' } }, 'readiness: /readyz')
  tt.match(container.livenessProbe, { httpGet: { path: '/healthz', port: 'http' } }, 'liveness: /healthz')
  const delayMs = Number(config.SHUTDOWN_DELAY_MS)
  const graceMs = Number(config.SHUTDOWN_GRACE_MS ?? ConfigSchema.properties.SHUTDOWN_GRACE_MS.default)
  const probe = container.readinessProbe!
  const notReadyWithinMs = ((probe.periodSeconds ?? 10) * (probe.failureThreshold ?? 3) + (probe.timeoutSeconds ?? 1)) * 1_000
  tt.ok(delayMs > notReadyWithinMs, `SHUTDOWN_DELAY_MS (${delayMs}) outlasts the readiness probe noticing (${notReadyWithinMs} ms)`)
  for (const [name, pod, needed] of [['api', api, delayMs + graceMs], ['worker', worker, graceMs]] as const) {
    const period = (pod.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1_000
    tt.ok(period > needed, `${name}: terminationGracePeriodSeconds (${period} ms) above what shutdown may take (${needed} ms)`)
  }
  const service = named<{ spec: { selector: Record<string, string>, ports: Array<{ targetPort: string }> } }>('Service', 'atrium-api')
  tt.match(api.spec.template.metadata.labels, service.spec.selector, 'the Service selects the api pods')
  tt.equal(service.spec.ports[0]?.targetPort, 'http', 'and targets their http port')
})

t.test('the autoscalers, disruption budgets and PgBouncer point at what exists', async tt => {
  for (const [deployment, pod] of [['atrium-api', api], ['atrium-worker', worker]] as const) {
    const hpa = named<{ spec: { scaleTargetRef: { kind: string, name: string }, minReplicas: number, metrics: Array<{ resource?: { name: string } }> } }>('HorizontalPodAutoscaler', deployment)
    tt.same(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment }, `HPA scales ${deployment}`)
    tt.equal(hpa.spec.metrics[0]?.resource?.name, 'cpu', `${deployment}: on CPU`)
    tt.ok(hpa.spec.minReplicas >= 2, `${deployment}: at least 2 replicas`)
    const pdb = named<{ spec: { selector: { matchLabels: Record<string, string> } } }>('PodDisruptionBudget', deployment)
    tt.match(pod.spec.template.metadata.labels, pdb.spec.selector.matchLabels, `the PDB selects ${deployment}'s pods`)
  }
  const pgbouncer = named<{ data: Record<string, string> }>('ConfigMap', 'pgbouncer-config')
  tt.equal(pgbouncer.data['pgbouncer.ini'], await readFile(join(repoRoot, 'deploy/pgbouncer/pgbouncer.ini'), 'utf8'), 'pgbouncer.ini is deploy/pgbouncer/pgbouncer.ini')
  tt.equal(pgbouncer.data['entrypoint.sh'], await readFile(join(repoRoot, 'deploy/pgbouncer/entrypoint.sh'), 'utf8'), 'entrypoint.sh is deploy/pgbouncer/entrypoint.sh')
  tt.match(pgbouncer.data['pgbouncer.ini'], /^pool_mode = transaction$/m, 'transaction pooling')
  tt.match(pgbouncer.data['pgbouncer.ini'], /^listen_port = 6432$/m, 'on 6432')
})
