// The Store on disk: the target's state file and audit log under VAR_DIR, and the deploy metrics
// textfile told which slot is live. One store per Env: the script and the operation frame share it.
import { appendAudit } from '../audit.ts'
import { updateDeployMetrics } from '../deploy-metrics.ts'
import type { Store } from '../model.ts'
import type { Config } from '../config.ts'
import type { Paths } from '../paths.ts'
import type { Printer } from '../ui.ts'
import { readState, updateState } from '../state.ts'
import { rehearsalStore } from './dry-run-store.ts'

/** What a store needs of a script's Env (lib/script-env.ts). */
export type StoreEnv = { config: Pick<Config, 'target'>; paths: Paths; ui: Printer; dryRun?: boolean }

const built = new WeakMap<StoreEnv, Store>()

/** The Store of an Env (built on first use, then the same object); --dry-run gets the rehearsal store. */
export function fileStore(env: StoreEnv): Store {
  let store = built.get(env)
  if (!store) {
    store = env.dryRun ? rehearsalStore(env) : diskStore(env)
    built.set(env, store)
  }
  return store
}

function diskStore(env: StoreEnv): Store {
  const { paths, config, ui } = env
  return {
    read: () => readState(paths.state, config.target),
    update: (fn) => updateState(paths.state, config.target, fn),
    audit: (entry) => {
      // the steps of the operation so far (lib/timeline.ts), with their start and end
      const timeline = ui.timeline.entries()
      appendAudit(paths.audit, { target: config.target, ...entry, ...(timeline.length ? { timeline } : {}) }, (s) =>
        ui.mask(s),
      )
    },
    recordLive: async (slot, rollback) => {
      const problem = await updateDeployMetrics(paths.metrics, config.target, (m) => {
        m.live = slot
        if (rollback) m.rollbacks++
      })
      if (problem) ui.warn(`Could not update the deploy metrics textfile: ${problem}`)
    },
  }
}
