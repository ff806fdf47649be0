/**
 * RxPath.runOnce cost per frame, over an in-memory port that hands out the
 * same batch of BATCH frames on every call (one copy of each frame into the
 * slot, as the kernel's recvmmsg would do) and a TUN that accepts writes:
 *   - IPv4 UDP to a data address (the delivery path),
 *   - ARP requests for a data address from one source (a flood: rate-limited),
 *   - gratuitous ARPs claiming a data address (conflicts).
 * Run: npx tsc -p . && node dist/bench/dataplane/rx-path.bench.js
 */
import { Bench } from 'tinybench';
import { RxPath } from '../../src/dataplane/rx-path.js';
import { BATCH } from '../../src/dataplane/layout.js';
import { Counters } from '../../src/tables/counters.js';
import { NeighbourTable } from '../../src/tables/neighbours.js';
import { TablesView, TablesWriter } from '../../src/tables/shared-tables.js';
import type { PacketPort, TunPort } from '../../src/io/ports.js';
import { buildArpRequest, buildGratuitousArp } from '../../src/wire/arp.js';
import { parseMac, writeEthHeader } from '../../src/wire/ethernet.js';
import { parseIpv4, writeIpv4Header } from '../../src/wire/ipv4.js';

const MAC0 = parseMac('02:00:00:00:00:0a');
const PEER_MAC = parseMac('52:54:00:00:00:50');
const ADDR0 = parseIpv4('198.18.0.10');
const PEER = parseIpv4('198.18.0.50');
const VNET = 10;

function tables(): TablesView {
  const view = new TablesView();
  new TablesWriter(view).update((w) => {
    w.setNic({ slot: 0, ifindex: 2, fd: 10, present: true, active: true, mtu: 1500, mac: MAC0 });
    w.setBuckets(new Uint8Array(256));
    w.setNominee(0);
    w.setCarrier(true);
    w.setAddresses([{ family: 4, ip: new Uint8Array([198, 18, 0, 10]), plen: 24, bound: 0 }]);
    w.setRoutes([{ family: 4, dst: new Uint8Array([198, 18, 0, 0]), plen: 24, gateway: null, metric: 0 }]);
  });
  return view;
}

/** A port that returns `frame` BATCH times per call. */
function replayPort(frame: Uint8Array): PacketPort {
  return {
    recvBatch(_fds, _n, buf, slotSize, dataOff, maxPkts, lens, srcIdx) {
      const n = Math.min(maxPkts, BATCH);
      for (let i = 0; i < n; i++) {
        buf.set(frame, i * slotSize + dataOff);
        lens[i] = frame.length;
        srcIdx[i] = 0;
      }
      return n;
    },
    sendBatch: (_f, _b, _o, _l, count) => count,
    send: (_fd, _b, _o, len) => len,
  };
}

const tun: TunPort = { readBatch: () => 0, writeBatch: (_b, _v, _o, _l, count) => count };

function withVnet(f: Uint8Array): Uint8Array {
  const out = new Uint8Array(VNET + f.length);
  out.set(f, VNET);
  return out;
}

const udp = new Uint8Array(14 + 1400);
writeEthHeader(udp, 0, MAC0, 0, PEER_MAC, 0, 0x0800);
writeIpv4Header(udp, 14, 1400, 1, 64, 17, PEER, ADDR0);

const cases: Array<[string, Uint8Array]> = [
  ['IPv4 UDP 1400 B to a data address', withVnet(udp)],
  ['ARP request flood from one source', withVnet(buildArpRequest(PEER_MAC, PEER, ADDR0))],
  ['gratuitous ARP claiming a data address', withVnet(buildGratuitousArp(parseMac('02:de:ad:00:00:01'), ADDR0))],
];

const bench = new Bench({ time: 1000 });
for (const [name, frame] of cases) {
  const rx = new RxPath(tables(), new NeighbourTable(), new Counters(), tun, replayPort(frame));
  bench.add(name, () => { rx.runOnce(0); });
}
await bench.run();
for (const t of bench.tasks) {
  const mean = t.result?.latency?.mean ?? (t.result as unknown as { mean?: number })?.mean ?? NaN;
  console.log(`${t.name.padEnd(44)} ${(mean * 1e6 / BATCH).toFixed(1)} ns/frame`);
}
