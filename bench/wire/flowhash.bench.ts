/**
 * flowBucket cost per packet for a TCP/IPv4, a UDP/IPv4 and a TCP/IPv6 packet.
 * Each task hashes INNER packets so the timer overhead is amortised.
 * Run: npx tsc -p tsconfig.json && node dist/bench/wire/flowhash.bench.js
 */
import { Bench } from 'tinybench';
import { flowBucket } from '../../src/dataplane/flowhash.js';
import { parseIpv4, writeIpv4Header } from '../../src/wire/ipv4.js';
import { parseIpv6, writeIpv6Header } from '../../src/wire/ipv6.js';

const INNER = 1000;
const SLOT = 128;

/** A batch buffer of INNER packets with varying source ports, as a TX loop would see it. */
function batch(write: (b: Uint8Array, off: number, sport: number) => number): { buf: Uint8Array; len: number } {
  const buf = new Uint8Array(INNER * SLOT);
  let len = 0;
  for (let i = 0; i < INNER; i++) len = write(buf, i * SLOT, 1024 + i);
  return { buf, len };
}

function l4(b: Uint8Array, o: number, sport: number, dport: number): void {
  b[o] = sport >>> 8; b[o + 1] = sport; b[o + 2] = dport >>> 8; b[o + 3] = dport;
}

const src4 = parseIpv4('10.0.0.1');
const dst4 = parseIpv4('10.0.0.2');
const src6 = parseIpv6('2001:db8::1');
const dst6 = parseIpv6('2001:db8::2');

const tcp4 = batch((b, off, sp) => { writeIpv4Header(b, off, 60, 1, 64, 6, src4, dst4, true); l4(b, off + 20, sp, 443); return 60; });
const udp4 = batch((b, off, sp) => { writeIpv4Header(b, off, 48, 1, 64, 17, src4, dst4); l4(b, off + 20, sp, 53); return 48; });
const tcp6 = batch((b, off, sp) => { writeIpv6Header(b, off, 20, 6, 64, src6, 0, dst6, 0); l4(b, off + 40, sp, 443); return 60; });

let sink = 0;
function run(p: { buf: Uint8Array; len: number }): void {
  let acc = 0;
  for (let i = 0; i < INNER; i++) acc += flowBucket(p.buf, i * SLOT, p.len);
  sink ^= acc;
}

const bench = new Bench({ time: 500 });
bench
  .add('flowBucket tcp4', () => run(tcp4))
  .add('flowBucket udp4', () => run(udp4))
  .add('flowBucket tcp6', () => run(tcp6));
await bench.run();

for (const t of bench.tasks) {
  const meanMs = t.result?.latency.mean ?? NaN;
  console.log(`${t.name.padEnd(18)} ${((meanMs * 1e6) / INNER).toFixed(1)} ns/op`);
}
if (sink === 0.5) console.log('');
