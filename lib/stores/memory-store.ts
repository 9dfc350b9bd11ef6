// A Store held in memory: the state object it was given, the audit entries in an array, and
// recordLive handed to a callback. Unit tests run operations against it.
import type { AuditEntry, DeployState, Slot, Store } from '../model.ts'

export type MemoryStore = Store & { state: DeployState; entries: AuditEntry[] }

/** Reads return copies; update changes `state` in place; audit entries are appended to `entries`. */
export function memoryStore(
  state: DeployState,
  o: { entries?: AuditEntry[]; recordLive?: (slot: Slot, rollback: boolean) => void } = {},
): MemoryStore {
  const entries = o.entries ?? []
  return {
    state,
    entries,
    read: () => structuredClone(state),
    update: (fn) => {
      fn(state)
      return structuredClone(state)
    },
    audit: (e) => void entries.push(e),
    recordLive: async (slot, rollback) => o.recordLive?.(slot, rollback),
  }
}
