import { writeFile } from 'node:fs/promises'
import { openapiDocument } from './openapi-document.ts'

/** `npm run openapi -- <file>`: writes the app's OpenAPI document (what /openapi.json serves) to <file>. */
const target = process.argv[2]
if (target === undefined) {
  process.stderr.write('usage: npm run openapi -- <file>\n')
  process.exit(2)
}
await writeFile(target, `${JSON.stringify(await openapiDocument(), null, 2)}\n`)
process.stdout.write(`openapi: wrote ${target}\n`)
