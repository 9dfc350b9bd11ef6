// The `yaml` package, loaded on first use: importing it costs 150-250 ms, and the paths that must stay
// fast (rollback, health-check, status) read the app's model from its JSON cache and never need it.
import { createRequire } from 'node:module'
import type * as Yaml from 'yaml'

let lib: typeof Yaml | undefined

/** The `yaml` module (required synchronously the first time it is needed). */
export function yamlLib(): typeof Yaml {
  lib ??= createRequire(import.meta.url)('yaml') as typeof Yaml
  return lib
}
