// A steady UDP flow for failover measurements, run inside a lab namespace:
//   node udpflow.js send HOST PORT HZ DURATION_MS   datagrams carry a sequence number and the
//                                                   send time; sent on a catch-up schedule so
//                                                   timer jitter does not lower the rate
//   node udpflow.js recv PORT DURATION_MS           prints one JSON line at the end: received,
//                                                   lost, the longest gap between arrivals (ms)
//                                                   and when it started (ms after the first);
//                                                   gaps in the first 200 ms (warm-up, ARP) are
//                                                   not counted
// Both ends stop on their own after DURATION_MS.

import { createSocket } from 'node:dgram';

const WARMUP_MS = 200;

function send(host: string, port: number, hz: number, durationMs: number): void {
  const sock = createSocket('udp4');
  const t0 = performance.now();
  let seq = 0;
  const buf = Buffer.alloc(64);
  const tick = (): void => {
    const now = performance.now();
    const due = Math.min(Math.floor(((now - t0) * hz) / 1000), Math.floor((durationMs * hz) / 1000));
    while (seq < due) {
      buf.writeUInt32BE(seq, 0);
      buf.writeDoubleBE(Date.now(), 4);
      sock.send(buf, port, host, () => undefined);
      seq++;
    }
    if (now - t0 >= durationMs) {
      setTimeout(() => { process.stdout.write(`${JSON.stringify({ sent: seq })}\n`); sock.close(); }, 50);
      return;
    }
    setTimeout(tick, 1);
  };
  sock.on('error', () => undefined);
  tick();
}

function recv(port: number, durationMs: number): void {
  const sock = createSocket('udp4');
  let received = 0;
  let maxSeq = -1;
  let first = -1;
  let last = -1;
  let maxGap = 0;
  let gapAt = 0;
  sock.on('message', (msg) => {
    if (msg.length < 12) return;
    const now = performance.now();
    const seq = msg.readUInt32BE(0);
    received++;
    if (seq > maxSeq) maxSeq = seq;
    if (first < 0) first = now;
    if (last >= 0 && last - first >= WARMUP_MS && now - last > maxGap) { maxGap = now - last; gapAt = last - first; }
    last = now;
  });
  sock.bind(port, () => process.stderr.write('listening\n'));
  setTimeout(() => {
    const lost = maxSeq + 1 - received;
    process.stdout.write(`${JSON.stringify({ received, lost, maxGapMs: maxGap, gapAtMs: gapAt })}\n`);
    sock.close();
  }, durationMs);
}

const [mode, ...a] = process.argv.slice(2);
if (mode === 'send') send(a[0], Number(a[1]), Number(a[2]), Number(a[3]));
else if (mode === 'recv') recv(Number(a[0]), Number(a[1]));
else {
  process.stderr.write('usage: udpflow send HOST PORT HZ DURATION_MS | recv PORT DURATION_MS\n');
  process.exitCode = 2;
}
