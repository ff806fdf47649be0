/**
 * A peer doing duplicate address detection at the same time as ipmpd, for the DAD namespace
 * tests. Run inside the peer namespace with `ip netns exec`:
 *
 *   node dad-peer.js IFNAME TARGET
 *
 * Prints `ready` once it listens, then waits for a DAD probe for TARGET sent by another node
 * (IPv6: NS from ::; IPv4: ARP probe, sender IP 0.0.0.0) and answers it at once with a probe of
 * its own for TARGET (IPv6: from ::, with a nonce of its own; IPv4: an ARP probe with its own
 * MAC), as a node that starts DAD for the same address meanwhile would. Bounded by
 * DEADLINE_MS. Prints one JSON line: {"seen": bool, "from": MAC, "sent": bool}.
 */
import { readFileSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { loadNative } from '../../../src/io/native.js';
import { macToString, parseMac } from '../../../src/wire/ethernet.js';
import { ND_NEIGHBOR_SOLICIT, validateNd, writeDadSolicit } from '../../../src/wire/icmp6-nd.js';
import { ipv6Equals, isUnspecified6, parseIpv6, solicitedNodeMac } from '../../../src/wire/ipv6.js';
import { ARP_OP_REQUEST, arpOp, arpSpa, arpTpa, buildArpRequest, validateArp } from '../../../src/wire/arp.js';
import { parseIpv4 } from '../../../src/wire/ipv4.js';
import { finish } from '../../../src/lab/agent-args.js';

const DEADLINE_MS = 20_000;

function main(): void {
  const [ifname, targetText] = process.argv.slice(2);
  if (!ifname || !targetText) throw new Error('usage: dad-peer IFNAME TARGET');
  const v4 = !targetText.includes(':');
  const target = v4 ? new Uint8Array(16) : parseIpv6(targetText);
  const target4 = v4 ? parseIpv4(targetText) : 0;
  const n = loadNative();
  const ifindex = n.ifNameToIndex(ifname);
  const own = parseMac(readFileSync(`/sys/class/net/${ifname}/address`, 'utf8').trim());
  const fd = n.packetOpen(ifindex, { vnetHdr: false, rcvbuf: 0, sndbuf: 0, ignoreOutgoing: true, filter: new Uint8Array(0), nonblock: true });
  if (!v4) n.packetMembership(fd, ifindex, solicitedNodeMac(target), true);
  process.stdout.write('ready\n');
  const buf = new Uint8Array(2048);
  const end = Date.now() + DEADLINE_MS;
  try {
    while (Date.now() < end) {
      if (n.pollIn(fd, 50) <= 0) continue;
      for (;;) {
        const len = n.recv(fd, buf, 0, buf.length);
        if (len < 0) break;
        if (v4) {
          if (len < 42 || buf[12] !== 0x08 || buf[13] !== 0x06 || validateArp(buf, 14, len - 14) < 0) continue;
          if (arpOp(buf, 14) !== ARP_OP_REQUEST || arpSpa(buf, 14) !== 0 || arpTpa(buf, 14) !== target4) continue;
          if (own.every((x, i) => x === buf[6 + i])) continue;
          const from = macToString(buf, 6);
          const f = buildArpRequest(own, 0, target4);
          finish({ seen: true, from, sent: n.send(fd, f, 0, f.length) === f.length });
          return;
        }
        if (len < 78 || buf[12] !== 0x86 || buf[13] !== 0xdd) continue;
        if (validateNd(buf, 14, len - 14) < 0 || buf[54] !== ND_NEIGHBOR_SOLICIT) continue;
        if (!isUnspecified6(buf, 22) || !ipv6Equals(buf, 62, target, 0)) continue;
        if (own.every((x, i) => x === buf[6 + i])) continue;
        const from = macToString(buf, 6);
        const f = new Uint8Array(86);
        const len2 = writeDadSolicit(f, 0, own, 0, target, 0, randomFillSync(new Uint8Array(6)), 0);
        const sent = n.send(fd, f, 0, len2) === len2;
        finish({ seen: true, from, sent });
        return;
      }
    }
    finish({ seen: false, from: '', sent: false });
  } finally {
    n.close(fd);
  }
}

try {
  main();
} catch (e) {
  process.stderr.write(`dad-peer: ${(e as Error).message}\n`);
  process.exit(1);
}
