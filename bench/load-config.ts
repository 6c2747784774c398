// What loading the config costs at start-up. Builds dist/, installs it into a
// temporary project as a user would have it (node_modules/kspawn), and times
// fresh node processes: doing nothing, importing the loader without loading,
// requiring jiti and zod alone (as kspawn does: engine/config/load-config.ts,
// engine/config/zod.ts), and loading the shipped kspawn.config.ts with jiti's
// transform cache warm (the usual case) and cold (right after an edit).
//
//   node --import tsx bench/load-config.ts [runs]     (default 15)

import { execFileSync, spawnSync } from 'node:child_process'
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'

const runs = Number(process.argv[2] ?? 15)
const repo = path.dirname(path.dirname(new URL(import.meta.url).pathname))
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: repo, stdio: 'inherit' })

const project = await mkdtemp(path.join(tmpdir(), 'kspawn-bench-'))
try {
  const installed = path.join(project, 'node_modules', 'kspawn')
  await mkdir(installed, { recursive: true })
  await cp(path.join(repo, 'dist'), path.join(installed, 'dist'), { recursive: true })
  await cp(path.join(repo, 'package.json'), path.join(installed, 'package.json'))
  for (const dependency of ['jiti', 'zod']) {
    await symlink(path.join(repo, 'node_modules', dependency), path.join(project, 'node_modules', dependency))
  }
  await cp(path.join(repo, 'kspawn.config.ts'), path.join(project, 'kspawn.config.ts'))
  await writeFile(path.join(project, 'package.json'), '{ "type": "module" }\n')

  const loader = path.join(installed, 'dist/engine/config/load-config.js')
  const plugins = path.join(installed, 'dist/plugins/index.js')
  const load = `const { loadConfig } = await import(${JSON.stringify(loader)}); const { builtinPlugins } = await import(${JSON.stringify(plugins)}); await loadConfig({ plugins: builtinPlugins })`
  const cases: [name: string, script: string, env?: Record<string, string>][] = [
    ['node, nothing loaded', ''],
    ['import the loader only', `await import(${JSON.stringify(loader)})`],
    ['require jiti only', `(await import('node:module')).createRequire(process.cwd() + '/')('jiti')`],
    ['require zod only', `(await import('node:module')).createRequire(process.cwd() + '/')('zod')`],
    ['load kspawn.config.ts, jiti cache warm', load],
    ['load kspawn.config.ts, jiti cache cold', load, { JITI_FS_CACHE: 'false' }],
  ]
  // Fills the cache that the warm case reads.
  spawnSync(process.execPath, ['--input-type=module', '-e', load], { cwd: project })

  // The fastest run is the cost on a quiet machine; the median shows the spread under load.
  console.log(`node ${process.version}, wall time of ${runs} runs: fastest / median`)
  for (const [name, script, env = {}] of cases) {
    const times: number[] = []
    for (let run = 0; run < runs; run++) {
      const started = performance.now()
      const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: project, env: { ...process.env, ...env } })
      if (result.status !== 0) throw new Error(`${name} failed: ${result.stderr}`)
      times.push(performance.now() - started)
    }
    times.sort((a, b) => a - b)
    const ms = (time: number) => `${time.toFixed(0).padStart(5)} ms`
    console.log(`${name.padEnd(42)} ${ms(times[0]!)} ${ms(times[Math.floor(runs / 2)]!)}`)
  }
} finally {
  await rm(project, { recursive: true, force: true })
}
