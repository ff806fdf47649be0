/**
 * TCP traffic for the forwarding tests, run inside a lab namespace with `ip netns exec`.
 * Every mode has a hard deadline (--timeout ms) and prints one JSON line on stdout at the end;
 * receivers print "listening" first, once they accept connections.
 *
 *   recv-seq  --bind A --port P --conns N --records R --size S --timeout MS
 *   send-seq  --host H --port P --conns N --records R --size S [--local A] --timeout MS
 *       N connections, each carrying R records of S bytes: u32 connection id, u32 sequence
 *       number, then S-8 filler bytes (conn + seq + offset) & 0xff. The receiver checks every
 *       record: sequence numbers consecutive from 0 per connection, filler intact, exactly R
 *       records, N distinct connection ids.
 *   recv-file --bind A --port P --timeout MS [--out FILE]
 *   send-file --host H --port P --file F [--local A] --timeout MS
 *       One connection carrying a file; both ends report byte count and sha256.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { parseArgs, num, type Args, finish } from './agent-args.js';

function deadline(ms: number, what: () => Record<string, unknown>): void {
  setTimeout(() => finish({ ok: false, error: `timeout after ${ms} ms`, ...what() }, 3), ms).unref();
}

function fill(buf: Buffer, conn: number, seq: number, size: number): void {
  buf.writeUInt32BE(conn, 0);
  buf.writeUInt32BE(seq, 4);
  for (let i = 8; i < size; i++) buf[i] = (conn + seq + i) & 0xff;
}

interface ConnCheck {
  id: number;
  records: number;
  errors: string[];
}

function recvSeq(a: Args): void {
  const conns = num(a, 'conns');
  const records = num(a, 'records');
  const size = num(a, 'size');
  const checks: ConnCheck[] = [];
  let done = 0;
  const summary = (): Record<string, unknown> => ({
    conns: checks.map((c) => ({ id: c.id, records: c.records, errors: c.errors.slice(0, 5) })),
  });
  deadline(num(a, 'timeout'), summary);
  const server = createServer((s: Socket) => {
    const c: ConnCheck = { id: -1, records: 0, errors: [] };
    checks.push(c);
    let pending: Buffer = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      let off = 0;
      while (pending.length - off >= size) {
        const id = pending.readUInt32BE(off);
        const seq = pending.readUInt32BE(off + 4);
        if (c.id < 0) c.id = id;
        if (id !== c.id && c.errors.length < 20) c.errors.push(`record ${c.records}: connection id ${id}, want ${c.id}`);
        if (seq !== c.records && c.errors.length < 20) c.errors.push(`record ${c.records}: sequence ${seq}`);
        for (let i = 8; i < size; i++) {
          if (pending[off + i] !== ((id + seq + i) & 0xff)) {
            if (c.errors.length < 20) c.errors.push(`record ${c.records} (seq ${seq}): filler byte ${i} corrupt`);
            break;
          }
        }
        c.records += 1;
        off += size;
      }
      pending = pending.subarray(off);
    });
    s.on('error', (e) => c.errors.push(`socket: ${e.message}`));
    s.on('close', () => {
      if (pending.length) c.errors.push(`${pending.length} trailing bytes`);
      if (c.records !== records) c.errors.push(`${c.records} records, want ${records}`);
      done += 1;
      if (done === conns) {
        server.close();
        const ids = new Set(checks.map((x) => x.id));
        const ok = checks.every((x) => x.errors.length === 0) && ids.size === conns;
        finish({ ok, ...summary() }, ok ? 0 : 1);
      }
    });
  });
  server.listen(num(a, 'port'), a.bind ?? '0.0.0.0', () => process.stdout.write('listening\n'));
}

function sendSeq(a: Args): void {
  const conns = num(a, 'conns');
  const records = num(a, 'records');
  const size = num(a, 'size');
  const sent: number[] = new Array<number>(conns).fill(0);
  const errors: string[] = [];
  let closed = 0;
  const start = Date.now();
  deadline(num(a, 'timeout'), () => ({ sent, errors }));
  for (let c = 0; c < conns; c++) {
    const s = connect({ host: a.host, port: num(a, 'port'), localAddress: a.local });
    const batch = 64;
    const write = (): void => {
      while (sent[c] < records) {
        const n = Math.min(batch, records - sent[c]);
        const buf = Buffer.allocUnsafe(n * size);
        for (let k = 0; k < n; k++) fill(buf.subarray(k * size, (k + 1) * size), c, sent[c] + k, size);
        sent[c] += n;
        if (!s.write(buf)) { s.once('drain', write); return; }
      }
      s.end();
    };
    s.on('connect', write);
    s.on('error', (e) => errors.push(`connection ${c}: ${e.message}`));
    s.on('close', () => {
      closed += 1;
      if (closed === conns) {
        const ok = errors.length === 0 && sent.every((x) => x === records);
        finish({ ok, sent, errors, ms: Date.now() - start }, ok ? 0 : 1);
      }
    });
  }
}

function recvFile(a: Args): void {
  const hash = createHash('sha256');
  let bytes = 0;
  let out: WriteStream | null = null;
  deadline(num(a, 'timeout'), () => ({ bytes }));
  const server = createServer((s: Socket) => {
    server.close();
    if (a.out) out = createWriteStream(a.out);
    s.on('data', (d: Buffer) => {
      hash.update(d);
      bytes += d.length;
      out?.write(d);
    });
    s.on('error', (e) => finish({ ok: false, error: e.message, bytes }, 1));
    s.on('end', () => {
      const result = { ok: true, bytes, sha256: hash.digest('hex') };
      if (out) out.end(() => finish(result));
      else finish(result);
    });
  });
  server.listen(num(a, 'port'), a.bind ?? '0.0.0.0', () => process.stdout.write('listening\n'));
}

function sendFile(a: Args): void {
  const hash = createHash('sha256');
  let bytes = 0;
  deadline(num(a, 'timeout'), () => ({ bytes }));
  const s = connect({ host: a.host, port: num(a, 'port'), localAddress: a.local });
  s.on('error', (e) => finish({ ok: false, error: e.message, bytes }, 1));
  s.on('connect', () => {
    const rs = createReadStream(a.file);
    rs.on('data', (d) => {
      const b = d as Buffer;
      hash.update(b);
      bytes += b.length;
    });
    rs.on('error', (e) => finish({ ok: false, error: e.message, bytes }, 1));
    rs.pipe(s);
  });
  s.on('close', (hadError) => {
    if (!hadError) finish({ ok: true, bytes, sha256: hash.digest('hex') });
  });
}

const { mode, a } = parseArgs(process.argv.slice(2));
switch (mode) {
  case 'recv-seq': recvSeq(a); break;
  case 'send-seq': sendSeq(a); break;
  case 'recv-file': recvFile(a); break;
  case 'send-file': sendFile(a); break;
  default:
    process.stderr.write(`fwd-tcp: unknown mode ${mode}\n`);
    process.exit(2);
}
