// The soak's traffic agent: one process per lab namespace (`ip netns exec NS node agent.js`),
// which receives on one TCP port and sends when told to. Commands arrive as JSON lines on
// stdin; events leave as JSON lines on stdout:
//
//   stdin   {"op":"send","id":7,"host":"198.18.0.1","port":47001,"local":"198.18.0.10",
//            "seed":123,"bytes":50000000,"rate":5000000,"deadlineMs":60000}
//   stdout  {"ev":"listening"}
//           {"ev":"send","id":7,"bytes":..,"sha256":"..","ms":..,"error"?:"..","code"?:"ECONNRESET"}
//           {"ev":"recv","id":7,"bytes":..,"expected":..,"sha256":"..","mismatchAt":-1,"ms":..,"error"?,"code"?}
//
// A connection starts with a 32-byte header (magic, id, seed, deadline, length); the rest is
// the stream of StreamGen(seed), paced at `rate` bytes/s (src/lab/tcp-agent.ts: framed
// transfers). The receiver regenerates the stream and compares every chunk, keeps a sha256 of
// what it got and the byte count. Every connection has a deadline on both ends. The agent
// exits when stdin closes or after --lifetime ms, whichever comes first.

import { createServer } from 'node:net';
import { num, runAgent, type Args } from '../../src/lab/agent-args.js';
import { receiveTransfer, sendTransfer, type SendCommand } from '../../src/lab/tcp-agent.js';
import { StreamGen } from './prng.js';

export type { RecvEvent, SendCommand, SendEvent } from '../../src/lab/tcp-agent.js';

function emit(o: object): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

function serve(a: Args): void {
  const port = num(a, 'port');
  if (!(Number.isInteger(port) && port > 0 && port < 65536)) throw new Error('--port PORT required');
  setTimeout(() => process.exit(3), num(a, 'lifetime', 3_600_000)).unref();
  const server = createServer((s) => receiveTransfer(s, (seed) => new StreamGen(seed), emit));
  server.on('error', (e) => { process.stderr.write(`soak agent: ${e.message}\n`); process.exit(1); });
  server.listen({ port, host: '::', ipv6Only: false }, () => emit({ ev: 'listening' }));
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      try {
        const c = JSON.parse(line) as SendCommand;
        if (c.op === 'send') sendTransfer(c, new StreamGen(c.seed), emit);
      } catch (e) {
        process.stderr.write(`soak agent: bad command: ${(e as Error).message}\n`);
      }
    }
  });
  process.stdin.on('end', () => process.exit(0));
}

runAgent('soak agent', process.argv.slice(2), { '': serve }, ['port', 'lifetime']);
