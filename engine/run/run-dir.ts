// Every run gets a folder of its own under <workdir>/runs: the per-step logs,
// events.jsonl and state.json. Names start with a UTC timestamp, so that
// sorting them sorts the runs by start time.
import { mkdir, readdir } from 'node:fs/promises'
import path from 'node:path'

export const EVENTS_FILE = 'events.jsonl'
export const STATE_FILE = 'state.json'

export function runsFolder(workdir: string): string {
  return path.join(workdir, 'runs')
}

/** e.g. `20171126T151733Z-dev-loop`. */
export function runId(workflow: string, started: Date): string {
  const stamp = started.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '')
  return `${stamp}-${workflow}`
}

/** The folder a run would get, without creating it: what a dry run shows its tasks. */
export function plannedRunDir(workdir: string, workflow: string, started: Date): { id: string; dir: string } {
  const id = runId(workflow, started)
  return { id, dir: path.join(runsFolder(workdir), id) }
}

/** Creates the run's folder; a second run started in the same second gets `-2`, `-3`, ... */
export async function createRunDir(workdir: string, workflow: string, started: Date): Promise<{ id: string; dir: string }> {
  const base = runId(workflow, started)
  await mkdir(runsFolder(workdir), { recursive: true })
  for (let attempt = 1; ; attempt++) {
    const id = attempt === 1 ? base : `${base}-${attempt}`
    const dir = path.join(runsFolder(workdir), id)
    try {
      await mkdir(dir)
      return { id, dir }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
  }
}

/** The run folders under the workdir, newest first. */
export async function listRunDirs(workdir: string): Promise<string[]> {
  const names = await readdir(runsFolder(workdir)).catch(() => [] as string[])
  // A run with a `-2` suffix sorts after the one of the same second without.
  return names
    .filter((name) => /^\d{8}T\d{6}Z-/.test(name))
    .sort()
    .reverse()
    .map((name) => path.join(runsFolder(workdir), name))
}
