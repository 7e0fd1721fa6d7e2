import { execFile } from 'node:child_process'
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { repoRoot } from './helpers/paths.ts'

const run = promisify(execFile)
/** development tools: what runs TypeScript (the image runs compiled JavaScript) and the readable-log transport */
const devOnly = new Set(['tsx', 'esbuild', '@esbuild', 'pino-pretty'])

/** every folder directly under a node_modules folder, at any depth, as its path from `root` */
async function installedPackages (root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true })
  return entries
    .filter(entry => entry.isDirectory() && entry.parentPath.endsWith('node_modules'))
    .map(entry => join(entry.parentPath, entry.name).slice(root.length + 1))
}

t.test("the image's install (npm ci --omit=dev, as the Dockerfile's runtime stage runs it) has no tsx, esbuild or pino-pretty", async tt => {
  const dir = await mkdtemp(join(tmpdir(), 'atrium-prod-deps-'))
  tt.teardown(() => rm(dir, { recursive: true, force: true }))
  await copyFile(join(repoRoot, 'package.json'), join(dir, 'package.json'))
  await copyFile(join(repoRoot, 'package-lock.json'), join(dir, 'package-lock.json'))
  await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir })

  const packages = await installedPackages(join(dir, 'node_modules'))
  tt.ok(packages.includes('fastify'), 'production dependencies are installed (fastify)')
  const found = packages.filter(path => devOnly.has(path.split('/node_modules/').at(-1)?.split('/')[0] ?? ''))
  tt.same(found, [], 'no tsx, esbuild, @esbuild/* or pino-pretty anywhere under node_modules')
})

t.test('tsx is a development dependency; smtp-server brings its own types', async tt => {
  const manifest = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>, devDependencies: Record<string, string>
  }
  tt.notOk('tsx' in manifest.dependencies, 'not a production dependency')
  tt.ok('tsx' in manifest.devDependencies, 'a development dependency (npm start, tests)')
  tt.notOk('@types/smtp-server' in manifest.devDependencies, 'no @types/smtp-server beside smtp-server')
})
