import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { startApiServer } from './server.ts'
import type { ApiServerSpec } from './spec.ts'

// One emulator process per started cluster:
//   node --import tsx test/world/apiserver/main.ts --spec <spec.json>

const { values } = parseArgs({ options: { spec: { type: 'string' } } })
if (!values.spec) {
  process.stderr.write('usage: main.ts --spec <spec.json>\n')
  process.exit(2)
}
const spec = JSON.parse(readFileSync(values.spec, 'utf8')) as ApiServerSpec

try {
  const server = await startApiServer(spec)
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    process.stderr.write(`${new Date().toISOString()} ${signal}: shutting down\n`)
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`shutdown: ${String(err)}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
} catch (err) {
  process.stderr.write(`apiserver: ${(err as Error).message}\n`)
  process.exit(1)
}
