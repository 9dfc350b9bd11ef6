// Retention of local app images, pure: which images of the app's repository may go. An image
// stays while a kept release names it (by digest, or by tag when it was never pinned) or a
// container uses it; everything else of that repository is removable, tag and digest references alike.
export type LocalImage = { id: string; repoTags: string[]; repoDigests: string[] }

/** The references to remove (`docker image rm` each): images of `repo` that no kept ref or container names. */
export function pruneChoice(images: LocalImage[], repo: string, keep: Set<string>, inUseIds: Set<string>): string[] {
  const ours = (ref: string) => ref.startsWith(`${repo}:`) || ref.startsWith(`${repo}@`)
  const out: string[] = []
  for (const img of images) {
    const refs = [...img.repoTags, ...img.repoDigests].filter(ours)
    if (!refs.length || inUseIds.has(img.id)) continue
    if ([...img.repoTags, ...img.repoDigests].some((r) => keep.has(r))) continue
    out.push(...refs)
  }
  return out
}
