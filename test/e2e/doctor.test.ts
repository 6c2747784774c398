// `kspawn doctor` against the world's real Docker engine and Debian's real
// sudo: as root with a DOCKER_HOST where nothing listens, and as a user who
// is not root (nobody, through setpriv), whom the engine's socket refuses
// until they have its group, and whom sudo asks for a password. The one case
// not here is a sudo that lets a user in without a password: that needs a
// sudoers rule, and the world writes nothing outside its .state folder.
import { chown, mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { findExecutable } from '../../cli/doctor.ts'
import { must, sh, world, type Result } from '../world/harness.ts'
import { repoDir } from '../world/state.ts'

const test = suite('kspawn doctor: the Docker daemon and sudo')

const NOBODY = { uid: 65534, gid: 65534 }
let home = ''

test.before(async () => {
  // A folder nobody may enter: mkdtemp makes one for its owner alone. No config in it or above.
  home = await mkdtemp(join(tmpdir(), 'kspawn-doctor-'))
  await chown(home, NOBODY.uid, NOBODY.gid)
})

test.after(async () => {
  if (home) await rm(home, { recursive: true, force: true })
})

/**
 * `kspawn doctor` from sources in a folder with no config, with only `env` in
 * its environment; as nobody, with the supplementary groups given (none by
 * default), when `nobody` is set.
 */
async function doctor(env: Record<string, string>, nobody?: { groups: number[] }): Promise<Result> {
  const user: string[] = []
  if (nobody) {
    const setpriv = await findExecutable('setpriv', world().PATH)
    assert.ok(setpriv, 'setpriv (util-linux) is on PATH')
    const groups = nobody.groups.length ? ['--groups', nobody.groups.join(',')] : ['--clear-groups']
    user.push(setpriv, '--reuid', String(NOBODY.uid), '--regid', String(NOBODY.gid), ...groups)
  }
  const environment = Object.entries({ HOME: home, NO_COLOR: '1', ...env }).map(([name, value]) => `${name}=${value}`)
  return sh([...user, 'env', '-i', ...environment, process.execPath, '--import', import.meta.resolve('tsx'), join(repoDir, 'bin', 'kspawn.ts'), 'doctor'], { cwd: home })
}

/** A folder of links to the named tools that the world's PATH has, and nothing else. */
async function toolsFolder(folder: string, tools: string[]): Promise<string> {
  await mkdir(folder)
  for (const tool of tools) {
    const real = await findExecutable(tool, world().PATH)
    assert.ok(real, `${tool} is on the world's PATH`)
    await symlink(real, join(folder, tool))
  }
  return folder
}

async function serverVersion(): Promise<string> {
  return (await must(['docker', 'version', '--format', '{{.Server.Version}}'])).stdout.trim()
}

test('as root: a DOCKER_HOST where no daemon answers, the one that does, and advice without sudo', async () => {
  const socket = `unix://${join(home, 'no-daemon.sock')}`
  // bash too: the runner's commands go through it. No kubectl: its advice is what root is told to run.
  const tools = await toolsFolder(join(home, 'root-tools'), ['git', 'make', 'docker', 'kube-spawn', 'bash'])
  const dead = await doctor({ PATH: tools, DOCKER_HOST: socket })
  assert.is(dead.exitCode, 1, dead.output)
  assert.match(dead.stdout, /^No config found; what a dev loop can need:\n/)
  assert.match(dead.stdout, `  ✖ docker daemon  does not answer (Cannot connect to the Docker daemon at ${socket}. Is the docker daemon running?) — to build and keep the images\n`)
  assert.match(dead.stdout, `nothing answers at DOCKER_HOST=${socket}: start the daemon that listens there, point DOCKER_HOST at one that runs, or unset it to use the system's daemon\n`)
  // Root may have no sudo at all (these machines' root had none): the advice does not use it.
  assert.match(dead.stdout, /  ✖ kubectl +missing — to run the smoke tests against the clusters\n {4} +apt-get install kubernetes-client\n/)
  assert.match(dead.stdout, '  ✔ sudo           not needed, kspawn runs as root')
  assert.match(dead.stdout, 'Missing: kubectl, docker daemon.\n')

  const alive = await doctor({ PATH: world().PATH, DOCKER_HOST: world().DOCKER_HOST })
  assert.is(alive.exitCode, 0, alive.output)
  assert.match(alive.stdout, `  ✔ docker daemon  answers (server ${await serverVersion()}) — to build and keep the images\n`)
  assert.match(alive.stdout, 'Everything is there.\n')
})

test("as a user who is not root: the engine's socket refuses them until they have its group; sudo -n asks the real sudo", async () => {
  const env = { PATH: world().PATH, DOCKER_HOST: world().DOCKER_HOST }
  assert.ok(await findExecutable('sudo', env.PATH), 'world:up installs sudo')

  const refused = await doctor(env, { groups: [] })
  assert.is(refused.exitCode, 1, refused.output)
  assert.match(refused.stdout, /^No config found; what a dev loop can need:\n/)
  assert.match(refused.stdout, `  ✖ docker daemon  refuses this user (permission denied while trying to connect to the Docker daemon socket at ${world().DOCKER_HOST}`)
  assert.match(refused.stdout, `the daemon runs but lets only root and the docker group in: add yourself to that group (sudo usermod -aG docker "$USER") and log in again, or run kspawn as root\n`)
  // What the real sudo says to a user who has no rule in sudoers.
  assert.match(refused.stdout, /  ✖ sudo +\/usr\/bin\/sudo -n true fails \(sudo: a password is required\) — to run kube-spawn as root \(sudo -E\)\n {4} +run sudo -v before kspawn/)
  assert.match(refused.stdout, 'Missing: docker daemon, sudo.\n')

  // The advice, in effect: the same user with the socket's group, which is docker.
  const { gid } = await stat(world().DOCKER_HOST.replace(/^unix:\/\//, ''))
  assert.is((await must(['getent', 'group', String(gid)])).stdout.split(':')[0], 'docker')
  const member = await doctor(env, { groups: [gid] })
  assert.match(member.stdout, `  ✔ docker daemon  answers (server ${await serverVersion()})`)

  // Without sudo on PATH: how to get it.
  const tools = await toolsFolder(join(home, 'nobody-tools'), ['git', 'make', 'docker', 'kube-spawn', 'kubectl', 'bash'])
  const missing = await doctor({ ...env, PATH: tools }, { groups: [gid] })
  assert.is(missing.exitCode, 1, missing.output)
  assert.match(missing.stdout, /  ✖ sudo +missing — to run kube-spawn as root \(sudo -E\)\n {4} +as root: apt-get install sudo, and allow your user to use it\n/)
  assert.match(missing.stdout, 'Missing: sudo.\n')
})

test.run()
