// The small JSON records kspawn keeps next to what it makes (build and image
// stamps, worktree and cluster records): written whole, read back only when
// they hold what they should.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'

/**
 * The record in `file` when it exists, parses, and has each of `strings` as a
 * string field; undefined otherwise: a missing or damaged record is no record.
 */
export async function readJsonFile<T extends object>(file: string, strings: readonly (keyof T & string)[] = []): Promise<T | undefined> {
  try {
    const value = JSON.parse(await readFile(file, 'utf8')) as unknown
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
    const fields = value as Record<string, unknown>
    return strings.every((name) => typeof fields[name] === 'string') ? (value as T) : undefined
  } catch {
    return undefined
  }
}

/** Writes the record as indented JSON, making its folder when needed. */
export async function writeJsonFile(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true })
  await writeFile(file, `${JSON.stringify(value, null, 2)}\n`)
}
