// What bootstrap does on this host, decided from what checkHost found missing (pure, unit tested):
// only report, nothing to do, refuse (installing needs Debian/Ubuntu as root), or the install steps.
import { TEST_TOOLS, type Need } from './host.ts'

export type BootstrapDecision =
  /** --check or --dry-run: show the needs; exit 2 when something is missing */
  | { kind: 'report'; missing: string[] }
  /** nothing missing and nothing to build: the quick path npm test takes */
  | { kind: 'ready' }
  /** something is missing and this host can't install it automatically */
  | { kind: 'refuse'; missing: string[] }
  | {
      kind: 'install'
      /** Debian packages, each once, in order */
      packages: string[]
      compose: boolean
      liveRestore: boolean
      startDocker: boolean
      build: boolean
    }

export function decideBootstrap(
  needs: readonly Need[],
  o: { check: boolean; dryRun: boolean; noBuild: boolean; forTests: boolean; debianLike: boolean; root: boolean },
): BootstrapDecision {
  const missing = needs.filter((n) => !n.ok).map((n) => n.name)
  if (o.check || o.dryRun) return { kind: 'report', missing }
  if (!missing.length && o.noBuild) return { kind: 'ready' }
  if (missing.length && (!o.debianLike || !o.root)) return { kind: 'refuse', missing }
  const need = (name: string) => missing.includes(name)
  const packages: string[] = []
  if (need('docker CLI') || need('Docker Engine (dockerd)')) packages.push('docker.io')
  if (o.forTests) for (const [tool, pkg] of Object.entries(TEST_TOOLS)) if (need(tool)) packages.push(pkg)
  return {
    kind: 'install',
    packages: [...new Set(packages)],
    compose: need('Compose v2'),
    liveRestore: need('live-restore'),
    startDocker: need('Docker Engine running'),
    build: !o.noBuild,
  }
}
