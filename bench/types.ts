import type autocannon from 'autocannon'

/** What every server and scenario may need: where the bench database and Redis are, the secrets. */
export interface BenchContext {
  /** owner role of the bench database: migrations and seeding */
  ownerUrl: string
  /** runtime role of the bench database (row-level security applies): what Atrium connects as */
  runtimeUrl: string
  redisUrl: string
  redisPrefix: string
  /** fresh each run, long enough for the production checks; scenarios sign tokens and webhooks with them */
  secrets: { jwt: string, paymentsWebhook: string }
  /** a local OTLP/HTTP receiver (bench/otlp-sink.ts): where a traced server exports its spans */
  otlpUrl: string
}

/** A server process the bench starts: a compiled script that calls serveForBench (bench/servers/serve.ts). */
export interface ServerSpec {
  name: string
  /** compiled entry point, relative to `root` */
  script: string
  /** the checkout the script is built in (absolute); absent: this repository (BENCH_COMPARE sets another) */
  root?: string
  /** environment of the process (besides PATH and HOME) */
  env?: (context: BenchContext) => Record<string, string>
  /** a process that runs beside the server for each run (Atrium's worker): started before it, stopped after it, from the same checkout */
  worker?: ServerSpec
  /** run under `nice -n <niceness>` (a lower CPU priority) */
  niceness?: number
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

interface ScenarioBase {
  /** unique; names the scenario in progress lines and RESULTS.md */
  name: string
  /**
   * Runs once, after the bench database is migrated and before any server starts (e.g. seeding);
   * log prints a progress line.
   */
  setup?: (context: BenchContext, log: (message: string) => void) => Promise<void>
}

/** One HTTP load: a server and the requests autocannon sends it. */
export interface HttpScenario extends ScenarioBase {
  kind?: 'http'
  server: ServerSpec
  method?: HttpMethod
  path: string
  headers?: Record<string, string>
  /** sent as JSON (content-type added) */
  body?: unknown
  /**
   * Requests that vary (a JWT or an id per request): autocannon cycles through them on every
   * connection; a request's setupRequest may rewrite it each time it is sent. Fields they leave
   * out fall back to method, path, headers and body above. Called for every run (warm-up included).
   */
  requests?: (context: BenchContext) => autocannon.Request[]
  /** the status every answer should have when it is not a 2xx (a revalidation's 304); any other non-2xx counts as a failure */
  expectedStatus?: number
}

/** What a command run measured: a RunResult without the labels the harness adds. */
export type Measurement = Omit<RunResult, 'scenario' | 'round'>

export interface CommandRun {
  durationS: number
  warmupS: number
  /** connections of an HTTP load the command drives itself (the bench's own runs use as many) */
  connections: number
  /** bench/.tmp: scripts and logs of the run go here (the harness empties nothing in it; clean up) */
  scratchDir: string
}

/** A load that is not a server driven by autocannon (pgbench): it measures itself. */
export interface CommandScenario extends ScenarioBase {
  kind: 'command'
  /** why it cannot run on this machine (a tool is missing): the bench then skips it and says so */
  unavailable?: () => string | undefined
  /** warms up for run.warmupS, then measures run.durationS */
  measure: (context: BenchContext, run: CommandRun) => Promise<Measurement>
}

export type Scenario = HttpScenario | CommandScenario

export type RatioMetric = 'requestsPerSec' | 'peakRssKb'

/** numerator ÷ denominator, computed per round and quoted as the median of the rounds. */
export interface Ratio {
  name: string
  numerator: Scenario
  denominator: Scenario
  /** requests per second unless said otherwise */
  metric?: RatioMetric
  target: number
  direction: '>=' | '<='
}

/** What one measured run of one scenario gave. */
export interface RunResult {
  scenario: string
  round: number
  requestsPerSec: number
  totalRequests: number
  latencyP50: number
  latencyP97_5: number
  latencyP99: number
  errors: number
  timeouts: number
  non2xx: number
  /** status code → count, for the codes that were not 2xx */
  badStatuses: Record<string, number>
  /** VmHWM of the server process at the end of the run (it was started for this run); undefined off Linux or without a server */
  peakRssKb: number | undefined
  /**
   * CPU time (user + system) the server process used in the measured run per request, in µs:
   * steadier than req/s on a machine whose cores the load generator shares; undefined without a server
   */
  serverCpuUsPerRequest: number | undefined
  /** what the server wrote to stdout (its logs) during the run */
  logBytes: number
  /** errors or non-2xx seen during the warm-up */
  warmupProblems: number
}
