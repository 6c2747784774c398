// Pure validators for the names a config holds. Each `...Problem` function
// returns why a value is invalid, in words that complete "found "x" (...)",
// or undefined when the value is valid.
import type { ImageRef } from './config.ts'

/**
 * The rules of `git check-ref-format --allow-onelevel`, which every branch and
 * tag name must follow.
 */
export function refNameProblem(name: string): string | undefined {
  if (name === '') return 'it is empty'
  if (name === '@') return 'it is "@" alone'
  const bad = /[\x00-\x20\x7f~^:?*[\\]/.exec(name)
  if (bad) return `it contains ${describeChar(bad[0])}`
  if (name.includes('..')) return 'it contains ".."'
  if (name.includes('@{')) return 'it contains "@{"'
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) return 'it has an empty "/"-separated part'
  if (name.endsWith('.')) return 'it ends with "."'
  for (const part of name.split('/')) {
    if (part.startsWith('.')) return `its part "${part}" starts with "."`
    if (part.endsWith('.lock')) return `its part "${part}" ends with ".lock"`
  }
  return undefined
}

/** A ref name that `git check-ref-format --branch` also accepts as a branch. */
export function branchNameProblem(name: string): string | undefined {
  if (name.startsWith('-')) return 'it starts with "-"'
  if (name === 'HEAD') return 'HEAD is not a branch'
  return refNameProblem(name)
}

/** A tag name that git accepts and that no command line can take for an option. */
export function tagNameProblem(name: string): string | undefined {
  if (name.startsWith('-')) return 'it starts with "-"'
  return refNameProblem(name)
}

/** An abbreviated or full commit id. */
export function isCommitId(id: string): boolean {
  return /^[0-9a-f]{7,40}$/i.test(id)
}

/** A Docker image tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`. */
export function dockerTagProblem(tag: string): string | undefined {
  if (tag === '') return 'it is empty'
  if (tag.length > 128) return `it is ${tag.length} characters long, more than 128`
  const bad = /[^A-Za-z0-9_.-]/.exec(tag)
  if (bad) return `it contains ${describeChar(bad[0])}`
  if (tag.startsWith('.') || tag.startsWith('-')) return `it starts with "${tag[0]}"`
  return undefined
}

/**
 * kspawn's rule on cluster names, for every deployer: an RFC 1123 DNS label in
 * lowercase. A deployer may add its own rule (PluginDefinition.clusterName).
 */
export function clusterNameProblem(name: string): string | undefined {
  if (name === '') return 'it is empty'
  if (name.length > 63) return `it is ${name.length} characters long, more than 63`
  const bad = /[^a-z0-9-]/.exec(name)
  if (bad) return `it contains ${describeChar(bad[0])}`
  if (name.startsWith('-') || name.endsWith('-')) return 'it starts or ends with "-"'
  return undefined
}

// The grammar of github.com/distribution/reference.
const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const registryPattern = new RegExp(`^(?:${domainComponent}(?:\\.${domainComponent})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?$`)
const digestPattern = /^(?:sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/

/**
 * Parses `[registry/]repository[:tag][@digest]` as Docker does: the first
 * `/`-separated part is a registry when it has a "." or ":" or is `localhost`.
 */
export function parseImageRef(ref: string): ImageRef | undefined {
  const parsed = analyzeImageRef(ref)
  return typeof parsed === 'string' ? undefined : parsed
}

export function imageRefProblem(ref: string): string | undefined {
  const parsed = analyzeImageRef(ref)
  return typeof parsed === 'string' ? parsed : undefined
}

function analyzeImageRef(ref: string): ImageRef | string {
  let rest = ref
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at !== -1) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!digestPattern.test(digest)) return `its digest "${digest}" is not sha256:<64 hex digits> or sha512:<128 hex digits>`
  }
  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    const problem = dockerTagProblem(tag)
    if (problem !== undefined) return `its tag "${tag}" is not valid: ${problem}`
  }
  const name = analyzeName(rest)
  if (typeof name === 'string') return name
  return { ref, ...name, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) }
}

/** A repository prefix to push images under, such as `docker.io/kinvolk` or `127.0.0.1:5000`. */
export function repositoryPrefixProblem(prefix: string): string | undefined {
  if (prefix.includes('@')) return 'it has a digest'
  if (prefix.includes('/') && prefix.slice(prefix.indexOf('/')).includes(':')) return 'it has a tag'
  // A bare registry is a valid prefix; checking the prefix with one more part covers that case too.
  const name = analyzeName(`${prefix}/x`)
  return typeof name === 'string' ? name : undefined
}

function analyzeName(name: string): { registry?: string; repository: string } | string {
  if (name === '') return 'it has no repository name'
  if (name.length > 255) return `its name is ${name.length} characters long, more than 255`
  const slash = name.indexOf('/')
  const first = slash === -1 ? '' : name.slice(0, slash)
  const hasRegistry = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost')
  const repository = hasRegistry ? name.slice(slash + 1) : name
  if (hasRegistry && !registryPattern.test(first)) return `its registry "${first}" is not a host name or address with an optional port`
  for (const part of repository.split('/')) {
    if (!pathComponent.test(part)) {
      return part === ''
        ? 'it has an empty "/"-separated part'
        : `its part "${part}" is not lowercase letters and digits separated by ".", "_", "__" or "-"`
    }
  }
  return hasRegistry ? { registry: first, repository } : { repository }
}

// A user or host starting with "-" would reach ssh as an option.
const scpLike = /^(?!-)[^/\s:@]+@(?!-)[^/\s:]+:\S+$/

/**
 * A git remote: an https://, ssh:// or file:// URL, an scp-like
 * `user@host:path`, or a local path. Relative paths must start with ./ or ../
 * so that a forgotten `https://` is reported, not taken for a folder.
 */
export function remoteProblem(remote: string): string | undefined {
  if (remote === '') return 'it is empty'
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(remote)?.[1]?.toLowerCase()
  if (scheme === undefined) {
    return isRemotePath(remote) || scpLike.test(remote)
      ? undefined
      : 'it is not a URL, user@host:path, or a path starting with /, ./, ../ or ~/'
  }
  if (!['https', 'ssh', 'file'].includes(scheme)) return `its scheme "${scheme}://" is not https://, ssh:// or file://`
  let url: URL
  try {
    url = new URL(remote)
  } catch {
    return 'it is not a valid URL'
  }
  if (scheme !== 'file' && url.hostname === '') return 'it has no host'
  if (url.hostname.startsWith('-')) return 'its host starts with "-"'
  // A config file is shared and committed; credentials belong in a git credential helper.
  if (url.password !== '') return 'it contains a password'
  if (url.pathname === '' || url.pathname === '/') return 'it has no repository path'
  return undefined
}

/** A remote given as a local path, which the config resolves against its own folder. */
export function isRemotePath(remote: string): boolean {
  return /^(?:\/|\.\.?(?:\/|$)|~(?:\/|$))/.test(remote)
}

function describeChar(char: string): string {
  return char === ' ' ? 'a space' : /[\x00-\x1f\x7f]/.test(char) ? 'a control character' : `"${char}"`
}
