import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { clientTypes, clientTypesFile } from '../client/generate.ts'
import { openapiDocument } from './openapi-document.ts'

/** `npm run client`: regenerates client/atrium.d.ts from the routes' OpenAPI document. */
await writeFile(clientTypesFile, await clientTypes(await openapiDocument()))
process.stdout.write(`client: wrote ${fileURLToPath(clientTypesFile)}\n`)
