// The latency floor's agent, run inside the lab's host namespace:
//   node floor.js NIC ADDR/PLEN PEER_MAC SECONDS
// Creates the TUN `flr0` with ADDR/PLEN (IFF_VNET_HDR, as ipmp0), opens NIC's packet socket
// (PACKET_VNET_HDR, as ipmpd's), keeps the host stack off NIC with an nftables netdev ingress
// drop (as ipmpd's isolation does), and runs the addon's floorForward: C between the two, no
// JavaScript per packet. Prints `ready` once forwarding, then one JSON line {toNic, toTun,
// seconds}. Stops after SECONDS or when its stdin (a pipe) closes; removes the TUN and the nft
// table.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadNative } from '../../src/io/native.js';
import { parseMac } from '../../src/wire/ethernet.js';

export const FLOOR_TUN = 'flr0';
const TABLE = 'ipmp_bench_floor';

function nft(script: string): void {
  execFileSync('nft', ['-f', '-'], { input: script, stdio: ['pipe', 'ignore', 'pipe'], timeout: 10_000 });
}

function main(argv: string[]): number {
  const [nic, addr, peerMacText, secs] = argv;
  const seconds = Number(secs);
  if (!nic || !/^[0-9.]+\/\d+$/.test(addr ?? '') || !peerMacText || !(seconds > 0 && seconds <= 120)) {
    process.stderr.write('usage: floor NIC ADDR/PLEN PEER_MAC SECONDS (0 < SECONDS <= 120)\n');
    return 2;
  }
  const n = loadNative();
  const ifindex = n.ifNameToIndex(nic);
  if (!ifindex) { process.stderr.write(`floor: no interface ${nic}\n`); return 1; }
  const own = parseMac(readFileSync(`/sys/class/net/${nic}/address`, 'utf8').trim());
  const peer = parseMac(peerMacText);
  const tun = n.tunOpen(FLOOR_TUN, { vnetHdr: true, multiQueue: false, persist: false });
  let pkt = -1;
  let dropping = false;
  try {
    execFileSync('ip', ['addr', 'add', addr as string, 'dev', FLOOR_TUN]);
    execFileSync('ip', ['link', 'set', FLOOR_TUN, 'up']);
    pkt = n.packetOpen(ifindex, { vnetHdr: true, rcvbuf: 8 << 20, sndbuf: 8 << 20, ignoreOutgoing: true,
      filter: new Uint8Array(0), nonblock: true });
    nft(`table netdev ${TABLE} {\n  chain ingress {\n    type filter hook ingress device "${nic}" priority -500; policy drop;\n  }\n}\n`);
    dropping = true;
    process.stdout.write('ready\n');
    const r = n.floorForward(tun.fd, pkt, own, peer, seconds, 0);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return 0;
  } finally {
    if (dropping) nft(`delete table netdev ${TABLE}\n`);
    if (pkt >= 0) n.close(pkt);
    n.close(tun.fd);
  }
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`floor: ${(e as Error).message.split('\n')[0]}\n`);
  process.exitCode = 1;
}
