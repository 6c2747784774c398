// Validation of a config file's default export, and its normalization into a
// Config. Every problem is reported, each as "expected <what>, found <value>"
// under its field path; messages are written where the check is, so that the
// wording a user sees can be read next to the rule.
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import type { ZodType } from 'zod'
import { z } from './zod.ts'
import type { Config, GitRef, Source, UserConfig, UserSource, UserVariant, Variant } from './config.ts'
import { ConfigError, type ConfigProblem } from '../errors.ts'
import { apiUrlProblem, hasCredentials, normalApiUrl } from '../../github/github-url.ts'
import type { ClusterNameRule, Deployer, Plugin, PluginDefinition, Tester } from '../plugin.ts'
import { closest } from '../closest.ts'
import { expected, formatPath, isObject, listed, object, text, whenObject, withoutPassword } from './schema-kit.ts'
import {
  branchNameProblem,
  clusterNameProblem,
  dockerTagProblem,
  imageRefProblem,
  isCommitId,
  isRemotePath,
  parseImageRef,
  remoteProblem,
  repositoryPrefixProblem,
  tagNameProblem,
} from './validate.ts'

export interface ParseConfigOptions {
  /** The plugins the config may use, with their schemas (loadPlugins): kspawn's, and those in the config's own `plugins`. */
  plugins: KnownPlugins
  /** Absolute path of the config file: relative paths in the config are resolved against its folder. */
  file: string
  /** How messages name the file. Default: `file`. */
  displayFile?: string
  /** What `~` expands to. Default: the user's home folder. */
  home?: string
}

/** Validates a config file's default export and returns it normalized; throws a ConfigError listing every problem. */
export function parseConfig(input: unknown, { plugins, file, displayFile = file, home = homedir() }: ParseConfigOptions): Config {
  const fail = (issues: readonly { path: readonly PropertyKey[]; message: string }[]) =>
    new ConfigError(displayFile, issues.map((issue): ConfigProblem => ({ path: formatPath(issue.path), message: issue.message })))
  // The config's own plugins first: the rest of it is checked against them.
  const own = ownPlugins(input)
  const listProblems = pluginListProblems(own, plugins.known.filter((definition) => !(Array.isArray(own) && own.includes(definition))))
  if (listProblems.length > 0) throw fail(listProblems)
  const unloaded = Array.isArray(own) ? own.findIndex((definition) => !plugins.known.includes(definition as PluginDefinition)) : -1
  if (unloaded !== -1) throw fail([{ path: ['plugins', unloaded], message: 'expected a plugin whose schema was loaded with the config (loadConfig does it), found one that was not' }])
  const result = userConfigSchema(plugins, isObject(input) ? input.deployer : undefined).safeParse(input)
  if (!result.success) throw fail(result.error.issues)
  // The schema checked the input against UserConfig; normalizing the input itself keeps plugin values as their factories made them.
  return normalize(input as UserConfig, plugins.known, file, home)
}

/** The `plugins` field of a config's default export, as written. */
export function ownPlugins(input: unknown): unknown {
  return isObject(input) ? input.plugins : undefined
}

/**
 * The plugins a config may use, with their schemas: kspawn's own and the
 * config's (`plugins`), which must each be a valid definition with a name no
 * other plugin of its kind has; a ConfigError says what is wrong with them.
 */
export async function loadPlugins(builtin: readonly PluginDefinition[], own: unknown = undefined, displayFile = 'the config'): Promise<KnownPlugins> {
  const problems = pluginListProblems(own, builtin)
  if (problems.length > 0) throw new ConfigError(displayFile, problems.map((issue) => ({ path: formatPath(issue.path), message: issue.message })))
  const known = [...builtin, ...((own as PluginDefinition[] | undefined) ?? [])]
  const schemas = new Map<string, ZodType>()
  for (const definition of known) schemas.set(pluginKey(definition.kind, definition.name), await definition.schema())
  return { known, schemas }
}

const tagWhat = 'a Docker image tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})'
const dnsLabel = 'a lowercase DNS label'

/** `a cluster name (a lowercase DNS label not ending in a digit)`, with the deployer's own rule when it has one. */
function clusterWhat(rule: ClusterNameRule | undefined): string {
  return `a cluster name (${rule?.what ?? dnsLabel})`
}

const apiWhat = 'a GitHub API URL, such as https://github.example.com/api/v3'

const nonEmpty = (value: string) => (value === '' ? 'it is empty' : undefined)
/** A folder path: `~/` is the home folder; `~user/` is not expanded, and would be taken for a folder named `~user`. */
const folderPath = (value: string) =>
  value === '' ? 'it is empty' : /^~[^/]/.test(value) ? `it starts with ${value.split('/')[0]}, which kspawn does not expand: give the full path (~/ is your own home folder)` : undefined

const source = object('a source ({ remote, branch }, { remote, commit } or { remote, tag })', {
  remote: text('a git remote (https://…, ssh://…, user@host:path, file://… or a path)', remoteProblem, withoutPassword),
  branch: text('a git branch name', branchNameProblem).optional(),
  commit: text('a commit id (7 to 40 hexadecimal digits)', (id) => (isCommitId(id) ? undefined : '')).optional(),
  tag: text('a git tag name', tagNameProblem).optional(),
}).check(
  z.superRefine((value, ctx) => {
    const refs = (['branch', 'commit', 'tag'] as const).filter((key) => value[key] !== undefined)
    if (refs.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `expected one of branch, commit or tag, found ${refs.length === 0 ? 'none' : listed(refs)}` })
    }
  }, whenObject),
)

export interface KnownPlugins {
  known: readonly PluginDefinition[]
  /** By pluginKey(kind, name). */
  schemas: ReadonlyMap<string, ZodType>
}

function pluginKey(kind: string, name: string): string {
  return `${kind}\0${name}`
}

function testers(plugins: KnownPlugins) {
  return z.array(plugin('tester', plugins), { error: (issue) => expected('a list of testers', issue.input) })
}

const variant = (plugins: KnownPlugins, configDeployer: unknown) => object('a variant: { source, tag } to build an image, or { image } to use an external one', {
  source: source.optional(),
  tag: text(tagWhat, dockerTagProblem).optional(),
  image: text('an image reference ([registry/]repository:tag or [registry/]repository@sha256:<digest>)', (ref) => {
    const problem = imageRefProblem(ref)
    if (problem !== undefined) return problem
    const image = parseImageRef(ref)
    return image?.tag === undefined && image?.digest === undefined ? 'it has neither a tag nor a digest' : undefined
  }).optional(),
  // Checked with the rule of the variant's deployer, below.
  cluster: z.string({ error: (issue) => expected(`a cluster name (${dnsLabel})`, issue.input) }).optional(),
  deployer: plugin('deployer', plugins).optional(),
  smoke: testers(plugins).optional(),
}).check(
  z.superRefine((value, ctx) => {
    if (typeof value.cluster === 'string') {
      const rule = clusterNameRule(plugins, value.deployer ?? configDeployer)
      const problem = clusterNameProblem(value.cluster) ?? rule?.problem(value.cluster)
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['cluster'], message: expected(clusterWhat(rule), value.cluster, problem) })
    }
    if (value.image !== undefined) {
      const image = typeof value.image === 'string' ? parseImageRef(value.image) : undefined
      if (value.tag === undefined && image?.digest !== undefined && image.tag === undefined) {
        const what = `${tagWhat} to run the image by, as its reference has a digest but no tag`
        ctx.addIssue({ code: 'custom', path: ['tag'], message: expected(what, undefined) })
      }
    } else if (value.source === undefined && value.tag === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected source and tag (to build an image) or image (to use an external one), found neither' })
    } else if (value.tag === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tag'], message: expected(`${tagWhat} to name the image built from source`, undefined) })
    } else if (value.source === undefined) {
      ctx.addIssue({ code: 'custom', path: ['source'], message: expected('the source to build (or image, to use an external image)', undefined) })
    }
  }, whenObject),
)

const userConfigSchema = (plugins: KnownPlugins, configDeployer: unknown) => object('a config object (export default defineConfig({ ... }))', {
  kubernetes: object('{ checkout: <path of your Kubernetes checkout> }', {
    checkout: text('the path of your Kubernetes checkout', folderPath),
  }),
  workdir: text('a folder path', folderPath).optional(),
  // Checked first, by pluginListProblems.
  plugins: z.unknown().optional(),
  deployer: plugin('deployer', plugins),
  variants: z.record(z.string(), variant(plugins, configDeployer), { error: (issue) => expected('variants by name ({ name: { ... } })', issue.input) }),
  smoke: testers(plugins).optional(),
  share: object('{ repository: <where to push images> }', {
    repository: text('a repository to push images to, such as docker.io/kinvolk', repositoryPrefixProblem),
  }).optional(),
  cache: object('{ registry: <registry>/<repository> to keep builds in> }', {
    registry: text('a registry and repository to keep builds in, such as registry.example.com/kspawn-cache', repositoryPrefixProblem),
  }).optional(),
  github: object('{ api: <the API URL of your GitHub Enterprise server> }', {
    api: z.string({ error: (issue) => expected(apiWhat, issue.input) }).check(
      z.superRefine((value, ctx) => {
        const why = apiUrlProblem(value)
        // A URL with credentials in it is not repeated in the message.
        if (why === undefined) return
        const message = hasCredentials(value) ? `expected ${apiWhat}, found a URL with credentials (${why})` : expected(apiWhat, value, why)
        ctx.addIssue({ code: 'custom', message })
      }),
    ),
  }).optional(),
}).check(
  z.superRefine((value, ctx) => {
    if (!isObject(value.variants)) return
    const entries = Object.entries(value.variants)
    if (entries.length === 0) ctx.addIssue({ code: 'custom', path: ['variants'], message: 'expected at least one variant, found none' })
    const clusters = new Map<string, string>()
    for (const [name, variant] of entries) {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) {
        const what = 'a variant name of up to 63 letters, digits, ".", "_" and "-", starting with a letter or digit (it names files and is typed on the command line)'
        ctx.addIssue({ code: 'custom', path: ['variants', name], message: expected(what, name) })
        continue
      }
      if (!isObject(variant)) continue
      const rule = clusterNameRule(plugins, variant.deployer ?? value.deployer)
      const problemOf = (name: string) => clusterNameProblem(name) ?? rule?.problem(name)
      let cluster = variant.cluster
      if (cluster === undefined) {
        const problem = problemOf(name)
        if (problem !== undefined) {
          const what = 'a variant name that is a valid cluster name, or a cluster field (a cluster is named after its variant by default)'
          ctx.addIssue({ code: 'custom', path: ['variants', name], message: expected(what, name, problem) })
          continue
        }
        cluster = name
      }
      // A cluster field that is not a valid name was reported with the variant.
      if (typeof cluster !== 'string' || problemOf(cluster) !== undefined) continue
      const other = clusters.get(cluster)
      if (other === undefined) {
        clusters.set(cluster, name)
      } else {
        const path = variant.cluster === undefined ? ['variants', name] : ['variants', name, 'cluster']
        const message = expected('a cluster name no other variant uses', cluster, `variants.${other} uses it too`)
        ctx.addIssue({ code: 'custom', path, message })
      }
    }
  }, whenObject),
)

function normalize(config: UserConfig, plugins: readonly PluginDefinition[], file: string, home: string): Config {
  const base = dirname(file)
  const revive = <T extends Deployer | Tester>(value: T): T => withBehaviour(value, plugins)
  const workdir = resolvePath(config.workdir ?? '.kspawn', base, home)
  const settle = (value: Deployer): Deployer => {
    const deployer = revive(value)
    return deployer.inWorkdir?.(workdir) ?? deployer
  }
  const smoke = (config.smoke ?? []).map(revive)
  const deployer = settle(config.deployer)
  const toVariant = (name: string, input: UserVariant): Variant => {
    const cluster = input.cluster ?? name
    const tests = input.smoke?.map(revive) ?? smoke
    const common = { name, cluster, deployer: input.deployer === undefined ? deployer : settle(input.deployer), smoke: tests }
    if (input.image === undefined) return { ...common, tag: input.tag, build: toSource(input.source, base, home) }
    // Validated: the reference parses, and has a tag unless the variant gives one.
    const image = parseImageRef(input.image)!
    const source = input.source === undefined ? undefined : toSource(input.source, base, home)
    return { ...common, tag: input.tag ?? image.tag!, image, source }
  }
  return {
    file,
    kubernetes: { checkout: resolvePath(config.kubernetes.checkout, base, home) },
    workdir,
    deployer,
    variants: Object.entries(config.variants).map(([name, input]) => toVariant(name, input)),
    share: config.share === undefined ? undefined : { repository: config.share.repository },
    ...(config.cache === undefined ? {} : { cache: { registry: config.cache.registry } }),
    ...(config.github === undefined ? {} : { github: { api: normalApiUrl(config.github.api) } }),
    smoke,
    plugins,
  }
}

/**
 * A plugin value written as plain data (a config that does not import the
 * factories) is made again by its plugin, which gives it its behaviour;
 * a value a factory made is kept as it is. The schema has checked the fields.
 */
function withBehaviour<T extends Deployer | Tester>(value: T, plugins: readonly PluginDefinition[]): T {
  const data = value as unknown as Record<string, unknown>
  const behaves = value.kind === 'deployer' ? typeof data.up === 'function' : typeof data.run === 'function'
  if (behaves) return value
  // The schema accepted only values of a known plugin.
  const definition = plugins.find((candidate) => candidate.kind === value.kind && candidate.name === value.name)!
  return definition.revive(data) as T
}

/** The cluster-name rule of the deployer a variant runs on, when its plugin has one. */
function clusterNameRule(plugins: KnownPlugins, deployer: unknown): ClusterNameRule | undefined {
  if (!isObject(deployer)) return undefined
  return plugins.known.find((definition) => definition.kind === 'deployer' && definition.name === deployer.name)?.clusterName
}

function toSource(input: UserSource, base: string, home: string): Source {
  const remote = isRemotePath(input.remote) ? resolvePath(input.remote, base, home) : input.remote
  const ref: GitRef =
    input.branch !== undefined
      ? { branch: input.branch }
      : input.commit !== undefined
        ? { commit: input.commit.toLowerCase() }
        : { tag: input.tag! }
  return { remote, ref }
}

function resolvePath(path: string, base: string, home: string): string {
  if (path === '~') return home
  if (path.startsWith('~/')) return join(home, path.slice(2))
  return resolve(base, path)
}


/** A value made by a plugin factory (or written as plain data), checked against the schema of the plugin it names and kept as it is. */
function plugin(kind: 'deployer' | 'tester', plugins: KnownPlugins) {
  const ofKind = plugins.known.filter((definition) => definition.kind === kind)
  const examples = ofKind.map((definition) => `${definition.example} from '${definition.module}'`)
  const what = `a ${kind} such as ${examples.length > 0 ? examples.join(' or ') : 'none: no plugin of that kind is known'}`
  return z.unknown().check(
    z.superRefine((value, ctx) => {
      if (!isObject(value) || value.kind !== kind || typeof value.name !== 'string') {
        ctx.addIssue({ code: 'custom', message: expected(what, value) })
        return
      }
      const schema = plugins.schemas.get(pluginKey(kind, value.name))
      if (schema === undefined) {
        const guess = closest(value.name, ofKind.map((definition) => definition.name))
        const hint = guess === undefined ? '' : `; did you mean "${guess}"?`
        ctx.addIssue({ code: 'custom', message: expected(what, value, `known ${kind}s: ${listed(ofKind.map((definition) => definition.name))}${hint}`) })
        return
      }
      for (const issue of schema.safeParse(value).error?.issues ?? []) {
        ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message })
      }
    }),
  )
}

/** What is wrong with a config's own `plugins` list: each must be a plugin definition whose name no known plugin of its kind has. */
function pluginListProblems(list: unknown, builtin: readonly PluginDefinition[]): { path: PropertyKey[]; message: string }[] {
  if (list === undefined) return []
  const what = "a list of plugin definitions, such as [myPlugin] where myPlugin = definePlugin({ kind, name, module, example, schema, revive }) from 'kspawn'"
  if (!Array.isArray(list)) return [{ path: ['plugins'], message: expected(what, list) }]
  const problems: { path: PropertyKey[]; message: string }[] = []
  const seen = [...builtin]
  list.forEach((entry: unknown, index) => {
    const path = ['plugins', index]
    if (!isObject(entry)) {
      problems.push({ path, message: expected('a plugin definition (definePlugin({ ... }))', entry) })
      return
    }
    const fields: [string, (value: unknown) => boolean, string][] = [
      ['kind', (value) => value === 'deployer' || value === 'tester', '"deployer" or "tester"'],
      ['name', (value) => typeof value === 'string' && /^[a-z0-9][a-z0-9-]*$/.test(value), 'a plugin name (lowercase letters, digits and "-")'],
      ['module', (value) => typeof value === 'string' && value !== '', 'the module configs import it from'],
      ['example', (value) => typeof value === 'string' && value !== '', 'how a config makes a value, e.g. "myDeployer()"'],
      ['schema', (value) => typeof value === 'function', 'a function returning the schema of its values'],
      ['revive', (value) => typeof value === 'function', 'a function making a value from plain data'],
    ]
    let valid = true
    for (const [field, ok, expectation] of fields) {
      if (ok(entry[field])) continue
      valid = false
      problems.push({ path: [...path, field], message: expected(expectation, entry[field]) })
    }
    if (!valid) return
    const definition = entry as unknown as PluginDefinition
    if (seen.some((other) => other.kind === definition.kind && other.name === definition.name)) {
      problems.push({ path: [...path, 'name'], message: expected(`a name no other ${definition.kind} has`, definition.name, 'a plugin of that kind and name is known already') })
      return
    }
    seen.push(definition)
  })
  return problems
}
