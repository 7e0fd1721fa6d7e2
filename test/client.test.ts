import { readFile } from 'node:fs/promises'
import t from 'tap'
import { clientTypes, clientTypesFile } from '../client/generate.ts'
import { buildTestApp } from './helpers/app.ts'

/** client/atrium.d.ts is what `npm run client` makes of the current routes, byte for byte. */
const { app } = await buildTestApp(t)

t.test('the committed client types are what the current routes generate', async tt => {
  const response = await app.inject({ method: 'GET', url: '/openapi.json' })
  tt.equal(response.statusCode, 200)
  const generated = await clientTypes(response.json())
  const committed = await readFile(clientTypesFile, 'utf8')
  tt.ok(generated.includes('"/v1/articles/{id}"'), 'the generated types name the routes')
  const firstDifference = [...generated].findIndex((char, i) => committed[i] !== char)
  tt.ok(generated === committed, generated === committed
    ? 'client/atrium.d.ts is current'
    : `client/atrium.d.ts differs from what the routes generate (from character ${firstDifference === -1 ? generated.length : firstDifference}): run npm run client and commit it`)
})
