import { spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Teardown } from './app.ts'
import { freeLoopbackPort } from './service-process.ts'
import { waitFor } from './wait.ts'

export const productionNginxConfig = fileURLToPath(new URL('../../deploy/nginx.conf', import.meta.url))

/** The nginx binary on PATH or in the sbin folders Debian installs it to, if any. */
export function findNginx (): string | undefined {
  const folders = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin']
  for (const folder of folders.filter(f => f !== '')) {
    const candidate = join(folder, 'nginx')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {}
  }
  return undefined
}

export interface HttpResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** One GET on a fresh connection (no keep-alive agent left holding sockets after the test). */
export async function httpGet (url: string, headers: Record<string, string> = {}, timeoutMs = 5_000): Promise<HttpResponse> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers, agent: false, timeout: timeoutMs }, response => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        body: Buffer.concat(chunks).toString('utf8')
      }))
      response.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}

function replaceExactlyOnce (text: string, pattern: RegExp, replacement: string, what: string): string {
  const matches = text.match(new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`))
  if (matches?.length !== 1) {
    throw new Error(`deploy/nginx.conf: expected exactly one ${what} (${String(pattern)}), found ${matches?.length ?? 0}`)
  }
  return text.replace(pattern, replacement)
}

export interface NginxAdaptation {
  /** loopback port nginx listens on */
  listenPort: number
  /** loopback port of the app behind it, or of each instance of it (one upstream, round robin) */
  upstreamPort: number | readonly number[]
  /** of those, the ones marked `down`: nginx sends them nothing (an instance taken out of rotation) */
  downPorts?: readonly number[]
  /** folder for pid, logs and temp files */
  dir: string
}

/**
 * deploy/nginx.conf changed only in ports and paths: listen and upstream on loopback ports, pid,
 * logs and temp files in `dir`, and no `user` (workers run as the invoking user, or nobody under
 * root). Each change must match exactly once, so a drifting config fails loudly here.
 */
export function adaptNginxConfig (source: string, { listenPort, upstreamPort, dir, downPorts = [] }: NginxAdaptation): string {
  let text = source
  text = replaceExactlyOnce(text, /^user\s+[^;]+;\n/m, '', 'user directive')
  text = replaceExactlyOnce(text, /^pid\s+[^;]+;/m, `pid ${dir}/nginx.pid;`, 'pid directive')
  text = replaceExactlyOnce(text, /^error_log\s+\S+/m, `error_log ${dir}/error.log`, 'error_log directive')
  text = replaceExactlyOnce(text, /^(\s*)access_log\s+\S+/m, `$1access_log ${dir}/access.log`, 'access_log directive')
  text = replaceExactlyOnce(text, /^(\s*)listen\s+80\b/m, `$1listen 127.0.0.1:${listenPort}`, 'listen 80')
  const ports = typeof upstreamPort === 'number' ? [upstreamPort] : upstreamPort
  text = replaceExactlyOnce(text, /^(\s*)server\s+api:3000\b/m, ports.map(port => `$1server 127.0.0.1:${port}${downPorts.includes(port) ? ' down' : ''}`).join(';\n'), 'upstream server api:3000')
  const tempPaths = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map(kind => `  ${kind}_temp_path ${dir}/${kind}_temp;`).join('\n')
  text = replaceExactlyOnce(text, /^http\s*\{\n/m, `http {\n${tempPaths}\n`, 'http block')
  return text
}

export interface NginxAccessEntry {
  request_id: string
  method: string
  uri: string
  status: number
  route: string
  request_time: number
  upstream_response_time: string
  upstream_status: string
  [field: string]: unknown
}

export interface RunningNginx {
  /** http://127.0.0.1:<port> */
  url: string
  /** every access-log line so far, parsed */
  accessLog: () => Promise<NginxAccessEntry[]>
  /** the error log so far */
  errorLog: () => Promise<string>
  /**
   * Rewrites the upstream with these ports `down` (none: all in rotation) and reloads nginx
   * (SIGHUP), as an orchestrator takes an instance whose readiness failed out of rotation.
   */
  markDown: (ports: readonly number[]) => Promise<void>
}

/**
 * A real nginx running deploy/nginx.conf (adapted by adaptNginxConfig) in front of the app on
 * `upstreamPort`, answering once this resolves; stopped and its files removed at teardown.
 */
export async function startNginx (t: Teardown, binary: string, upstreamPort: number | readonly number[], adapt: (config: string) => string = config => config): Promise<RunningNginx> {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-nginx-'))
  // under root nginx's workers run as nobody: they need to reach the temp folders inside
  await chmod(dir, 0o755)
  const listenPort = await freeLoopbackPort()
  const configFile = join(dir, 'nginx.conf')
  const source = await readFile(productionNginxConfig, 'utf8')
  await writeFile(configFile, adapt(adaptNginxConfig(source, { listenPort, upstreamPort, dir })))

  // its own process group, so a stuck master and its workers can be killed together
  const child = spawn(binary, ['-p', dir, '-c', configFile, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  const running = (): boolean => child.exitCode === null && child.signalCode === null
  const killGroup = (): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
    } catch {}
  }
  process.once('exit', killGroup)

  const stop = async (): Promise<void> => {
    if (running()) {
      child.kill('SIGTERM') // fast shutdown: the master stops its workers, then exits
      const stopped = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)])
      if (!stopped) {
        killGroup()
        await exited
      }
    }
    process.removeListener('exit', killGroup)
    await rm(dir, { recursive: true, force: true })
  }
  t.teardown(stop)

  const url = `http://127.0.0.1:${listenPort}`
  try {
    await waitFor('nginx to answer', async () => {
      if (!running()) {
        const errorLog = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '')
        throw new Error(`nginx exited at start: ${stderr}${errorLog}`)
      }
      return await httpGet(`${url}/healthz`, {}, 1_000).catch(() => undefined)
    }, 10_000)
  } catch (error) {
    await stop()
    throw error
  }

  return {
    url,
    accessLog: async () => {
      const text = await readFile(join(dir, 'access.log'), 'utf8').catch(() => '')
      return text.split('\n').filter(line => line !== '').map(line => JSON.parse(line) as NginxAccessEntry)
    },
    errorLog: async () => await readFile(join(dir, 'error.log'), 'utf8').catch(() => ''),
    markDown: async ports => {
      await writeFile(configFile, adapt(adaptNginxConfig(source, { listenPort, upstreamPort, dir, downPorts: ports })))
      child.kill('SIGHUP')
      // new workers take over at once; the old ones finish what they hold and close idle clients
      await sleep(300)
    }
  }
}
