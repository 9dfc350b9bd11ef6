// The images releases recorded, pure: the pinned reference a rollback runs, and the references of
// the releases whose images retention keeps on the host.
import type { DeployState, Release } from '../model.ts'

/** The pinned repo@sha256:… the newest record of `version` ran ('' when none was recorded). */
export function recordedImage(state: DeployState, version: string): string {
  const candidates = [...state.releases].reverse().concat(Object.values(state.slots).filter((r): r is Release => !!r))
  for (const r of candidates) {
    if (r.version !== version || !r.images) continue
    const ref = Object.values(r.images).find((v) => v.includes('@sha256:'))
    if (ref) return ref
  }
  return ''
}

/** The releases whose images stay: what each slot holds, and the newest `keep` recorded releases. */
export function keptReleases(state: DeployState, keep: number): Release[] {
  const out: Release[] = []
  for (const r of Object.values(state.slots)) if (r) out.push(r)
  const seen = new Set<string>()
  for (const r of [...state.releases].reverse()) {
    if (seen.size >= keep) break
    if (seen.has(r.version)) continue
    seen.add(r.version)
    out.push(r)
  }
  return out
}

/** The references kept releases run: their pinned refs when recorded, else repo:tag. */
export function keptRefs(releases: Release[], repo: string): Set<string> {
  const refs = new Set<string>()
  for (const r of releases) {
    const pinned = Object.values(r.images ?? {})
    if (pinned.length) for (const p of pinned) refs.add(p)
    else refs.add(`${repo}:${r.version}`)
  }
  return refs
}
