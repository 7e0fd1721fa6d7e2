import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'node_modules/**', '.tap/**']
  }),
  {
    // a TypeBox schema and its Static type share one name by design
    rules: { '@typescript-eslint/no-redeclare': 'off' }
  }
]
