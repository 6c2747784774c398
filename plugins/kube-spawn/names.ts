// The names kube-spawn uses: the hyperkube image's, and its own rule on
// cluster names (it names machines kubespawn<cluster><index>, so a cluster
// name must not end in a digit). Pure, so that the plugin's definition and
// every module of the plugin can import it cheaply.

/** The repository the hyperkube Makefile tags its image in, and the name kube-spawn --dev looks for. */
export const HYPERKUBE_REPOSITORY = 'gcr.io/google-containers/hyperkube-amd64'

/**
 * Why kube-spawn cannot take a cluster name that is a valid DNS label: cluster
 * "web1" would collide with machine 1x of cluster "web". The reason suggests
 * names ending in a letter.
 */
export function machineNameProblem(name: string): string | undefined {
  const digits = /[0-9]+$/.exec(name)?.[0]
  if (digits === undefined) return undefined
  const stem = name.slice(0, -digits.length)
  const suggestions = [`${stem}${stem ? '-' : ''}${[...digits].map((d) => DIGIT_WORDS[Number(d)]).join('-')}`, `${stem}${[...digits].map((d) => DIGIT_LETTERS[Number(d)]).join('')}`]
    .filter((suggestion) => suggestion.length <= 63)
    .map((suggestion) => `"${suggestion}"`)
  // The collision with this very name when there is one (no index starts with "0"), else the classic one.
  const [mine, other, prefix] = stem && !digits.startsWith('0') ? [name, stem, stem] : ['x1', 'x', 'x']
  const index = mine.slice(prefix.length)
  return (
    `it ends in a digit; kube-spawn v0.2 names machines kubespawn<cluster><index>, so machine 0 of cluster "${mine}" and machine ${index}0 of cluster "${other}" are both kubespawn${mine}0` +
    (suggestions.length ? `: use a name ending in a letter, such as ${suggestions.join(' or ')}` : '')
  )
}

const DIGIT_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine']
// 1 → a, 2 → b, ... as "x1" → "xa"; 0 → j, the key after 9.
const DIGIT_LETTERS = 'jabcdefghi'
