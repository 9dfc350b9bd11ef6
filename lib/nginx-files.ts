// The generated nginx includes on disk (VAR_DIR/nginx, bind-mounted at /etc/nginx/dms), laid out
// so that nginx never loads an unchecked or half-written set and a kill at any moment leaves a
// valid live set:
//   <name>.conf  -> current/<name>.conf   fixed links, the names nginx's config includes
//   current      -> sets/<id>             the live set, swapped by renaming a new link over it
//   sets/<id>/   complete sets            written as sets/<id>.tmp, then renamed
//   checks/<id>/ the repo's config rewritten to include sets/<id>, for `nginx -t -c`
// Every link is relative, so it resolves the same on the host and inside the container.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { faultPoint } from './fault.ts'
import { fsyncDir, writeFileAtomic } from './fsutil.ts'

/** Where the directory is mounted in the nginx container, and the repo's nginx config. */
export const CONTAINER_DIR = '/etc/nginx/dms'
const CONTAINER_REPO = '/etc/nginx/repo'
export const RELOAD_PENDING = '.reload-pending'

/** What nginx reads now for each include (through the links); null when missing. */
export function readIncludes(dir: string, names: readonly string[]): Record<string, string | null> {
  return Object.fromEntries(names.map((n) => [n, readOr(path.join(dir, n))]))
}

/** Writes a complete set as sets/<id> (all or nothing: written under sets/<id>.tmp, then renamed). */
export function stageSet(dir: string, files: Record<string, string>): string {
  const id = `${Date.now().toString(36)}-${process.pid}-${randomBytes(3).toString('hex')}`
  const tmp = path.join(dir, 'sets', `${id}.tmp`)
  fs.mkdirSync(tmp, { recursive: true })
  for (const [name, text] of Object.entries(files)) {
    writeFileAtomic(path.join(tmp, name), text, 0o644)
    faultPoint('nginx.staging')
  }
  fs.renameSync(tmp, path.join(dir, 'sets', id))
  fsyncDir(path.join(dir, 'sets'))
  faultPoint('nginx.staged')
  return id
}

/** Replaces `link` by a symlink to `target` in one rename (readers see the old or the new one). */
function swapLink(dir: string, link: string, target: string): void {
  const tmp = path.join(dir, `.${link}.${process.pid}.new`)
  fs.rmSync(tmp, { force: true })
  fs.symlinkSync(target, tmp)
  faultPoint('nginx.link-made')
  fs.renameSync(tmp, path.join(dir, link))
}

function linkTarget(file: string): string | null {
  try {
    return fs.readlinkSync(file)
  } catch {
    return null
  }
}

/** Makes set `id` the live one, then makes sure every include name is a link into it. */
export function activateSet(dir: string, id: string, names: readonly string[]): void {
  swapLink(dir, 'current', path.join('sets', id))
  fsyncDir(dir)
  faultPoint('nginx.swapped')
  for (const n of names)
    if (linkTarget(path.join(dir, n)) !== path.join('current', n)) swapLink(dir, n, path.join('current', n))
  fsyncDir(dir)
}

/**
 * The flat files of the layout before sets (regular files): first made a set of their own and
 * linked, so a kill while they are replaced one by one by links mixes nothing.
 */
export function adoptFlatFiles(dir: string, names: readonly string[]): void {
  if (linkTarget(path.join(dir, 'current')) !== null) return
  const present = readIncludes(dir, names)
  if (names.some((n) => present[n] === null)) return // no complete old set: nothing to keep
  activateSet(dir, stageSet(dir, present as Record<string, string>), names)
}

/** Removes every set but the live one, unfinished ones and check trees (what a kill left too). */
export function pruneSets(dir: string): void {
  const live = path.basename(linkTarget(path.join(dir, 'current')) ?? '')
  for (const sub of ['sets', 'checks']) {
    let entries: string[] = []
    try {
      entries = fs.readdirSync(path.join(dir, sub))
    } catch {
      continue
    }
    for (const e of entries)
      if (sub === 'checks' || e !== live) fs.rmSync(path.join(dir, sub, e), { recursive: true, force: true })
  }
  for (const e of fs.readdirSync(dir)) if (/^\..*\.new$/.test(e)) fs.rmSync(path.join(dir, e), { force: true })
}

/** The repo's config files with every include of the live set or the repo pointed at set `id` and its check tree. */
export function checkTree(repoFiles: Record<string, string>, id: string): Record<string, string> {
  const to = { repo: `${CONTAINER_DIR}/checks/${id}/`, dms: `${CONTAINER_DIR}/sets/${id}/` }
  const re = new RegExp(`(${CONTAINER_REPO}|${CONTAINER_DIR})/`, 'g')
  return Object.fromEntries(
    Object.entries(repoFiles).map(([rel, text]) => [
      rel,
      text.replace(re, (_m, p: string) => (p === CONTAINER_REPO ? to.repo : to.dms)),
    ]),
  )
}

/** Writes the check tree of set `id` from the repo's nginx dir; returns its nginx.conf as nginx sees it. */
export function writeCheckTree(dir: string, repoNginxDir: string, id: string): string {
  const files: Record<string, string> = {}
  const walk = (sub: string): void => {
    for (const e of fs.readdirSync(path.join(repoNginxDir, sub), { withFileTypes: true })) {
      const rel = path.join(sub, e.name)
      if (e.isDirectory()) walk(rel)
      else if (e.isFile()) files[rel] = fs.readFileSync(path.join(repoNginxDir, rel), 'utf8')
    }
  }
  walk('')
  for (const [rel, text] of Object.entries(checkTree(files, id)))
    writeFileAtomic(path.join(dir, 'checks', id, rel), text, 0o644)
  return `${CONTAINER_DIR}/checks/${id}/nginx.conf`
}

function readOr(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return null
  }
}
