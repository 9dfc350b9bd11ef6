// Image references, pure: split "host:port/repo:tag@sha256:…" into its parts, find the registry an
// image lives in, and choose the repo digest that pins an image (what a release records and runs).

export type ImageRef = {
  /** registry host[:port], '' for Docker Hub */
  registry: string
  /** the repository with its registry, without tag or digest: 127.0.0.1:32500/team/web */
  repo: string
  tag: string
  /** sha256:<64 hex>, '' when the reference carries none */
  digest: string
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/

/** The first path part names a registry when it has a dot or a port, or is localhost (Docker's own rule). */
export function parseImageRef(ref: string): ImageRef {
  let rest = ref
  let digest = ''
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!DIGEST_RE.test(digest)) throw new Error(`${ref}: the digest must be sha256:<64 hex digits>`)
  }
  const slash = rest.lastIndexOf('/')
  const colon = rest.lastIndexOf(':')
  const tag = colon > slash ? rest.slice(colon + 1) : ''
  const repo = colon > slash ? rest.slice(0, colon) : rest
  const first = repo.split('/')[0]!
  const registry = repo.includes('/') && (/[.:]/.test(first) || first === 'localhost') ? first : ''
  if (!repo) throw new Error(`${ref}: no repository`)
  return { registry, repo, tag, digest }
}

/** repo@sha256:… : the reference that always names the same image, whatever happens to its tags. */
export function pinnedRef(repo: string, digest: string): string {
  return `${repo}@${digest}`
}

/** "sha256:0123456789ab" — enough to tell releases apart in a status line. */
export function shortDigest(refOrDigest: string): string {
  const m = /sha256:([a-f0-9]{12})/.exec(refOrDigest)
  return m ? `sha256:${m[1]}` : '-'
}

/**
 * The digest of `repo` among an image's RepoDigests (`docker image inspect`): the same image can be
 * known to several repositories; only the one we run from pins it. '' when it was never pushed or pulled.
 */
export function pickRepoDigest(repoDigests: string[], repo: string): string {
  for (const rd of repoDigests) {
    const at = rd.indexOf('@')
    if (at > 0 && rd.slice(0, at) === repo && DIGEST_RE.test(rd.slice(at + 1))) return rd.slice(at + 1)
  }
  return ''
}
