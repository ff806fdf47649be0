/**
 * The forwarding loops' own (JavaScript) cost per packet: one TxPath.runOnce and one
 * RxPath.runOnce over a full batch of 64-byte UDP packets, with I/O edges that only hand
 * over lengths (the packets already sit in the batch buffer), so what is timed is the
 * per-batch and per-packet work of the loops: table refresh, validation, flow hash, bucket,
 * next hop, neighbour lookup, framing in place (TX); classification, address match and
 * stripping (RX). The system calls around a batch are measured by `ipmp bench`.
 * Run: npx tsc -p tsconfig.json && node dist/bench/dataplane/batch.bench.js
 */
import { Bench } from 'tinybench';
import { TxPath } from '../../src/dataplane/tx-path.js';
import { RxPath } from '../../src/dataplane/rx-path.js';
import { BATCH, ETH_OFF, IP_OFF, SLOT_SIZE, VNET_LEN } from '../../src/dataplane/layout.js';
import { coarseNowMs } from '../../src/tables/neighbours.js';
import type { PacketPort, TunPort } from '../../src/io/ports.js';
import { writeEthHeader } from '../../src/wire/ethernet.js';
import { learn, MAC0, twoNicGroup, ADDR0 } from '../../test/fakes/group.js';
import { mac, udp4 } from '../../test/fakes/frames.js';

const PEER = '198.18.0.50';
const PEER_MAC = mac('52:54:00:00:00:50');
const PAYLOAD = 64 - 28;

/** TUN whose reads report `BATCH` packets of `len` bytes already in place. */
function tunOf(len: number): TunPort {
  return {
    readBatch: (_buf, _slot, _voff, _doff, maxPkts, lens) => { lens.fill(len, 0, maxPkts); return maxPkts; },
    writeBatch: (_buf, _v, _o, _l, count) => count,
  };
}

/** Packet port whose receive reports `BATCH` frames of `len` bytes (vnet header included) from socket 0. */
function portOf(len: number): PacketPort {
  return {
    recvBatch: (_fds, _n, _buf, _slot, _doff, maxPkts, lens, srcIdx) => {
      lens.fill(len, 0, maxPkts);
      srcIdx.fill(0, 0, maxPkts);
      return maxPkts;
    },
    sendBatch: (_fds, _buf, _offs, _lens, count) => count,
    send: (_fd, _buf, _off, len) => len,
  };
}

function txRig(): TxPath {
  const g = twoNicGroup();
  learn(g.neigh, PEER, PEER_MAC, coarseNowMs());
  const sample = udp4({ src: ADDR0, dst: PEER, payload: PAYLOAD });
  const tx = new TxPath(g.view, g.neigh, g.counters, tunOf(sample.length), portOf(0));
  for (let i = 0; i < BATCH; i++) {
    // One flow per slot, so the flow hash sees varied ports.
    const p = udp4({ src: ADDR0, dst: PEER, sport: 40000 + i, payload: PAYLOAD });
    tx.buf.set(p, i * SLOT_SIZE + IP_OFF);
  }
  return tx;
}

function rxRig(): RxPath {
  const g = twoNicGroup();
  const sample = udp4({ src: PEER, dst: ADDR0, payload: PAYLOAD });
  const frameLen = VNET_LEN + 14 + sample.length;
  const rx = new RxPath(g.view, g.neigh, g.counters, tunOf(0), portOf(frameLen));
  // Frames land at slot + VNET_OFF; stripping leaves them intact, so they are written once.
  for (let i = 0; i < BATCH; i++) {
    const base = i * SLOT_SIZE;
    const p = udp4({ src: PEER, dst: ADDR0, sport: 40000 + i, payload: PAYLOAD });
    writeEthHeader(rx.buf, base + ETH_OFF, MAC0, 0, PEER_MAC, 0, 0x0800);
    rx.buf.set(p, base + IP_OFF);
  }
  return rx;
}

const tx = txRig();
const rx = rxRig();
// Both must forward every packet, or the figure would time the drop path.
if (tx.runOnce(0) !== BATCH || tx.counters.nicPkts(0) + tx.counters.nicPkts(1) !== BATCH) {
  throw new Error('TX rig does not forward the whole batch');
}
if (rx.runOnce(0) !== BATCH || rx.counters.nicPkts(0) !== BATCH) throw new Error('RX rig does not deliver the whole batch');

const bench = new Bench({ time: 1000 });
bench
  .add('TX batch of 64 (UDP 64 B)', () => { tx.runOnce(0); })
  .add('RX batch of 64 (UDP 64 B)', () => { rx.runOnce(0); });
await bench.run();
for (const t of bench.tasks) {
  const meanMs = t.result?.latency.mean ?? NaN;
  console.log(`${t.name.padEnd(28)} ${((meanMs * 1e6) / BATCH).toFixed(0)} ns/packet`);
}
