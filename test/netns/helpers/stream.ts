/**
 * A paced two-way TCP stream for the restart and upgrade tests, run in a lab namespace with
 * `ip netns exec`. Both ends send a byte pattern that is a function of the stream offset at a
 * fixed rate and check every byte they receive; each records the longest interval between two
 * arrivals of data. One JSON line on stdout at the end; the listener prints "listening" first,
 * the connecting side "connected".
 *
 *   listen  --bind A --port P --rate BYTES_PER_S --timeout MS
 *   connect --host H --port P [--local A] --rate BYTES_PER_S --timeout MS
 *
 * While it runs it prints "rx BYTES" every PROGRESS_MS. A line "stop" on stdin ends this side's sending (a FIN after the last chunk); a side
 * finishes once it has stopped sending and the other side's FIN arrived. Result:
 *   { ok, sent, received, corruptAt, maxGapMs, gapAtMs, error }
 * ok means no socket error (no reset), no corrupt byte, and an orderly end.
 */
import { createServer, connect, type Socket } from 'node:net';
import { parseArgs, num, type Args } from './agent-args.js';

const TICK_MS = 5;
const PROGRESS_MS = 50;

/** The byte at stream offset i. */
function patternAt(i: number): number {
  return (i * 131 + (i >>> 9) + (i >>> 17)) & 0xff;
}

function run(sock: Socket, a: Args, startedAt: number): void {
  const rate = num(a, 'rate');
  const perTick = Math.max(1, Math.round((rate * TICK_MS) / 1000));
  let sent = 0;
  let received = 0;
  let corruptAt = -1;
  let lastArrival = 0;
  let maxGapMs = 0;
  let gapAtMs = 0;
  let error: string | null = null;
  let stopped = false;
  let peerEnded = false;
  let finished = false;

  const finish = (): void => {
    if (finished) return;
    finished = true;
    clearInterval(timer);
    clearInterval(progress);
    const ok = error === null && corruptAt < 0 && peerEnded && stopped;
    const out = { ok, sent, received, corruptAt, maxGapMs: Math.round(maxGapMs * 10) / 10, gapAtMs, error };
    process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(ok ? 0 : 1));
  };
  setTimeout(() => { error = error ?? `timeout after ${a.timeout} ms`; finish(); }, num(a, 'timeout')).unref();

  let reported = -1;
  const progress = setInterval(() => {
    if (received !== reported) { reported = received; process.stdout.write(`rx ${received}\n`); }
  }, PROGRESS_MS);
  const timer = setInterval(() => {
    if (stopped || sock.destroyed) return;
    if (sock.writableLength > 4 * perTick) return;
    // A fresh buffer per write: the socket keeps a reference until it is flushed.
    const chunk = Buffer.allocUnsafe(perTick);
    for (let k = 0; k < perTick; k++) chunk[k] = patternAt(sent + k);
    sent += perTick;
    sock.write(chunk);
  }, TICK_MS);

  sock.on('data', (d: Buffer) => {
    const now = performance.now();
    if (lastArrival > 0 && now - lastArrival > maxGapMs) {
      maxGapMs = now - lastArrival;
      gapAtMs = Math.round(lastArrival - startedAt);
    }
    lastArrival = now;
    if (corruptAt < 0) {
      for (let k = 0; k < d.length; k++) {
        if (d[k] !== patternAt(received + k)) { corruptAt = received + k; break; }
      }
    }
    received += d.length;
  });
  sock.on('end', () => { peerEnded = true; if (stopped) { sock.end(); finish(); } });
  sock.on('error', (e) => { error = `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`.trim(); finish(); });
  sock.on('close', () => finish());

  let input = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (s: string) => {
    input += s;
    if (!stopped && input.includes('stop')) {
      stopped = true;
      sock.end();
      if (peerEnded) finish();
    }
  });
}

const { mode, a } = parseArgs(process.argv.slice(2));
const startedAt = performance.now();
if (mode === 'listen') {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    server.close();
    s.setNoDelay(true);
    run(s, a, startedAt);
  });
  server.listen(num(a, 'port'), a.bind, () => process.stdout.write('listening\n'));
  setTimeout(() => {
    process.stdout.write(`${JSON.stringify({ ok: false, error: 'no connection' })}\n`, () => process.exit(1));
  }, num(a, 'timeout')).unref();
} else if (mode === 'connect') {
  const s = connect({ host: a.host, port: num(a, 'port'), localAddress: a.local, allowHalfOpen: true });
  s.setNoDelay(true);
  const failed = (e: Error): void => {
    process.stdout.write(`${JSON.stringify({ ok: false, error: `connect: ${e.message}` })}\n`, () => process.exit(1));
  };
  s.once('error', failed);
  s.once('connect', () => {
    s.removeListener('error', failed);
    process.stdout.write('connected\n');
    run(s, a, startedAt);
  });
} else {
  process.stderr.write(`stream: unknown mode ${mode}\n`);
  process.exit(2);
}
