// IPv6 through ipmpd in a lab: ping6 both ways, the peer's neighbour entry for each IPv6
// data address is the MAC of the NIC it is bound to, failing that NIC sends unsolicited
// Neighbour Advertisements that reach the peer and the ping goes on, and a group with
// IPv4 and IPv6 data addresses forwards both.
//
// The TUN gets a name unique to this process: the daemon's recovery state under /run/ipmp is
// named after the TUN.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execIn, hostNs, labFail, peerNs, waitFor } from '../../src/lab/lab.js';
import { withLab } from '../../src/lab/fixture.js';
import type { Snapshot } from '../../src/daemon/protocol.js';
import { parseIpv6 } from '../../src/wire/ipv6.js';
import { startDaemon, snapshot, type RunningDaemon, withLog } from './helpers/daemon.js';
import { tcpdump } from './helpers/tcpdump.js';

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const TUN = `i6t${process.pid % 100000}`;
const V6 = ['2001:db8::10', '2001:db8::11'];
const V4 = ['198.18.0.10'];
const PEER6 = '2001:db8::1';
const PEER4 = '198.18.0.1';
const NICS = ['eth0', 'eth1'];

function config(addresses: string[]): string {
  const list = addresses.map((a) => (a.includes(':') ? `${a}/64` : `${a}/24`)).join(', ');
  return ['groups:', `  ${TUN}:`, '    interfaces: { eth0: {}, eth1: {} }', `    addresses: [${list}]`, ''].join('\n');
}


async function ping(ns: string, target: string, extra: string[] = [], count = 3): Promise<void> {
  await execIn(ns, ['ping', '-n', '-q', '-c', String(count), '-i', '0.2', '-W', '1', ...extra, target], { timeoutMs: 15_000 });
}

/** Waits until every address is bound and both NICs are active. */
async function waitBound(d: RunningDaemon, addresses: string[]): Promise<Snapshot> {
  let last: Snapshot | undefined;
  await waitFor('every data address bound and both NICs active', async () => {
    last = await snapshot(d.socket);
    const addrs = last.addresses.filter((a) => addresses.includes(a.address));
    const active = last.interfaces.filter((i) => NICS.includes(i.name) && i.active);
    return addrs.length === addresses.length && addrs.every((a) => a.inbound !== '') && active.length === NICS.length;
  }, 10_000, 100).catch((e: Error) => {
    e.message += `\nlast snapshot: ${JSON.stringify(last)}`;
    throw e;
  });
  return last!;
}

function inboundOf(s: Snapshot, address: string): string {
  return s.addresses.find((a) => a.address === address)?.inbound ?? '';
}

function macOf(s: Snapshot, nic: string): string {
  const i = s.interfaces.find((x) => x.name === nic);
  assert.ok(i && i.mac, `snapshot has a MAC for ${nic}`);
  return i.mac.toLowerCase();
}

async function peerNeigh6(p: string): Promise<{ dst: string; lladdr?: string }[]> {
  return JSON.parse((await execIn(peerNs(p), ['ip', '-6', '-j', 'neigh', 'show', 'dev', 'eth0'])).stdout) as
    { dst: string; lladdr?: string }[];
}

/**
 * Starts a capture, on the peer, of the first NA to all-nodes for `target` (IPv6 offset 48)
 * whose target link-layer option (offset 66) is `mac`; resolves with tcpdump's text
 * (bounded by 15 s).
 */
function captureNa(p: string, target: string, mac: string): { ready: Promise<void>; done: Promise<string> } {
  const hex = mac.split(':').join('');
  const t = Buffer.from(parseIpv6(target)).toString('hex');
  const words = [0, 1, 2, 3].map((w) => `ip6[${48 + w * 4}:4]==0x${t.slice(w * 8, w * 8 + 8)}`).join(' and ');
  const filter = `icmp6 and ip6[40]==136 and ip6 dst ff02::1 and ${words} and ` +
    `ip6[66:4]==0x${hex.slice(0, 8)} and ip6[70:2]==0x${hex.slice(8)}`;
  const cap = tcpdump(peerNs(p), ['-i', 'eth0', '-nn', '-e', '-vv', '-l', '--immediate-mode', '-c', '1', filter],
    { hardMs: 15_000 });
  return { ready: cap.ready, done: cap.exited.then(() => cap.out()) };
}

describe('IPv6 through ipmpd', { skip }, () => {
  it('pings both ways, binds neighbours to the bound NICs, announces a failover and keeps the ping', async () => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      const d = await startDaemon(p, config(V6));
      try {
        await withLog(d, async () => {
          let snap = await waitBound(d, V6);
          for (const a of V6) await ping(peerNs(p), a);
          for (const a of V6) await ping(hostNs(p), PEER6, ['-6', '-I', a]);

          snap = await snapshot(d.socket);
          const neigh = await peerNeigh6(p);
          for (const a of V6) {
            const n = neigh.find((x) => x.dst === a);
            assert.ok(n?.lladdr, `peer has a neighbour entry for ${a}: ${JSON.stringify(neigh)}`);
            assert.equal(n.lladdr.toLowerCase(), macOf(snap, inboundOf(snap, a)), `${a} at the MAC of ${inboundOf(snap, a)}`);
          }

          // Fail the NIC that 2001:db8::10 is bound to.
          const from = inboundOf(snap, V6[0]);
          const to = NICS.find((n) => n !== from)!;
          const cap = captureNa(p, V6[0], macOf(snap, to));
          await cap.ready;
          const background = execIn(peerNs(p), ['ping', '-n', '-q', '-c', '25', '-i', '0.2', '-W', '1', V6[0]],
            { timeoutMs: 20_000 }).then((r) => r.stdout, (e: Error) => e.message);
          await new Promise((r) => setTimeout(r, 500));
          await labFail(p, from);
          const na = await cap.done;
          assert.match(na, /neighbor advertisement.*tgt is 2001:db8::10/, `unsolicited NA for ${V6[0]} reached the peer:\n${na}`);
          assert.ok(na.toLowerCase().includes(macOf(snap, to)), `the NA carries ${to}'s MAC:\n${na}`);
          const bg = await background;
          const m = /(\d+) packets transmitted, (\d+) received/.exec(bg);
          assert.ok(m && Number(m[2]) >= 15, `ping across the failover: ${bg}`);
          await ping(peerNs(p), V6[0]);
          snap = await snapshot(d.socket);
          assert.equal(inboundOf(snap, V6[0]), to);
          const after = (await peerNeigh6(p)).find((x) => x.dst === V6[0]);
          assert.equal(after?.lladdr?.toLowerCase(), macOf(snap, to), 'the peer moved to the new MAC');
        });
      } finally {
        await d.stop();
      }
    });
  });

  it('a group with IPv4 and IPv6 data addresses forwards both', async () => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      const all = [...V4, ...V6];
      const d = await startDaemon(p, config(all));
      try {
        await withLog(d, async () => {
          await waitBound(d, all);
          for (const a of all) await ping(peerNs(p), a);
          await ping(hostNs(p), PEER4, ['-I', V4[0]]);
          await ping(hostNs(p), PEER6, ['-6', '-I', V6[1]]);
        });
      } finally {
        await d.stop();
      }
    });
  });
});
