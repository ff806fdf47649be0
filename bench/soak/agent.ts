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
// the stream of StreamGen(seed), paced at `rate` bytes/s. The receiver regenerates the stream
// and compares every chunk, keeps a sha256 of what it got and the byte count. Every
// connection has a deadline on both ends. The agent exits when stdin closes or after
// --lifetime ms, whichever comes first.

import { createHash, type Hash } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { StreamGen } from './prng.js';

const MAGIC = 0x534f414b;
const HEADER_BYTES = 32;
const CHUNK = 64 * 1024;
/** Extra time the receiver allows beyond the sender's deadline (ms). */
const RECV_GRACE_MS = 5_000;

export interface SendCommand {
  op: 'send';
  id: number;
  host: string;
  port: number;
  local?: string;
  seed: number;
  bytes: number;
  /** Bytes per second; 0 = as fast as TCP goes. */
  rate: number;
  deadlineMs: number;
}

export interface SendEvent {
  ev: 'send';
  id: number;
  bytes: number;
  sha256: string;
  ms: number;
  error?: string;
  code?: string;
}

export interface RecvEvent {
  ev: 'recv';
  id: number;
  bytes: number;
  expected: number;
  sha256: string;
  /** Offset of the first byte that differs from the stream, -1 when none. */
  mismatchAt: number;
  ms: number;
  error?: string;
  code?: string;
}

function emit(o: object): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

function errCode(e: Error): string {
  return (e as NodeJS.ErrnoException).code ?? 'ERROR';
}

function header(c: SendCommand): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  h.writeUInt32BE(MAGIC, 0);
  h.writeUInt32BE(c.id >>> 0, 4);
  h.writeUInt32BE(c.seed >>> 0, 8);
  h.writeUInt32BE(Math.min(c.deadlineMs, 0xffffffff) >>> 0, 12);
  h.writeUInt32BE(Math.floor(c.bytes / 4294967296), 16);
  h.writeUInt32BE(c.bytes >>> 0, 20);
  return h;
}

function send(c: SendCommand): void {
  const t0 = Date.now();
  const gen = new StreamGen(c.seed);
  const hash = createHash('sha256');
  let sent = 0;
  let done = false;
  const s = connect({ host: c.host, port: c.port, localAddress: c.local });
  const report = (extra: { error?: string; code?: string }): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    const ev: SendEvent = { ev: 'send', id: c.id, bytes: sent, sha256: hash.digest('hex'), ms: Date.now() - t0, ...extra };
    emit(ev);
  };
  const timer = setTimeout(() => {
    report({ error: `timeout after ${c.deadlineMs} ms (${sent} of ${c.bytes} bytes written)`, code: 'TIMEOUT' });
    s.destroy();
  }, c.deadlineMs);
  let tStart = 0;
  const pump = (): void => {
    if (done) return;
    while (sent < c.bytes) {
      if (c.rate > 0) {
        const allowed = (c.rate * (Date.now() - tStart)) / 1000 + CHUNK;
        if (sent >= allowed) {
          setTimeout(pump, Math.max(1, Math.ceil(((sent - allowed) / c.rate) * 1000)));
          return;
        }
      }
      const n = Math.min(CHUNK, c.bytes - sent);
      const buf = Buffer.allocUnsafe(n);
      gen.read(sent, buf, 0, n);
      hash.update(buf);
      sent += n;
      if (!s.write(buf)) { s.once('drain', pump); return; }
    }
    s.end();
  };
  s.on('connect', () => {
    tStart = Date.now();
    s.write(header(c));
    pump();
  });
  s.on('error', (e) => report({ error: e.message, code: errCode(e) }));
  s.on('close', (hadError) => {
    if (!hadError && sent === c.bytes) report({});
    else report({ error: `closed after ${sent} of ${c.bytes} bytes`, code: 'CLOSED' });
  });
}

function receive(s: Socket): void {
  const t0 = Date.now();
  let head: Buffer = Buffer.alloc(0);
  let id = -1;
  let expected = 0;
  let got = 0;
  let mismatchAt = -1;
  let gen: StreamGen | null = null;
  let hash: Hash | null = null;
  let scratch = Buffer.alloc(CHUNK);
  let done = false;
  let timer: NodeJS.Timeout | null = null;
  const report = (extra: { error?: string; code?: string }): void => {
    if (done) return;
    done = true;
    if (timer) clearTimeout(timer);
    const ev: RecvEvent = {
      ev: 'recv', id, bytes: got, expected, sha256: hash ? hash.digest('hex') : '', mismatchAt, ms: Date.now() - t0, ...extra,
    };
    emit(ev);
  };
  const check = (d: Buffer): void => {
    const n = Math.min(d.length, Math.max(0, expected - got));
    if (mismatchAt < 0 && n > 0 && gen) {
      if (scratch.length < n) scratch = Buffer.alloc(n);
      gen.read(got, scratch, 0, n);
      if (!scratch.subarray(0, n).equals(d.subarray(0, n))) {
        let i = 0;
        while (i < n && scratch[i] === d[i]) i++;
        mismatchAt = got + i;
      }
    }
    if (mismatchAt < 0 && d.length > n) mismatchAt = expected;
    hash?.update(d);
    got += d.length;
  };
  s.on('data', (chunk: Buffer) => {
    let d = chunk;
    if (id < 0) {
      head = head.length ? Buffer.concat([head, d]) : d;
      if (head.length < HEADER_BYTES) return;
      if (head.readUInt32BE(0) !== MAGIC) {
        report({ error: 'bad header', code: 'BADHEADER' });
        s.destroy();
        return;
      }
      id = head.readUInt32BE(4);
      gen = new StreamGen(head.readUInt32BE(8));
      const deadline = head.readUInt32BE(12) + RECV_GRACE_MS;
      expected = head.readUInt32BE(16) * 4294967296 + head.readUInt32BE(20);
      hash = createHash('sha256');
      timer = setTimeout(() => {
        report({ error: `timeout after ${deadline} ms (${got} of ${expected} bytes received)`, code: 'TIMEOUT' });
        s.destroy();
      }, deadline);
      d = head.subarray(HEADER_BYTES);
    }
    if (d.length > 0) check(d);
  });
  s.on('end', () => {
    if (got !== expected) report({ error: `${got} bytes received, ${expected} expected`, code: 'SHORT' });
    else if (mismatchAt >= 0) report({ error: `stream differs at byte ${mismatchAt}`, code: 'CORRUPT' });
    else report({});
  });
  s.on('error', (e) => report({ error: e.message, code: errCode(e) }));
  s.on('close', () => report({ error: `closed without end after ${got} bytes`, code: 'CLOSED' }));
}

function main(argv: string[]): void {
  let port = 0;
  let lifetime = 3_600_000;
  for (let i = 0; i < argv.length; i += 2) {
    const v = Number(argv[i + 1]);
    if (argv[i] === '--port' && Number.isInteger(v)) port = v;
    else if (argv[i] === '--lifetime' && Number.isFinite(v)) lifetime = v;
    else { process.stderr.write(`soak agent: bad argument ${argv[i]}\n`); process.exit(2); }
  }
  if (!(port > 0 && port < 65536)) { process.stderr.write('soak agent: --port PORT required\n'); process.exit(2); }
  setTimeout(() => process.exit(3), lifetime).unref();
  const server = createServer(receive);
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
        if (c.op === 'send') send(c);
      } catch (e) {
        process.stderr.write(`soak agent: bad command: ${(e as Error).message}\n`);
      }
    }
  });
  process.stdin.on('end', () => process.exit(0));
}

main(process.argv.slice(2));
