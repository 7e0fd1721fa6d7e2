import neostandard from 'neostandard'

// The layout's import rule (README, Layout). Patterns match the import specifier as written
// (relative, with its .ts extension).
const upIntoPluginsOrRoutes = {
  regex: '(^|/)(plugins|routes)/',
  message: 'src/ never imports from plugins/ or routes/: move what both need into src/http/ or src/platform/.'
}
const intoFeatureInternals = {
  regex: '(^|/)features/[^/]+/(?!index\\.ts$)',
  message: "a feature's public entry is its index.ts: import from src/features/<name>/index.ts."
}
const siblingFeatureInternals = {
  // from src/features/<a>/<file>.ts, '../<b>/<file>.ts' is another feature's internals
  regex: '^\\.\\./[^./][^/]*/(?!index\\.ts$)',
  message: "another feature's internals: import from its index.ts, its public entry."
}
const intoFeatures = {
  regex: '(^|/)features/',
  message: 'the platform knows no feature: it is what every feature builds on.'
}
const postgresDriver = {
  name: 'postgres',
  message: 'only the platform db layer (src/platform/db/) talks to postgres.js; use its Database, Sql and TransactionSql types.'
}

export default [
  ...neostandard({
    ts: true,
    // client/atrium.d.ts is generated (npm run client)
    ignores: ['dist/**', 'node_modules/**', '.tap/**', 'client/atrium.d.ts']
  }),
  {
    // a TypeBox schema and its Static type share one name by design
    rules: { '@typescript-eslint/no-redeclare': 'off' }
  },
  {
    // Type-aware rules on the code that ships: a promise nobody awaits loses its rejection (an
    // unhandled rejection ends the process), and one passed where a void callback is expected
    // (an event listener, a timer) is never awaited. The types come from tsconfig.json through
    // typescript-eslint's project service.
    files: ['src/**/*.ts', 'plugins/**/*.ts', 'routes/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // `void promise` is how a fire-and-forget call that cannot reject says so (no-floating-promises' ignoreVoid)
      'no-void': ['error', { allowAsStatement: true }]
    }
  },
  {
    files: ['src/*.ts', 'src/http/**/*.ts', 'src/schemas/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [postgresDriver], patterns: [upIntoPluginsOrRoutes, intoFeatureInternals] }] }
  },
  {
    files: ['src/features/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [postgresDriver], patterns: [upIntoPluginsOrRoutes, { ...siblingFeatureInternals, regex: '^\\./[^./][^/]*/(?!index\\.ts$)' }] }] }
  },
  {
    files: ['src/features/*/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [postgresDriver], patterns: [upIntoPluginsOrRoutes, siblingFeatureInternals] }] }
  },
  {
    files: ['src/platform/**/*.ts'],
    ignores: ['src/platform/db/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [postgresDriver], patterns: [upIntoPluginsOrRoutes, intoFeatures] }] }
  },
  {
    files: ['src/platform/db/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [upIntoPluginsOrRoutes, intoFeatures] }] }
  },
  {
    files: ['plugins/**/*.ts', 'routes/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [postgresDriver], patterns: [intoFeatureInternals] }] }
  },
  {
    // plugins register each other through autoload and fastify-plugin dependencies, never by import
    files: ['routes/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [postgresDriver], patterns: [intoFeatureInternals, { regex: '(^|/)plugins/', message: 'routes reach plugins through the app (decorators, route config), not by import.' }] }] }
  }
]
