/**
 * A peer doing duplicate address detection at the same time as ipmpd, for the DAD namespace
 * tests. Run inside the peer namespace with `ip netns exec`:
 *
 *   node dad-peer.js IFNAME TARGET
 *
 * Prints `ready` once it listens, then waits for a DAD probe (NS from ::) for TARGET sent by
 * another node and answers it at once with a DAD probe of its own for TARGET (from ::, with a
 * nonce of its own), as a node that starts DAD for the same address meanwhile would. Bounded
 * by DEADLINE_MS. Prints one JSON line: {"seen": bool, "from": MAC, "sent": bool}.
 */
import { readFileSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { loadNative } from '../../../src/io/native.js';
import { macToString, parseMac } from '../../../src/wire/ethernet.js';
import { ND_NEIGHBOR_SOLICIT, validateNd, writeDadSolicit } from '../../../src/wire/icmp6-nd.js';
import { ipv6Equals, isUnspecified6, parseIpv6, solicitedNodeMac } from '../../../src/wire/ipv6.js';
import { finish } from '../../../src/lab/agent-args.js';

const DEADLINE_MS = 20_000;

function main(): void {
  const [ifname, targetText] = process.argv.slice(2);
  if (!ifname || !targetText) throw new Error('usage: dad-peer IFNAME TARGET');
  const target = parseIpv6(targetText);
  const n = loadNative();
  const ifindex = n.ifNameToIndex(ifname);
  const own = parseMac(readFileSync(`/sys/class/net/${ifname}/address`, 'utf8').trim());
  const fd = n.packetOpen(ifindex, { vnetHdr: false, rcvbuf: 0, sndbuf: 0, ignoreOutgoing: true, filter: new Uint8Array(0), nonblock: true });
  n.packetMembership(fd, ifindex, solicitedNodeMac(target), true);
  process.stdout.write('ready\n');
  const buf = new Uint8Array(2048);
  const end = Date.now() + DEADLINE_MS;
  try {
    while (Date.now() < end) {
      if (n.pollIn(fd, 50) <= 0) continue;
      for (;;) {
        const len = n.recv(fd, buf, 0, buf.length);
        if (len < 0) break;
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
