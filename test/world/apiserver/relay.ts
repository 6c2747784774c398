// The API server's port inside a machine: run by the emulator under
// `nsenter --net=<the machine's network namespace>`, it listens there on
// 127.0.0.1:<port> and joins each connection to the emulator's unix socket
// (a path on the host's filesystem, reachable from any network namespace).
// Test-world machines have no network, and kubeadm init in the master
// machine must reach the API server, as it does in kube-spawn's machines.
//
//   node --import tsx test/world/apiserver/relay.ts --listen 127.0.0.1:6443 --socket <path>
//
// Prints "listening" once it listens; exits when its stdin closes (the
// emulator went away) or on SIGTERM.
import { connect, createServer, type Socket } from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { listen: { type: 'string' }, socket: { type: 'string' } } })
const listen = /^(.+):(\d+)$/.exec(values.listen ?? '')
if (!listen || !values.socket) {
  process.stderr.write('usage: relay.ts --listen <host>:<port> --socket <unix socket path>\n')
  process.exit(2)
}
const socketPath = values.socket

function join(client: Socket): void {
  // Half-open both ways: an HTTP/1.0 client (nc) ends its side after the request and still reads the answer.
  const upstream = connect({ path: socketPath, allowHalfOpen: true })
  client.pipe(upstream)
  upstream.pipe(client)
  client.on('error', () => upstream.destroy())
  upstream.on('error', () => client.destroy())
}

const server = createServer({ allowHalfOpen: true }, join)
server.on('error', (error) => {
  process.stderr.write(`relay: cannot listen on ${values.listen}: ${error.message}\n`)
  process.exit(1)
})
server.listen(Number(listen[2]), listen[1], () => process.stdout.write('listening\n'))
process.stdin.on('close', () => process.exit(0))
process.stdin.resume()
process.on('SIGTERM', () => process.exit(0))
