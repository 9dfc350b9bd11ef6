// The checks every blue-green operation shares: drift, the words of a dry run and of failed probes
// (the version and slot validators are model.ts's, named here too).
import { RefusedError } from './errors.ts'
import type { ProbeResult } from './probe.ts'
import { otherSlot, type DeployState, type Slot } from './model.ts'
import type { Printer } from './ui.ts'

/** the validators live with the words they check (model.ts); named here for the operations' callers */
export { validateSlot, validateVersion } from './model.ts'

/** What to do about a gradual shift nobody is running any more. */
export function stuckShiftHint(to: Slot): string {
  return `Finish it with switch-to-green --slot ${to}, or abort it: rollback-production sends every bucket back to ${otherSlot(to)} (no container is recreated).`
}

/** The world and the record must agree before anything is changed. */
export function checkDrift(state: DeployState, live: Slot): void {
  if (state.live !== null && state.live !== live)
    throw new RefusedError(
      `Can't act: drift: the state file says ${state.live} is live but nginx routes to ${live}. Nothing was changed.`,
      `Find out why (npx zx scripts/health-check.ts). If nginx is right, record it: npx zx scripts/record-live.ts. If the state is right, switch: npx zx scripts/switch-to-green.ts --slot ${state.live}`,
    )
}

/** The failed probes of a round, as one line. */
export function describeProbes(results: ProbeResult[]): string {
  return results
    .filter((r) => !r.ok)
    .map((r) => `${r.name}: ${r.detail}`)
    .join('; ')
}

/** A dry run says what it would do and check; it claims nothing it did not observe. */
export function rehearse(ui: Printer, text: string): void {
  ui.info(`${ui.c.cyan('[dry-run]')} ${text}`)
}
