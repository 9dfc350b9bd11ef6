// Retention of local app images, the runner: list the app repository's images and the images
// containers use, let pruneChoice (pure) pick what no kept release needs, remove those references.
import type { Config } from '../config.ts'
import { OperationError } from '../errors.ts'
import type { Gateway } from '../gateway.ts'
import type { DeployState } from '../model.ts'
import { parseImageRef } from './ref.ts'
import { pruneChoice, type LocalImage } from './prune.ts'
import { keptReleases, keptRefs } from './recorded.ts'

type Docker = Pick<Gateway, 'docker'>

/** The references of the app repository that no kept release and no container needs. */
export async function planPrune(gw: Docker, config: Config, state: DeployState): Promise<string[]> {
  const repo = parseImageRef(config.appImage).repo
  const list = await gw.docker(['image', 'ls', '--no-trunc', '--format', '{{.ID}}', repo], {
    changes: false,
    action: `list the local images of ${repo}`,
  })
  const ids = [...new Set(list.stdout.split('\n').filter(Boolean))]
  if (!ids.length) return []
  const inspected = await gw.docker(['image', 'inspect', ...ids], { changes: false, action: 'inspect the app images' })
  const images: LocalImage[] = (
    JSON.parse(inspected.stdout) as Array<{ Id: string; RepoTags: string[] | null; RepoDigests: string[] | null }>
  ).map((i) => ({ id: i.Id, repoTags: i.RepoTags ?? [], repoDigests: i.RepoDigests ?? [] }))
  const containers = await gw.docker(['ps', '--all', '--quiet', '--no-trunc'], {
    changes: false,
    action: 'list the containers',
  })
  const cids = containers.stdout.split('\n').filter(Boolean)
  const used = cids.length
    ? await gw.docker(['inspect', '--format', '{{.Image}}', ...cids], {
        nothrow: true,
        changes: false,
        action: 'read the images containers use',
      })
    : { stdout: '' }
  const inUse = new Set(used.stdout.split('\n').filter(Boolean))
  return pruneChoice(images, repo, keptRefs(keptReleases(state, config.registry.keepImages), repo), inUse)
}

/**
 * Removes each reference (an image goes when its last reference does). Removing an image's last tag
 * of a repository also drops its digest reference there, so a digest already gone is no failure.
 */
export async function removeImageRefs(gw: Docker, refs: string[]): Promise<void> {
  for (const ref of refs) {
    const action = `remove the image reference ${ref}`
    const r = await gw.docker(['image', 'rm', ref], { action, nothrow: true })
    if (!r.ok && !/No such image/i.test(r.stderr))
      throw new OperationError(
        `Can't ${action}: ${r.stderr.trim().split('\n').pop()}`,
        'See: docker image ls --digests',
      )
  }
}
