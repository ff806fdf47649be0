/**
 * Paced TCP streams for the failover tests, run inside a lab namespace with `ip netns exec`.
 * Both modes have a hard deadline (--timeout ms) and print one JSON line on stdout at the end;
 * the receiver prints "listening" first.
 *
 *   recv --bind A --port P --conns N --timeout MS
 *   send --host H --port P --conns N --rate BYTES_PER_S --duration MS [--local A]
 *        [--lports L1,L2,...] --timeout MS
 *
 * Each of the N connections carries 1024-byte records: u32 connection id, u32 sequence number,
 * then filler bytes (id + seq + offset) & 0xff. The sender writes rate/100 bytes' worth of
 * records every 10 ms for `duration`, then ends the connection; with --lports connection i
 * uses local port Li (so a test can find it on the wire). The receiver checks every
 * record (consecutive sequence numbers from 0, filler intact) and reports, per connection, the
 * records received, whether it ended with FIN (not a reset), the errors, and the longest pause
 * between two arrivals of data.
 */
import { createServer, connect, type Socket } from 'node:net';
import { parseArgs, num, type Args, finish } from './agent-args.js';

const RECORD = 1024;
const TICK_MS = 10;

function fill(buf: Buffer, off: number, id: number, seq: number): void {
  buf.writeUInt32BE(id, off);
  buf.writeUInt32BE(seq, off + 4);
  for (let i = 8; i < RECORD; i++) buf[off + i] = (id + seq + i) & 0xff;
}

interface ConnReport {
  id: number;
  remotePort: number;
  records: number;
  /** The peer closed with FIN and every byte was a whole record. */
  clean: boolean;
  maxPauseMs: number;
  errors: string[];
}

function recv(a: Args): void {
  const conns = num(a, 'conns');
  const reports: ConnReport[] = [];
  let closed = 0;
  setTimeout(() => finish({ ok: false, error: `timeout after ${a.timeout} ms`, conns: reports }, 3), num(a, 'timeout')).unref();
  const server = createServer((s: Socket) => {
    const r: ConnReport = { id: -1, remotePort: s.remotePort ?? 0, records: 0, clean: false, maxPauseMs: 0, errors: [] };
    reports.push(r);
    let pending: Buffer = Buffer.alloc(0);
    let last = 0;
    const err = (m: string): void => { if (r.errors.length < 10) r.errors.push(m); };
    s.on('data', (d: Buffer) => {
      const now = Date.now();
      if (last !== 0) r.maxPauseMs = Math.max(r.maxPauseMs, now - last);
      last = now;
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      let off = 0;
      while (pending.length - off >= RECORD) {
        const id = pending.readUInt32BE(off);
        const seq = pending.readUInt32BE(off + 4);
        if (r.id < 0) r.id = id;
        if (id !== r.id) err(`record ${r.records}: connection id ${id}, want ${r.id}`);
        if (seq !== r.records) err(`record ${r.records}: sequence ${seq}`);
        for (let i = 8; i < RECORD; i++) {
          if (pending[off + i] !== ((id + seq + i) & 0xff)) { err(`record ${r.records}: byte ${i} corrupt`); break; }
        }
        r.records += 1;
        off += RECORD;
      }
      pending = pending.subarray(off);
    });
    s.on('end', () => { r.clean = pending.length === 0; if (pending.length) err(`${pending.length} trailing bytes`); });
    s.on('error', (e) => err(`socket: ${e.message}`));
    s.on('close', () => {
      closed += 1;
      if (closed === conns) {
        server.close();
        const ok = reports.every((x) => x.clean && x.errors.length === 0);
        finish({ ok, conns: reports }, ok ? 0 : 1);
      }
    });
  });
  server.listen(num(a, 'port'), a.bind ?? '0.0.0.0', () => process.stdout.write('listening\n'));
}

function send(a: Args): void {
  const conns = num(a, 'conns');
  const perTick = Math.max(1, Math.round((num(a, 'rate') * TICK_MS) / 1000 / RECORD));
  const durationMs = num(a, 'duration');
  const lports = a.lports === undefined ? undefined : a.lports.split(',').map(Number);
  if (lports && (lports.length !== conns || lports.some((x) => !Number.isInteger(x)))) throw new Error('--lports: one port per connection');
  const sent: number[] = new Array<number>(conns).fill(0);
  const ports: number[] = new Array<number>(conns).fill(0);
  const errors: string[] = [];
  let closed = 0;
  setTimeout(() => finish({ ok: false, error: `timeout after ${a.timeout} ms`, sent, errors }, 3), num(a, 'timeout')).unref();
  const buf = Buffer.allocUnsafe(perTick * RECORD);
  for (let c = 0; c < conns; c++) {
    const s = connect({ host: a.host, port: num(a, 'port'), localAddress: a.local, localPort: lports?.[c] });
    let timer: NodeJS.Timeout | null = null;
    s.on('connect', () => {
      ports[c] = s.localPort ?? 0;
      const start = Date.now();
      timer = setInterval(() => {
        if (Date.now() - start >= durationMs) {
          if (timer) clearInterval(timer);
          s.end();
          return;
        }
        // Paced: while the socket is backed up, skip this tick rather than queue more.
        if (s.writableLength > 0) return;
        for (let k = 0; k < perTick; k++) fill(buf, k * RECORD, c, sent[c] + k);
        sent[c] += perTick;
        s.write(Buffer.from(buf));
      }, TICK_MS);
    });
    s.on('error', (e) => errors.push(`connection ${c}: ${e.message}`));
    s.on('close', () => {
      if (timer) clearInterval(timer);
      closed += 1;
      if (closed === conns) {
        const ok = errors.length === 0;
        finish({ ok, sent, ports, errors }, ok ? 0 : 1);
      }
    });
  }
}

const { mode, a } = parseArgs(process.argv.slice(2));
if (mode === 'recv') recv(a);
else if (mode === 'send') send(a);
else {
  process.stderr.write(`paced-tcp: unknown mode ${mode}\n`);
  process.exit(2);
}
