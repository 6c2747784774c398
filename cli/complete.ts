// What the shell completes after Tab: the script `kspawn completion` prints
// calls `kspawn --get-yargs-completions kspawn <words...>` on every Tab, the
// last word being the one under the cursor (possibly empty), and offers the
// lines this prints. It is answered without yargs (cli/shortcut.ts), as a
// Tab must be quick: commands and options come from the generated helps
// (cli/help-text.ts, checked against yargs by test/bin/shortcut.test.ts),
// workflows and tasks from the registry, variants from the config, and
// clusters from kspawn's records in the config's workdir. Reading the config
// is the slow part, so it is read only after `task`, `down`, `--variant` and
// `--smoke`. Nothing is ever written to stderr: a config that cannot be read
// completes nothing.
import type { CliDeps } from './deps.ts'
import { helpTexts } from './help-text.ts'
import { isHelpTopic, type HelpTopic } from './shortcut.ts'
import { COMMANDS } from './usage.ts'

/** The flag that the completion script passes first. */
export const COMPLETION_FLAG = '--get-yargs-completions'

export interface OptionInfo {
  /** As typed: `--dry-run`, `--no-cache` for a switch that is on by default. */
  flag: string
  takesValue: boolean
  /** The values it takes, when the help lists them. */
  choices: string[]
  /** Whether it may be given more than once ([array]). */
  repeats: boolean
}

/** The options of a command (or of kspawn itself, ''), read from its help: --help included, --version only for kspawn itself. */
export function optionsOf(topic: HelpTopic): OptionInfo[] {
  const lines = helpTexts[topic].split('\n')
  const start = lines.indexOf('Options:')
  if (start < 0) return []
  const entries: { name: string; text: string }[] = []
  for (const line of lines.slice(start + 1)) {
    if (line === '') break
    const name = /^ {2}(?:-\w, | {4})--([\w-]+)/.exec(line)?.[1]
    if (name !== undefined) entries.push({ name, text: line })
    else if (entries.length > 0) entries.at(-1)!.text += `\n${line}`
  }
  return entries
    .filter(({ name }) => topic === '' || name !== 'version')
    .map(({ name, text }) => {
      const boolean = /\[boolean\]/.test(text)
      const choices = [.../\[choices: ([^\]]*)\]/.exec(text)?.[1]?.matchAll(/"([^"]*)"/g) ?? []].map((match) => match[1]!)
      return { flag: boolean && /\[default: true\]/.test(text) ? `--no-${name}` : `--${name}`, takesValue: !boolean, choices, repeats: /\[array\]/.test(text) }
    })
}

/** The completions of the word under the cursor: `words` are what follows `kspawn` on the line, the last one being that word. */
export async function completions(words: readonly string[], deps: CliDeps): Promise<string[]> {
  const current = words.at(-1) ?? ''
  const before = words.slice(0, -1)
  // The command, its positionals, the options given and the value of --config, as the line has them so far.
  const global = optionsOf('')
  let command: HelpTopic = ''
  let options = global
  const positionals: string[] = []
  const given = new Set<string>()
  let config: string | undefined
  for (let i = 0; i < before.length; i++) {
    const word = before[i]!
    if (word === '--') break
    if (word.startsWith('-')) {
      const [flag = '', inline] = word.split(/=(.*)/s)
      given.add(flag)
      const option = options.find((candidate) => candidate.flag === flag)
      if (option?.takesValue && inline === undefined) {
        const value = before[++i]
        if (flag === '--config') config = value
      } else if (flag === '--config') config = inline
    } else if (command === '') {
      if (!isHelpTopic(word)) return []
      command = word
      options = optionsOf(command)
    } else positionals.push(word)
  }
  const prefixed = (candidates: readonly string[]) => candidates.filter((candidate) => candidate.startsWith(current))

  // The value of an option: its choices, or what the config names.
  const previous = before.at(-1)
  const valueOf = previous?.startsWith('-') && !previous.includes('=') ? options.find((option) => option.flag === previous && option.takesValue) : undefined
  if (valueOf !== undefined) {
    if (valueOf.choices.length > 0) return prefixed(valueOf.choices)
    if (valueOf.flag === '--variant' || valueOf.flag === '--smoke') return prefixed((await configOf(deps, config))?.variants.map((variant) => variant.name) ?? [])
    // --config and the others: nothing, so that the shell completes a file name.
    return []
  }
  if (current.startsWith('-')) {
    return prefixed(options.filter((option) => option.repeats || !given.has(option.flag)).map((option) => option.flag))
  }
  if (command === '') return prefixed(COMMANDS)
  if (command === 'run' && positionals.length === 0) return prefixed((await deps.loadRegistry()).workflows.map((workflow) => workflow.id))
  if (command === 'task' && positionals.length === 0) {
    const tasks = (await deps.loadRegistry()).tasks.map((task) => task.id)
    const loaded = await configOf(deps, config)
    for (const deployer of new Set(loaded?.variants.map((variant) => variant.deployer) ?? [])) {
      for (const step of await deployer.steps()) if (!tasks.includes(step.id)) tasks.push(step.id)
    }
    return prefixed(tasks)
  }
  if (command === 'logs' && positionals.length === 0) return prefixed((await configOf(deps, config))?.variants.map((variant) => variant.name) ?? [])
  if (command === 'logs' && positionals.length === 1) {
    // The steps a variant of the config can have: kspawn's tasks and its deployer's steps.
    const loaded = await configOf(deps, config)
    const variant = loaded?.variants.find((candidate) => candidate.name === positionals[0])
    if (!variant) return []
    const { tasksFor } = await import('../engine/run/task.ts')
    const workflows = (await deps.loadRegistry()).workflows
    const steps = new Set<string>()
    for (const workflow of workflows) for (const task of await tasksFor(workflow, variant)) steps.add(task.id)
    return prefixed([...steps])
  }
  if (command === 'down') {
    const loaded = await configOf(deps, config)
    if (!loaded) return []
    const { readClusterRecords } = await import('../engine/cluster-records.ts')
    const clusters = (await readClusterRecords(loaded.workdir).catch(() => [])).map((record) => record.cluster)
    return prefixed(clusters.filter((cluster) => !positionals.includes(cluster)))
  }
  return []
}

/** The config, or undefined when there is none or it cannot be loaded: a Tab shows no error. */
async function configOf(deps: CliDeps, file: string | undefined) {
  const { tryLoadConfigFor } = await import('./deps.ts')
  return (await tryLoadConfigFor(deps, file).catch(() => ({ config: undefined }))).config
}

/** The script that `kspawn completion` prints, for bash or zsh: yargs' own templates, with errors kept off the terminal. */
export function completionScript(shell: 'bash' | 'zsh'): string {
  if (shell === 'zsh') {
    return `#compdef kspawn
###-begin-kspawn-completions-###
#
# kspawn command completion script (zsh)
#
# Installation: kspawn completion >> ~/.zshrc
#
_kspawn_completions()
{
  local reply
  local si=$IFS
  IFS=$'\\n' reply=($(COMP_CWORD="$((CURRENT-1))" COMP_LINE="$BUFFER" COMP_POINT="$CURSOR" kspawn ${COMPLETION_FLAG} "\${(@)words[1,CURRENT]}" 2>/dev/null))
  IFS=$si
  if [[ \${#reply} -gt 0 ]]; then
    _describe 'values' reply
  else
    _default
  fi
}
if [[ "\${zsh_eval_context[-1]}" == "loadautofunc" ]]; then
  _kspawn_completions "$@"
else
  compdef _kspawn_completions kspawn
fi
###-end-kspawn-completions-###
`
  }
  return `###-begin-kspawn-completions-###
#
# kspawn command completion script (bash)
#
# Installation: kspawn completion >> ~/.bashrc
#
_kspawn_completions()
{
    local cur_word args type_list

    cur_word="\${COMP_WORDS[COMP_CWORD]}"
    # The words up to the one under the cursor: kspawn completes the last one it is given.
    args=("\${COMP_WORDS[@]:0:COMP_CWORD+1}")

    mapfile -t type_list < <(kspawn ${COMPLETION_FLAG} "\${args[@]}" 2>/dev/null)
    mapfile -t COMPREPLY < <(compgen -W "$( printf '%q ' "\${type_list[@]}" )" -- "\${cur_word}" |
        awk '/ / { print "\\""$0"\\"" } /^[^ ]+$/ { print $0 }')

    # if no match was found, fall back to filename completion
    if [ \${#COMPREPLY[@]} -eq 0 ]; then
      COMPREPLY=()
    fi

    return 0
}
complete -o bashdefault -o default -F _kspawn_completions kspawn
###-end-kspawn-completions-###
`
}
