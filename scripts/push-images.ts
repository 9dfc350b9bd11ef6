#!/usr/bin/env -S npx zx
// Build and push: builds the app image of a release from its Dockerfile and pushes it to REGISTRY
// with the release tag (for teams without CI); prints the digest deploys will pin.
import { runScript } from '../lib/cli.ts'
import { loadEnv, LOCK_FLAGS } from '../lib/script-env.ts'
import { validateVersion } from '../lib/model.ts'
import { RefusedError, UsageError } from '../lib/errors.ts'
import { createGateway } from '../lib/gateway.ts'
import { shortDigest } from '../lib/images/ref.ts'
import { pushImage } from '../lib/images/registry.ts'
import { runOperation } from '../lib/operation.ts'
import { createPlatform } from '../lib/platform.ts'

await runScript(
  {
    name: 'push-images',
    summary: "Build the app's image for a release and push it to the target's registry with the release tag.",
    flags: {
      version: { type: 'string', value: '<tag>', description: 'the release (image tag) to build and push' },
      'no-build': {
        type: 'boolean',
        description: 'push the image already on this host under that tag, without building',
      },
      ...LOCK_FLAGS,
    },
    examples: [
      'npx zx scripts/push-images.ts --version v2 --yes',
      'npx zx scripts/push-images.ts --version v2 --dry-run',
    ],
  },
  async (ctx) => {
    const version = validateVersion(ctx.flags.version)
    const env = loadEnv(ctx, { generateSecrets: false })
    const { config } = env
    if (!config.registry.server)
      throw new UsageError(
        "Can't push images: no registry is configured for this target. Nothing was changed.",
        'Set REGISTRY (and APP_IMAGE=<registry>/<repository>, REGISTRY_USER) in the env file, REGISTRY_PASSWORD in its .local file.',
      )
    const image = `${config.appImage}:${version}`
    const noBuild = ctx.flags['no-build'] === true
    const gw = createGateway(ctx.ui, { dryRun: ctx.common.dryRun })
    const p = createPlatform(config, env.paths, ctx.ui, { dryRun: ctx.common.dryRun })
    return runOperation(ctx, env, {
      action: 'push-images',
      describe: `build and push ${image}`,
      plan: async () => {
        if (noBuild && !(await p.imageAvailable(version)))
          throw new RefusedError(
            `Can't push ${image}: it is not on this host. Nothing was changed.`,
            'Build it first, or leave out --no-build.',
          )
        const build = noBuild ? `use ${image} as built on this host` : `build ${image} from compose/images/app`
        return { steps: [build, `push ${image} to ${config.registry.server}`] }
      },
      execute: async () => {
        if (!noBuild) await ctx.ui.step(`Building ${image}`, () => p.buildImage(version))
        return ctx.ui.step(`Pushing ${image}`, () => pushImage(gw, config.registry, image))
      },
      rehearse: true,
      report: (_plan, digest) => ctx.ui.success(`Pushed ${image} (${shortDigest(digest)}); deploys pin ${digest}.`),
      json: (_plan, digest) => ({ action: 'push-images', image, digest }),
    })
  },
)
