// zod for kspawn's own schemas (the config's and its plugins'), from zod's
// CommonJS build. Node 20 reads an ES module with four asynchronous file
// operations besides the rest of its loader's work, and zod is 95 of them (60
// locales among them), most of the modules `kspawn list` loads: on a busy
// machine each of those waits is a wait for a core, and list took about a
// fifth longer. Required, they are read at once. A plugin's own schema may
// come from any copy of zod, ES module or not: kspawn only calls its
// safeParse().
import { createRequire } from 'node:module'
import type * as Zod from 'zod'

export const z: typeof Zod.z = (createRequire(import.meta.url)('zod') as typeof Zod).z
