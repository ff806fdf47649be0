/**
 * TCP byte streams for traffic in the lab's namespaces: a writer that sends a known byte
 * pattern, paced or as fast as TCP takes it, for a byte count, a time or until stopped, and a
 * checker that compares every byte received with the same pattern (first difference, count,
 * sha256, longest pause between arrivals). On these two:
 *
 *   - record streams: N connections one way, each a run of numbered records; the receiver
 *     reports per connection the records, a clean end (FIN on a record boundary), the errors
 *     (test/netns/helpers/fwd-tcp.ts send-seq/recv-seq, test/netns/helpers/paced-tcp.ts);
 *   - a two-way paced stream stopped from stdin (test/netns/helpers/stream.ts);
 *   - framed transfers: a 32-byte header (id, seed, deadline, length), then a seeded stream
 *     (bench/soak/agent.ts);
 *   - a file, sent and received with its sha256 (fwd-tcp.ts send-file/recv-file).
 *
 * The agents run these with `ip netns exec` and print JSON on stdout. Receiving allocates
 * nothing per chunk (the comparison buffer grows to the largest chunk once); the writer gives
 * every write a buffer of its own, because the socket keeps it until it is flushed.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { finish } from './agent-args.js';

/** The bytes of a stream, addressable by offset. */
export interface Pattern {
  /** Writes the stream's bytes [offset, offset + n) into dst at dstOffset. */
  read(offset: number, dst: Buffer, dstOffset: number, n: number): void;
}

/** Byte i of the stream is (131·i + i/2^9 + i/2^17) mod 256: cheap, and no short period. */
export const OFFSET_PATTERN: Pattern = {
  read(offset: number, dst: Buffer, at: number, n: number): void {
    for (let k = 0; k < n; k++) {
      const i = offset + k;
      dst[at + k] = (i * 131 + (i >>> 9) + (i >>> 17)) & 0xff;
    }
  },
};

/**
 * Numbered records of `size` bytes: u32 connection id, u32 sequence number counting from 0,
 * then filler bytes (id + sequence + offset in the record) & 0xff.
 */
export class Records implements Pattern {
  constructor(public id: number, readonly size: number) {
    if (!Number.isInteger(size) || size < 8) throw new Error(`record size ${size}: expected a whole number of at least 8 bytes`);
  }

  read(offset: number, dst: Buffer, at: number, n: number): void {
    const size = this.size;
    const id = this.id;
    let seq = Math.floor(offset / size);
    let i = offset - seq * size;
    let k = 0;
    while (k < n) {
      if (i < 8) {
        dst[at + k] = (i < 4 ? id >>> (24 - 8 * i) : seq >>> (56 - 8 * i)) & 0xff;
        k += 1;
        i += 1;
      } else {
        const end = Math.min(n, k + size - i);
        for (let v = id + seq + i; k < end; k++, v++) dst[at + k] = v & 0xff;
        i = size;
      }
      if (i === size) { i = 0; seq += 1; }
    }
  }

  /** Where stream offset `offset` lies, in words: "record 12, sequence number byte 5". */
  where(offset: number): string {
    const seq = Math.floor(offset / this.size);
    const i = offset - seq * this.size;
    return `record ${seq}, ${i < 4 ? 'connection id' : i < 8 ? 'sequence number' : 'filler'} byte ${i}`;
  }
}

/** The first bytes of a stream (a header), gathered across chunks. */
export class Head {
  readonly buf: Buffer;
  private got = 0;

  constructor(n: number) {
    this.buf = Buffer.alloc(n);
  }

  get full(): boolean {
    return this.got === this.buf.length;
  }

  /** Takes what is still missing from d[start..]; returns where the rest of d starts. */
  take(d: Buffer, start = 0): number {
    const n = Math.min(this.buf.length - this.got, d.length - start);
    d.copy(this.buf, this.got, start, start + n);
    this.got += n;
    return start + n;
  }
}

export interface CheckOptions {
  /** Bytes the stream carries; a byte beyond them is a difference (at offset `limit`). */
  limit?: number;
  /** Keep a sha256 of every byte received. */
  hash?: boolean;
  /** performance.now() that gapAtMs counts from. */
  origin?: number;
}

/** The receiving side: every byte compared with the pattern (none when the pattern is null). */
export class StreamCheck {
  received = 0;
  /** Stream offset of the first byte that differs, -1 while none does. */
  mismatchAt = -1;
  /** The byte received there and the byte the pattern has (-1: none, the stream is too long). */
  got = -1;
  want = -1;
  /** Longest time between two arrivals of data (ms), and when it began (ms from `origin`). */
  maxGapMs = 0;
  gapAtMs = 0;
  private last = 0;
  private scratch = Buffer.allocUnsafe(64 * 1024);
  private readonly hash: Hash | null;
  private readonly limit: number;
  private readonly origin: number;

  constructor(public pattern: Pattern | null, o: CheckOptions = {}) {
    this.hash = o.hash ? createHash('sha256') : null;
    this.limit = o.limit ?? Infinity;
    this.origin = o.origin ?? performance.now();
  }

  /** Data arrived: d[start..end) are the next bytes of the stream (an empty range counts as an arrival). */
  push(d: Buffer, start = 0, end = d.length): void {
    const now = performance.now();
    if (this.last > 0 && now - this.last > this.maxGapMs) {
      this.maxGapMs = now - this.last;
      this.gapAtMs = this.last - this.origin;
    }
    this.last = now;
    const n = end - start;
    if (n <= 0) return;
    if (this.mismatchAt < 0) {
      const inside = Math.min(n, Math.max(0, this.limit - this.received));
      if (this.pattern && inside > 0) this.compare(d, start, inside);
      if (this.mismatchAt < 0 && inside < n) {
        this.mismatchAt = this.received + inside;
        this.got = d[start + inside];
        this.want = -1;
      }
    }
    this.hash?.update(start === 0 && end === d.length ? d : d.subarray(start, end));
    this.received += n;
  }

  digest(): string {
    return this.hash ? this.hash.digest('hex') : '';
  }

  private compare(d: Buffer, start: number, n: number): void {
    if (this.scratch.length < n) this.scratch = Buffer.allocUnsafe(n);
    const want = this.scratch;
    this.pattern!.read(this.received, want, 0, n);
    if (want.compare(d, start, start + n, 0, n) === 0) return;
    let i = 0;
    while (want[i] === d[start + i]) i++;
    this.mismatchAt = this.received + i;
    this.got = d[start + i];
    this.want = want[i];
  }
}

export interface WriteOptions {
  /** Bytes per second; 0 writes as fast as the socket takes them (the next write waits for 'drain'). */
  rate: number;
  /** End (FIN) after this many bytes (rounded down to `unit`). */
  bytes?: number;
  /** End (FIN) this long after start() (ms). */
  durationMs?: number;
  /** Every write, and so the total, is a whole number of units (records); default 1. */
  unit?: number;
  /** Paced: how often the writer wakes to send what the rate allows (ms); default 10. */
  tickMs?: number;
  /** Paced: write nothing while the socket holds more than this many unsent bytes; default 0. */
  backlog?: number;
  /** Keep a sha256 of everything written. */
  hash?: boolean;
}

/** Largest single write (bytes). */
const CHUNK = 64 * 1024;

/**
 * The sending side: the pattern's bytes from offset 0. Paced, the rate is a token bucket that
 * holds at most two ticks' worth, so a late timer does not lower the rate and a stall is not
 * made up with a burst.
 */
export class StreamWriter {
  /** Bytes handed to the socket. */
  sent = 0;
  ended = false;
  private readonly hash: Hash | null;
  private readonly limit: number;
  private readonly unit: number;
  private readonly chunk: number;
  private readonly cap: number;
  private readonly tickMs: number;
  private readonly backlog: number;
  private readonly durationMs: number;
  private readonly rate: number;
  private credit = 0;
  private last = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly sock: Socket, private readonly pattern: Pattern, o: WriteOptions) {
    if (!(o.rate >= 0)) throw new Error(`rate ${o.rate}: expected bytes per second, 0 for unpaced`);
    this.rate = o.rate;
    this.unit = o.unit ?? 1;
    this.limit = o.bytes === undefined ? Infinity : Math.floor(o.bytes / this.unit) * this.unit;
    this.durationMs = o.durationMs ?? Infinity;
    this.tickMs = o.tickMs ?? 10;
    this.backlog = o.backlog ?? 0;
    this.chunk = Math.max(this.unit, Math.floor(CHUNK / this.unit) * this.unit);
    this.cap = Math.max(this.unit, Math.ceil((2 * this.rate * this.tickMs) / 1000 / this.unit) * this.unit);
    this.hash = o.hash ? createHash('sha256') : null;
  }

  /** Starts writing (call once the socket is connected). */
  start(): void {
    this.startedAt = this.last = Date.now();
    this.credit = this.cap / 2;
    this.sock.on('drain', this.pump);
    if (this.rate > 0 || this.durationMs !== Infinity) this.timer = setInterval(this.pump, this.tickMs);
    this.pump();
  }

  /** Stops writing and ends the connection (FIN after what was written). */
  stop(): void {
    if (this.ended) return;
    this.halt();
    this.sock.end();
  }

  /** Stops writing, leaving the socket alone (it failed or closed). */
  halt(): void {
    this.ended = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  digest(): string {
    return this.hash ? this.hash.digest('hex') : '';
  }

  private readonly pump = (): void => {
    const paced = this.rate > 0;
    while (!this.ended) {
      if (this.sock.destroyed) { this.halt(); return; }
      const now = Date.now();
      if (now - this.startedAt >= this.durationMs || this.limit - this.sent < this.unit) { this.stop(); return; }
      let n = Math.min(this.chunk, this.limit - this.sent);
      if (paced) {
        if (this.sock.writableLength > this.backlog) return;
        this.credit = Math.min(this.cap, this.credit + (this.rate * (now - this.last)) / 1000);
        this.last = now;
        n = Math.min(n, this.credit - (this.credit % this.unit));
        if (n < this.unit) return;
        this.credit -= n;
      }
      const buf = Buffer.allocUnsafe(n);
      this.pattern.read(this.sent, buf, 0, n);
      this.hash?.update(buf);
      this.sent += n;
      if (!this.sock.write(buf)) return;
    }
  };
}

// ---- helpers of the agent programs ----

/** After `ms`, prints {ok: false, error: "timeout …", …what()} and exits 3. */
function deadline(ms: number, what: () => Record<string, unknown>): void {
  setTimeout(() => finish({ ok: false, error: `timeout after ${ms} ms`, ...what() }, 3), ms).unref();
}

/** Listens, prints "listening" once it does; a failure to listen is the result. */
function listen(server: Server, port: number, host: string | undefined): void {
  server.on('error', (e) => finish({ ok: false, error: `listen on port ${port}: ${e.message}` }, 1));
  server.listen(port, host, () => process.stdout.write('listening\n'));
}

function errCode(e: Error): string {
  return (e as NodeJS.ErrnoException).code ?? 'ERROR';
}

// ---- record streams ----

export interface RecordConn {
  /** Connection id from the first record, -1 before it arrived. */
  id: number;
  remotePort: number;
  /** Whole records received. */
  records: number;
  /** The peer closed with FIN and every byte was part of a whole record. */
  clean: boolean;
  /** Longest time between two arrivals of data (ms). */
  maxPauseMs: number;
  errors: string[];
}

export interface RecordReceiveOptions {
  bind?: string;
  port: number;
  /** Connections to wait for; the result is printed once they all closed. */
  conns: number;
  size: number;
  /** Records each connection must carry, when known. */
  records?: number;
  timeoutMs: number;
}

/**
 * Receives `conns` record connections and checks every byte. Prints "listening", then
 * {ok, conns: RecordConn[]}; ok: every connection clean, without error, with the records
 * wanted, and the connection ids distinct. Exit 0 when ok, 1 when not, 3 on timeout.
 */
export function receiveRecords(o: RecordReceiveOptions): void {
  new Records(0, o.size); // checks the size before anything runs
  const conns: RecordConn[] = [];
  let closed = 0;
  deadline(o.timeoutMs, () => ({ conns }));
  const server = createServer((s: Socket) => {
    const r: RecordConn = { id: -1, remotePort: s.remotePort ?? 0, records: 0, clean: false, maxPauseMs: 0, errors: [] };
    conns.push(r);
    const pattern = new Records(0, o.size);
    const check = new StreamCheck(pattern);
    const head = new Head(4);
    s.on('data', (d: Buffer) => {
      let at = 0;
      if (!head.full) {
        at = head.take(d);
        if (head.full) {
          pattern.id = r.id = head.buf.readUInt32BE(0);
          check.push(head.buf);
        }
      }
      check.push(d, at);
      r.records = Math.floor(check.received / o.size);
      r.maxPauseMs = Math.round(check.maxGapMs);
    });
    s.on('end', () => { r.clean = check.received % o.size === 0; });
    s.on('error', (e) => r.errors.push(`socket: ${e.message}`));
    s.on('close', () => {
      if (check.mismatchAt >= 0) {
        r.errors.push(`${pattern.where(check.mismatchAt)} differs: received ${check.got}, want ${check.want}`);
      }
      const trailing = check.received % o.size;
      if (trailing) r.errors.push(`${trailing} trailing bytes`);
      if (o.records !== undefined && r.records !== o.records) r.errors.push(`${r.records} records, want ${o.records}`);
      closed += 1;
      if (closed === o.conns) {
        server.close();
        const ids = new Set(conns.map((x) => x.id));
        const ok = conns.every((x) => x.clean && x.errors.length === 0) && ids.size === o.conns;
        finish({ ok, conns }, ok ? 0 : 1);
      }
    });
  });
  listen(server, o.port, o.bind ?? '0.0.0.0');
}

export interface RecordSendOptions {
  host: string;
  port: number;
  local?: string;
  /** Local port of each connection, one per connection. */
  lports?: number[];
  conns: number;
  size: number;
  /** Records per connection; without it the connections run for durationMs. */
  records?: number;
  /** Bytes per second per connection; 0: as fast as TCP goes. */
  rate: number;
  durationMs?: number;
  timeoutMs: number;
}

/**
 * `conns` connections, connection c carrying records with id c. Prints
 * {ok, sent (records per connection), ports (local ports), errors, ms}; ok: no connection
 * failed, and each wrote `records` when that was given.
 */
export function sendRecords(o: RecordSendOptions): void {
  if (o.records === undefined && o.durationMs === undefined) throw new Error('a record count or a duration is needed');
  if (o.lports && (o.lports.length !== o.conns || o.lports.some((x) => !Number.isInteger(x)))) {
    throw new Error('--lports: one port per connection');
  }
  const writers: StreamWriter[] = [];
  const ports: number[] = new Array<number>(o.conns).fill(0);
  const errors: string[] = [];
  const sent = (): number[] => writers.map((w) => w.sent / o.size);
  let closed = 0;
  const start = Date.now();
  deadline(o.timeoutMs, () => ({ sent: sent(), errors }));
  for (let c = 0; c < o.conns; c++) {
    const s = connect({ host: o.host, port: o.port, localAddress: o.local, localPort: o.lports?.[c] });
    const w = new StreamWriter(s, new Records(c, o.size), {
      rate: o.rate, unit: o.size, bytes: o.records === undefined ? undefined : o.records * o.size, durationMs: o.durationMs,
    });
    writers.push(w);
    s.on('connect', () => {
      ports[c] = s.localPort ?? 0;
      w.start();
    });
    s.on('error', (e) => errors.push(`connection ${c}: ${e.message}`));
    s.on('close', () => {
      w.halt();
      closed += 1;
      if (closed === o.conns) {
        const n = sent();
        const ok = errors.length === 0 && (o.records === undefined || n.every((x) => x === o.records));
        finish({ ok, sent: n, ports, errors, ms: Date.now() - start }, ok ? 0 : 1);
      }
    });
  }
}

// ---- a two-way paced stream ----

export interface DuplexOptions {
  /** listen: bind and port; connect: host, port and local. */
  bind?: string;
  host?: string;
  local?: string;
  port: number;
  /** Bytes per second each way. */
  rate: number;
  timeoutMs: number;
}

export interface DuplexResult {
  /** No socket error (no reset), no corrupt byte, an orderly end. */
  ok: boolean;
  sent: number;
  received: number;
  /** Offset of the first corrupt byte received, -1 when none. */
  corruptAt: number;
  /** Longest time between two arrivals of data (ms), and when it began (ms after start). */
  maxGapMs: number;
  gapAtMs: number;
  error: string | null;
}

const DUPLEX_TICK_MS = 5;
const PROGRESS_MS = 50;

/**
 * One connection, listened for or made, that carries OFFSET_PATTERN both ways at `rate`.
 * Prints "listening" or "connected", then "rx BYTES" every PROGRESS_MS while the count moves.
 * A line "stop" on stdin ends this side's sending (FIN after the last write); the side
 * finishes once it stopped and the peer's FIN arrived, printing a DuplexResult.
 */
export function duplex(mode: 'listen' | 'connect', o: DuplexOptions): void {
  const origin = performance.now();
  if (mode === 'listen') {
    const none = setTimeout(() => finish({ ok: false, error: 'no connection' }, 1), o.timeoutMs);
    const server = createServer({ allowHalfOpen: true }, (s) => {
      clearTimeout(none);
      server.close();
      s.setNoDelay(true);
      duplexRun(s, o, origin);
    });
    listen(server, o.port, o.bind);
    return;
  }
  const s = connect({ host: o.host, port: o.port, localAddress: o.local, allowHalfOpen: true });
  s.setNoDelay(true);
  const failed = (e: Error): void => finish({ ok: false, error: `connect: ${e.message}` }, 1);
  s.once('error', failed);
  s.once('connect', () => {
    s.removeListener('error', failed);
    process.stdout.write('connected\n');
    duplexRun(s, o, origin);
  });
}

function duplexRun(sock: Socket, o: DuplexOptions, origin: number): void {
  const perTick = Math.max(1, Math.round((o.rate * DUPLEX_TICK_MS) / 1000));
  const writer = new StreamWriter(sock, OFFSET_PATTERN, { rate: o.rate, tickMs: DUPLEX_TICK_MS, backlog: 4 * perTick });
  const check = new StreamCheck(OFFSET_PATTERN, { origin });
  let error: string | null = null;
  let stopped = false;
  let peerEnded = false;
  let done = false;
  const end = (): void => {
    if (done) return;
    done = true;
    writer.halt();
    clearInterval(progress);
    const ok = error === null && check.mismatchAt < 0 && peerEnded && stopped;
    const r: DuplexResult = {
      ok, sent: writer.sent, received: check.received, corruptAt: check.mismatchAt,
      maxGapMs: Math.round(check.maxGapMs * 10) / 10, gapAtMs: Math.round(check.gapAtMs), error,
    };
    finish({ ...r }, ok ? 0 : 1);
  };
  setTimeout(() => { error = error ?? `timeout after ${o.timeoutMs} ms`; end(); }, o.timeoutMs).unref();
  let reported = -1;
  const progress = setInterval(() => {
    if (check.received !== reported) { reported = check.received; process.stdout.write(`rx ${reported}\n`); }
  }, PROGRESS_MS);
  sock.on('data', (d: Buffer) => check.push(d));
  sock.on('end', () => { peerEnded = true; if (stopped) end(); });
  sock.on('error', (e) => { error = `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`.trim(); end(); });
  sock.on('close', () => end());
  writer.start();
  let input = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (s: string) => {
    input += s;
    if (!stopped && input.includes('stop')) {
      stopped = true;
      writer.stop();
      if (peerEnded) end();
    }
  });
}

// ---- framed transfers (the soak) ----

const MAGIC = 0x534f414b;
const HEADER_BYTES = 32;
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

interface Failure { error?: string; code?: string }

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

/**
 * One transfer: the header, then c.bytes of `stream` (the stream of c.seed) at c.rate, within
 * c.deadlineMs. Reports a SendEvent once: after the connection closed, or on an error or the
 * deadline (with its code).
 */
export function sendTransfer(c: SendCommand, stream: Pattern, report: (e: SendEvent) => void): void {
  if (!(c.bytes >= 0) || !(c.rate >= 0) || !(c.deadlineMs > 0)) throw new Error('send: bytes, rate and deadlineMs must be numbers ≥ 0');
  const t0 = Date.now();
  const s = connect({ host: c.host, port: c.port, localAddress: c.local });
  const w = new StreamWriter(s, stream, { rate: c.rate, bytes: c.bytes, hash: true });
  let done = false;
  const once = (f: Failure): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    w.halt();
    report({ ev: 'send', id: c.id, bytes: w.sent, sha256: w.digest(), ms: Date.now() - t0, ...f });
  };
  const timer = setTimeout(() => {
    once({ error: `timeout after ${c.deadlineMs} ms (${w.sent} of ${c.bytes} bytes written)`, code: 'TIMEOUT' });
    s.destroy();
  }, c.deadlineMs);
  s.on('connect', () => {
    s.write(header(c));
    w.start();
  });
  s.on('error', (e) => once({ error: e.message, code: errCode(e) }));
  s.on('close', (hadError) => {
    if (!hadError && w.sent === c.bytes) once({});
    else once({ error: `closed after ${w.sent} of ${c.bytes} bytes`, code: 'CLOSED' });
  });
}

/**
 * The receiving end of a transfer: reads the header, compares every byte with streamOf(seed),
 * keeps a sha256; reports a RecvEvent once, at the end, on an error, or after the sender's
 * deadline plus RECV_GRACE_MS.
 */
export function receiveTransfer(s: Socket, streamOf: (seed: number) => Pattern, report: (e: RecvEvent) => void): void {
  const t0 = Date.now();
  const head = new Head(HEADER_BYTES);
  let id = -1;
  let expected = 0;
  let check: StreamCheck | null = null;
  let done = false;
  let timer: NodeJS.Timeout | null = null;
  const once = (f: Failure): void => {
    if (done) return;
    done = true;
    if (timer) clearTimeout(timer);
    report({
      ev: 'recv', id, bytes: check?.received ?? 0, expected, sha256: check?.digest() ?? '', mismatchAt: check?.mismatchAt ?? -1,
      ms: Date.now() - t0, ...f,
    });
  };
  s.on('data', (d: Buffer) => {
    let at = 0;
    if (!check) {
      at = head.take(d);
      if (!head.full) return;
      const h = head.buf;
      if (h.readUInt32BE(0) !== MAGIC) {
        once({ error: 'bad header', code: 'BADHEADER' });
        s.destroy();
        return;
      }
      id = h.readUInt32BE(4);
      expected = h.readUInt32BE(16) * 4294967296 + h.readUInt32BE(20);
      check = new StreamCheck(streamOf(h.readUInt32BE(8)), { limit: expected, hash: true });
      const deadlineMs = h.readUInt32BE(12) + RECV_GRACE_MS;
      timer = setTimeout(() => {
        once({ error: `timeout after ${deadlineMs} ms (${check?.received ?? 0} of ${expected} bytes received)`, code: 'TIMEOUT' });
        s.destroy();
      }, deadlineMs);
    }
    if (at < d.length) check.push(d, at);
  });
  s.on('end', () => {
    const got = check?.received ?? 0;
    const at = check?.mismatchAt ?? -1;
    if (got !== expected) once({ error: `${got} bytes received, ${expected} expected`, code: 'SHORT' });
    else if (at >= 0) once({ error: `stream differs at byte ${at}`, code: 'CORRUPT' });
    else once({});
  });
  s.on('error', (e) => once({ error: e.message, code: errCode(e) }));
  s.on('close', () => once({ error: `closed without end after ${check?.received ?? 0} bytes`, code: 'CLOSED' }));
}

// ---- a file ----

/** Receives one connection; prints {ok, bytes, sha256} at its end, writing the bytes to `out` when given. */
export function receiveFile(o: { bind?: string; port: number; out?: string; timeoutMs: number }): void {
  const check = new StreamCheck(null, { hash: true });
  let out: WriteStream | null = null;
  deadline(o.timeoutMs, () => ({ bytes: check.received }));
  const server = createServer((s: Socket) => {
    server.close();
    if (o.out) out = createWriteStream(o.out);
    s.on('data', (d: Buffer) => {
      check.push(d);
      out?.write(d);
    });
    s.on('error', (e) => finish({ ok: false, error: e.message, bytes: check.received }, 1));
    s.on('end', () => {
      const result = { ok: true, bytes: check.received, sha256: check.digest() };
      if (out) out.end(() => finish(result));
      else finish(result);
    });
  });
  listen(server, o.port, o.bind ?? '0.0.0.0');
}

/** Sends a file over one connection; prints {ok, bytes, sha256} of what it read once the connection closed. */
export function sendFile(o: { host: string; port: number; local?: string; file: string; timeoutMs: number }): void {
  const read = new StreamCheck(null, { hash: true });
  deadline(o.timeoutMs, () => ({ bytes: read.received }));
  const s = connect({ host: o.host, port: o.port, localAddress: o.local });
  s.on('error', (e) => finish({ ok: false, error: e.message, bytes: read.received }, 1));
  s.on('connect', () => {
    const rs = createReadStream(o.file);
    rs.on('data', (d) => read.push(d as Buffer));
    rs.on('error', (e) => finish({ ok: false, error: e.message, bytes: read.received }, 1));
    rs.pipe(s);
  });
  s.on('close', (hadError) => {
    if (!hadError) finish({ ok: true, bytes: read.received, sha256: read.digest() });
  });
}
