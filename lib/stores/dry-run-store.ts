// The Store of a --dry-run: reads the real state file once, keeps every change in memory, writes
// nothing (no state, no audit line, no metrics).
import type { DeployState, Store } from '../model.ts'
import type { Paths } from '../paths.ts'
import { readState } from '../state.ts'

export function rehearsalStore(env: { paths: Pick<Paths, 'state'>; config: { target: string } }): Store {
  let state: DeployState | null = null
  const current = () => (state ??= readState(env.paths.state, env.config.target))
  return {
    read: () => structuredClone(current()),
    update: (fn) => {
      fn(current())
      return structuredClone(current())
    },
    audit: () => undefined,
    recordLive: async () => undefined,
  }
}
