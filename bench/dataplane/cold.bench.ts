/**
 * What one sparse packet costs the forwarding thread in user space, warm and after an idle
 * stretch: the part of `ipmp bench`'s ping RTT rows that JavaScript and N-API add.
 *
 * Each sample sleeps (Atomics.wait) for the idle time, then times one step with the addon's
 * monotonic clock:
 *   - `clock`: nothing between the two clock reads (the floor of the method);
 *   - `N-API + poll`: one native call that polls one descriptor (/dev/null) without waiting;
 *   - `TX one packet`: TxPath.runOnce framing one ICMP echo request (the TUN and packet
 *     ports are in-memory, so no system call is timed);
 *   - `RX one packet`: RxPath.runOnce delivering its reply;
 *   - `wake: poll + TX + RX`: the three in a row, as the forwarding loop runs them for a ping.
 * The kernel's part (TUN read, `sendmmsg`, the peer, the TUN write, two thread switches) is not
 * here; `ipmp bench` measures the whole round trip.
 * Run: npx tsc -p . && node dist/bench/dataplane/cold.bench.js [SAMPLES]
 */
import { closeSync, openSync } from 'node:fs';
import { loadNative } from '../../src/io/native.js';
import { RxPath } from '../../src/dataplane/rx-path.js';
import { TxPath } from '../../src/dataplane/tx-path.js';
import { ETH_OFF, IP_OFF, VNET_LEN } from '../../src/dataplane/layout.js';
import { coarseNowMs } from '../../src/tables/neighbours.js';
import type { PacketPort, TunPort } from '../../src/io/ports.js';
import { writeEthHeader } from '../../src/wire/ethernet.js';
import { ADDR0, learn, MAC0, twoNicGroup } from '../../test/fakes/group.js';
import { icmpEcho4, mac } from '../../test/fakes/frames.js';

const PEER = '198.18.0.50';
const PEER_MAC = mac('52:54:00:00:00:50');
const IDLE_MS = [0.5, 10];
const samples = Math.max(50, Number(process.argv[2] ?? 300) | 0);

const native = loadNative();
const request = icmpEcho4({ src: ADDR0, dst: PEER, payload: 56 });
const reply = icmpEcho4({ src: PEER, dst: ADDR0, payload: 56 });

/** A TUN that reports one packet already in slot 0, and accepts writes. */
const tun: TunPort = {
  readBatch: (_buf, _slot, _voff, _doff, _max, lens) => { lens[0] = request.length; return 1; },
  writeBatch: (_buf, _v, _o, _l, count) => count,
};
/** A packet port that reports one frame from socket 0, and accepts sends. */
const port: PacketPort = {
  recvBatch: (_fds, _n, _buf, _slot, _doff, _max, lens, srcIdx) => { lens[0] = VNET_LEN + 14 + reply.length; srcIdx[0] = 0; return 1; },
  sendBatch: (_fds, _buf, _offs, _lens, count) => count,
  send: (_fd, _buf, _off, len) => len,
};

const g = twoNicGroup();
learn(g.neigh, PEER, PEER_MAC, coarseNowMs());
const tx = new TxPath(g.view, g.neigh, g.counters, tun, port);
tx.buf.set(request, IP_OFF);
const rx = new RxPath(g.view, g.neigh, g.counters, tun, port);
writeEthHeader(rx.buf, ETH_OFF, MAC0, 0, PEER_MAC, 0, 0x0800);
rx.buf.set(reply, IP_OFF);

const devNull = openSync('/dev/null', 'r');
const fds = new Int32Array([devNull]);
const ready = new Uint8Array(1);

const steps: [string, () => void][] = [
  ['clock', () => {}],
  ['N-API + poll', () => { native.pollFds(fds, 1, ready, 0); }],
  ['TX one packet', () => { if (tx.runOnce(0) !== 1) throw new Error('TX rig read no packet'); }],
  ['RX one packet', () => { if (rx.runOnce(0) !== 1) throw new Error('RX rig received no frame'); }],
  ['wake: poll + TX + RX', () => { native.pollFds(fds, 1, ready, 0); tx.runOnce(0); rx.runOnce(0); }],
];

// Both paths must forward, or the figures would time a drop.
tx.runOnce(0);
rx.runOnce(0);
if (g.counters.nicPkts(0) + g.counters.nicPkts(1) !== 2) throw new Error('rig does not forward both packets');
// Optimised code first, as in a daemon that has carried traffic.
for (let i = 0; i < 100_000; i++) for (const [, f] of steps) f();

const sleeper = new Int32Array(new SharedArrayBuffer(4));
const median = (v: number[]): number => { const s = [...v].sort((a, b) => a - b); return s[s.length >> 1]; };
const results = new Map<string, number[]>();
console.log(`${'step'.padEnd(24)} ${IDLE_MS.map((ms) => `after ${ms} ms idle`.padStart(20)).join('')}   (median µs of ${samples})`);
for (const [name, f] of steps) {
  const row: number[] = [];
  for (const idle of IDLE_MS) {
    const t: number[] = [];
    for (let i = 0; i < samples; i++) {
      Atomics.wait(sleeper, 0, 0, idle);
      const t0 = native.monotonicNs();
      f();
      t.push(Number(native.monotonicNs() - t0) / 1000);
    }
    row.push(median(t));
  }
  results.set(name, row);
  console.log(`${name.padEnd(24)} ${row.map((v) => v.toFixed(1).padStart(20)).join('')}`);
}
const clock = results.get('clock') as number[];
const wake = results.get('wake: poll + TX + RX') as number[];
console.log(`user-space cost of one ping's wake-up, clock floor removed: ${(wake[0] - clock[0]).toFixed(1)} µs warm, ` +
  `${(wake[1] - clock[1]).toFixed(1)} µs after ${IDLE_MS[1]} ms idle`);
closeSync(devNull);
