// The per-target state file: read (refusing a corrupt one, never a silent reset), written atomically
// with the last good copy kept as .bak, updated read-change-write. The world (nginx markers,
// containers) is the truth about what runs; this file records releases and what happened.
import fs from 'node:fs'
import { RefusedError, errorMessage } from './errors.ts'
import { writeFileAtomic } from './fsutil.ts'
import { SLOTS, emptyState, type DeployState } from './model.ts'

const MAX_RELEASES = 50
const MAX_HISTORY = 200

export class StateCorruptError extends RefusedError {}

/** Reads the state file. Missing: an empty state. Unreadable or malformed: an error, never a silent reset. */
export function readState(file: string, target: string): DeployState {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyState(target)
    throw new StateCorruptError(
      `Can't read the state file ${file}: ${errorMessage(e)}`,
      'Check its permissions. Nothing was changed.',
    )
  }
  const problem = (why: string) =>
    new StateCorruptError(
      `Can't use the state file ${file}: ${why}. Nothing was changed.`,
      `Inspect it; the last good copy is ${file}.bak. Restore it with: cp ${file}.bak ${file}`,
    )
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (e) {
    throw problem(`it is not valid JSON (${errorMessage(e)})`)
  }
  const s = data as Partial<DeployState>
  if (!s || typeof s !== 'object' || s.schema !== 1) throw problem('it is not a state file of schema 1')
  if (s.target !== target) throw problem(`it belongs to target "${String(s.target)}", not ${target}`)
  const isSlot = (v: unknown) => v === null || v === 'blue' || v === 'green'
  if (!isSlot(s.live ?? null)) throw problem(`"live" is ${JSON.stringify(s.live)}, not blue, green or null`)
  if (!s.slots || typeof s.slots !== 'object' || !Array.isArray(s.releases) || !Array.isArray(s.history))
    throw problem('"slots", "releases" or "history" is missing')
  const version = /^[A-Za-z0-9._-]{1,128}$/
  for (const slot of SLOTS) {
    const r = s.slots[slot]
    if (r != null && (typeof r !== 'object' || !version.test(String(r.version)) || r.slot !== slot))
      throw problem(`the release recorded in slot ${slot} is malformed`)
  }
  return { ...emptyState(target), ...s } as DeployState
}

export function writeState(file: string, state: DeployState): void {
  state.releases = state.releases.slice(-MAX_RELEASES)
  state.history = state.history.slice(-MAX_HISTORY)
  if (fs.existsSync(file)) {
    try {
      // keep the last good copy beside it, for a person to restore
      const prev = fs.readFileSync(file, 'utf8')
      JSON.parse(prev)
      writeFileAtomic(`${file}.bak`, prev, 0o640)
    } catch {
      // the current file is corrupt: do not overwrite the good .bak with it
    }
  }
  writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`, 0o640)
}

/** Read, change, write. fn may mutate the state it is given. */
export function updateState(file: string, target: string, fn: (s: DeployState) => void): DeployState {
  const s = readState(file, target)
  fn(s)
  writeState(file, s)
  return s
}
