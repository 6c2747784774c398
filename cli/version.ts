// kspawn's version, read from its package.json: two folders up once built
// (dist/cli/), one up in the sources. Only node:fs and node:path, so that
// `kspawn --version` costs little more than starting node.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export function readVersion(): string {
  let folder = path.dirname(fileURLToPath(import.meta.url))
  for (let up = 0; up < 3; up++) {
    folder = path.dirname(folder)
    try {
      const { name, version } = JSON.parse(readFileSync(path.join(folder, 'package.json'), 'utf8')) as { name?: string; version?: string }
      if (name === 'kspawn' && version) return version
    } catch {
      // No package.json at this level: look one folder up.
    }
  }
  throw new Error(`cannot find kspawn's package.json above ${fileURLToPath(import.meta.url)}`)
}
