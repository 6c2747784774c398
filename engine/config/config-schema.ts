// Validation of a config file's default export, and its normalization into a
// Config. Every problem is reported, each as "expected <what>, found <value>"
// under its field path; messages are written where the check is, so that the
// wording a user sees can be read next to the rule.
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { z } from 'zod'
import type { Config, GitRef, Source, UserConfig, UserSource, UserVariant, Variant } from './config.ts'
import { ConfigError, type ConfigProblem } from '../errors.ts'
import { admission, type AdmissionTester } from '../../plugins/admission.ts'
import { kubeSpawn, type KubeSpawnOptions } from '../../plugins/kube-spawn.ts'
import { apiUrlProblem, hasCredentials, normalApiUrl } from '../../github/github-url.ts'
import type { Deployer, Plugin, Tester } from '../plugin.ts'
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
  /** Absolute path of the config file: relative paths in the config are resolved against its folder. */
  file: string
  /** How messages name the file. Default: `file`. */
  displayFile?: string
  /** What `~` expands to. Default: the user's home folder. */
  home?: string
}

/** Validates a config file's default export and returns it normalized; throws a ConfigError listing every problem. */
export function parseConfig(input: unknown, { file, displayFile = file, home = homedir() }: ParseConfigOptions): Config {
  const result = userConfigSchema.safeParse(input)
  if (!result.success) {
    throw new ConfigError(displayFile, result.error.issues.map((issue): ConfigProblem => ({ path: formatPath(issue.path), message: issue.message })))
  }
  // The schema checked the input against UserConfig; normalizing the input itself keeps plugin values as their factories made them.
  return normalize(input as UserConfig, file, home)
}

// Checks across fields run whenever the value is an object, even when one of
// its fields is invalid, so that one pass reports every problem.
const whenObject = { when: (payload: { value: unknown }) => isObject(payload.value) }

const tagWhat = 'a Docker image tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})'
const clusterWhat = 'a cluster name (a lowercase DNS label not ending in a digit)'

const apiWhat = 'a GitHub API URL, such as https://github.example.com/api/v3'

const nonEmpty = (value: string) => (value === '' ? 'it is empty' : undefined)

const source = object('a source ({ remote, branch }, { remote, commit } or { remote, tag })', {
  remote: text('a git remote (https://…, ssh://…, user@host:path, file://… or a path)', remoteProblem),
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

const admissionTester = object('an admission tester', {
  kind: z.literal('tester'),
  name: z.literal('admission'),
  operation: z.enum(['attach'], { error: (issue) => expected('the operation "attach"', issue.input) }),
  expect: z.enum(['deny', 'allow'], { error: (issue) => expected('"deny" or "allow"', issue.input) }),
  message: z
    .custom<RegExp | string>((value) => value instanceof RegExp || (typeof value === 'string' && value !== ''), {
      error: (issue) => expected('a RegExp, or a string the error message contains', issue.input),
    })
    .optional(),
})

const tester = plugin('tester', "a tester such as admission.denies('attach') from 'kspawn/plugins/admission'", {
  admission: admissionTester,
})

const testers = z.array(tester, { error: (issue) => expected('a list of testers', issue.input) })

const kubeSpawnDeployer = object('a kube-spawn deployer', {
  kind: z.literal('deployer'),
  name: z.literal('kube-spawn'),
  options: object('kube-spawn options', {
    nodes: z
      .number({ error: (issue) => expected('a number of machines, at least 1', issue.input) })
      .int({ error: (issue) => expected('a whole number of machines', issue.input) })
      .min(1, { error: (issue) => expected('a number of machines, at least 1', issue.input) }),
    dir: text('an absolute path', (dir) => (dir.startsWith('/') ? undefined : '')),
    sudo: z.union([z.literal('auto'), z.boolean()], { error: (issue) => expected('"auto", true or false', issue.input) }),
    readySeconds: z
      .number({ error: (issue) => expected('a number of seconds, at least 1', issue.input) })
      .int({ error: (issue) => expected('a whole number of seconds', issue.input) })
      .min(1, { error: (issue) => expected('a number of seconds, at least 1', issue.input) })
      // A config written as plain data may leave it out: kubeSpawn() gives the default.
      .optional(),
  }),
})

const deployer = plugin('deployer', "a deployer such as kubeSpawn() from 'kspawn/plugins/kube-spawn'", {
  'kube-spawn': kubeSpawnDeployer,
})

const variant = object('a variant: { source, tag } to build an image, or { image } to use an external one', {
  source: source.optional(),
  tag: text(tagWhat, dockerTagProblem).optional(),
  image: text('an image reference ([registry/]repository:tag or [registry/]repository@sha256:<digest>)', (ref) => {
    const problem = imageRefProblem(ref)
    if (problem !== undefined) return problem
    const image = parseImageRef(ref)
    return image?.tag === undefined && image?.digest === undefined ? 'it has neither a tag nor a digest' : undefined
  }).optional(),
  cluster: text(clusterWhat, clusterNameProblem).optional(),
  smoke: testers.optional(),
}).check(
  z.superRefine((value, ctx) => {
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

const userConfigSchema = object('a config object (export default defineConfig({ ... }))', {
  kubernetes: object('{ checkout: <path of your Kubernetes checkout> }', {
    checkout: text('the path of your Kubernetes checkout', nonEmpty),
  }),
  workdir: text('a folder path', nonEmpty).optional(),
  deployer,
  variants: z.record(z.string(), variant, { error: (issue) => expected('variants by name ({ name: { ... } })', issue.input) }),
  smoke: testers.optional(),
  share: object('{ repository: <where to push images> }', {
    repository: text('a repository to push images to, such as docker.io/kinvolk', repositoryPrefixProblem),
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
      let cluster = variant.cluster
      if (cluster === undefined) {
        const problem = clusterNameProblem(name)
        if (problem !== undefined) {
          const what = 'a variant name that is a valid cluster name, or a cluster field (a cluster is named after its variant by default)'
          ctx.addIssue({ code: 'custom', path: ['variants', name], message: expected(what, name, problem) })
          continue
        }
        cluster = name
      }
      if (typeof cluster !== 'string' || clusterNameProblem(cluster) !== undefined) continue
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

function normalize(config: UserConfig, file: string, home: string): Config {
  const base = dirname(file)
  const smoke = (config.smoke ?? []).map(withBehaviour)
  const toVariant = (name: string, input: UserVariant): Variant => {
    const cluster = input.cluster ?? name
    const tests = input.smoke?.map(withBehaviour) ?? smoke
    if (input.image === undefined) return { name, cluster, tag: input.tag, build: toSource(input.source, base, home), smoke: tests }
    // Validated: the reference parses, and has a tag unless the variant gives one.
    const image = parseImageRef(input.image)!
    const source = input.source === undefined ? undefined : toSource(input.source, base, home)
    return { name, cluster, tag: input.tag ?? image.tag!, image, source, smoke: tests }
  }
  return {
    file,
    kubernetes: { checkout: resolvePath(config.kubernetes.checkout, base, home) },
    workdir: resolvePath(config.workdir ?? '.kspawn', base, home),
    deployer: withBehaviour(config.deployer),
    variants: Object.entries(config.variants).map(([name, input]) => toVariant(name, input)),
    share: config.share === undefined ? undefined : { repository: config.share.repository },
    ...(config.github === undefined ? {} : { github: { api: normalApiUrl(config.github.api) } }),
    smoke,
  }
}

/**
 * A plugin value written as plain data (a config that does not import the
 * factories) is made again by its factory, which gives it its behaviour;
 * a value a factory made is kept as it is. The schema has checked the fields.
 */
function withBehaviour<T extends Deployer | Tester>(value: T): T {
  const data = value as unknown as Record<string, unknown>
  if (value.kind === 'deployer' && typeof data.up !== 'function') return kubeSpawn(data.options as KubeSpawnOptions) as unknown as T
  if (value.kind === 'tester' && typeof data.run !== 'function') {
    const tester = data as unknown as AdmissionTester
    const made = tester.expect === 'allow' ? admission.allows(tester.operation) : admission.denies(tester.operation, tester.message === undefined ? {} : { message: tester.message })
    return made as unknown as T
  }
  return value
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

/** A string field; `problem` says why a string is invalid ('' for no particular reason), or returns undefined. */
function text(what: string, problem: (value: string) => string | undefined) {
  return z.string({ error: (issue) => expected(what, issue.input) }).check(
    z.superRefine((value, ctx) => {
      const why = problem(value)
      if (why !== undefined) ctx.addIssue({ code: 'custom', message: expected(what, value, why) })
    }),
  )
}

/** An object whose fields are all known: each unknown field is a problem of its own. */
function object<Shape extends z.ZodRawShape>(what: string, shape: Shape) {
  const known = Object.keys(shape)
  return z.looseObject(shape, { error: (issue) => expected(what, issue.input) }).check(
    z.superRefine((value, ctx) => {
      for (const key of Object.keys(value)) {
        if (known.includes(key)) continue
        const guess = closest(key, known)
        const hint = guess === undefined ? '' : ` (did you mean "${guess}"?)`
        const fields = known.length === 1 ? 'the field' : 'the fields'
        ctx.addIssue({ code: 'custom', message: `expected only ${fields} ${listed(known)}, found unknown field ${JSON.stringify(key)}${hint}` })
      }
    }, whenObject),
  )
}

/** A value made by a plugin factory, checked against the fields of the plugin it names and kept as it is. */
function plugin(kind: string, what: string, plugins: Record<string, z.ZodType>) {
  return z.unknown().check(
    z.superRefine((value, ctx) => {
      if (!isObject(value) || value.kind !== kind || typeof value.name !== 'string') {
        ctx.addIssue({ code: 'custom', message: expected(what, value) })
        return
      }
      const schema = plugins[value.name]
      if (schema === undefined) {
        ctx.addIssue({ code: 'custom', message: expected(what, value, `known ${kind}s: ${listed(Object.keys(plugins))}`) })
        return
      }
      for (const issue of schema.safeParse(value).error?.issues ?? []) {
        ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message })
      }
    }),
  )
}

function expected(what: string, value: unknown, why?: string): string {
  return `expected ${what}, found ${found(value)}${why ? ` (${why})` : ''}`
}

/** A value as a message shows it. */
function found(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || value === null) return String(value)
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'symbol') return 'a symbol'
  if (value instanceof RegExp) return String(value)
  if (Array.isArray(value)) return 'a list'
  if (isPlugin(value)) return `${value.kind} "${value.name}"`
  return 'an object'
}

/** `variants.denyattach.smoke[0]`; keys that are not plain words are quoted. */
function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, index) => {
      if (typeof key === 'number') return `[${key}]`
      const name = String(key)
      if (/^[A-Za-z0-9_$-]+$/.test(name)) return index === 0 ? name : `.${name}`
      return `[${JSON.stringify(name)}]`
    })
    .join('')
}

function listed(words: readonly string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`
}

/** The known word a misspelt one most likely meant: one edit away, or two for words of six letters or more. */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase())
    if (distance <= Math.min(2, Math.max(1, Math.floor(candidate.length / 3))) && distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

/** Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  const rows = [Array.from({ length: b.length + 1 }, (_, j) => j)]
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, rows[i - 2]![j - 2]! + 1)
    }
    rows.push(row)
  }
  return rows[a.length]![b.length]!
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isPlugin(value: object): value is Plugin {
  return 'kind' in value && typeof value.kind === 'string' && 'name' in value && typeof value.name === 'string'
}
