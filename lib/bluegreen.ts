// The blue-green operations (and the Store they record into, defined in model.ts). The operations live one per file (create,
// switch, rollback, retire, adopt); this module names them for the scripts, so a script imports one place.
// Written against a Platform (ports) and a Store, so unit tests run them with fakes.
import type { SlotStatus } from './platform.ts'
export type { Store } from './model.ts'

export type { SwitchThresholds as Thresholds } from './model.ts'

export { executeAdoptLive, planAdoptLive, type AdoptPlan } from './adopt.ts'
export { executeCreate, planCreate, type CreatePlan } from './create.ts'
export { executeRollback, planRollback, type RollbackPlan } from './rollback.ts'
export { retirePrevious } from './retire.ts'
export { checkDrift, rehearse, stuckShiftHint, validateSlot, validateVersion } from './slot-checks.ts'
export {
  executeSwitch,
  parseGradual,
  planSwitch,
  type SwitchOptions,
  type SwitchPlan,
  type SwitchResult,
} from './switch.ts'
export { confirmPublic, watchWindow } from './watch.ts'
export type { SlotStatus }
