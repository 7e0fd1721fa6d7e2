export { noStoreFolder as default } from '../../../src/http/folder-hooks.ts'
