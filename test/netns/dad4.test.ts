// Duplicate address detection by ipmpd on the initial bind of an IPv4 data address (RFC 5227,
// Solaris fast mode), seen from the lab peer: three ARP probes (sender IP 0.0.0.0, sender MAC
// the bound NIC's, from that NIC) go out about 150 ms apart before the first gratuitous ARP.
// With the peer already holding the address, the duplicate is logged once, never announced nor
// answered for, `ipmpstat -a` shows it down and the snapshot says why, while the group's other
// address is announced and reachable; once the peer lets go, deleting and re-creating the
// address runs the probes again and it is announced and reachable. A peer probing for the same
// address during ipmpd's probes (simultaneous DAD, test/netns/helpers/dad-peer.ts) makes it a
// duplicate too. A duplicate is deprecated on the TUN (preferred lifetime 0; the kernel's IPv4
// source selection ignores it, but the mark survives): after SIGUSR2 the probes run again and it
// is still a duplicate, never announced; once the peer lets go, a restart makes it usable again.
// The host's own kernel answering the probes through a NIC outside the group
// (ARP answers for any local address on any interface) is not another node: the address passes.
//
// The TUN gets a name unique to this process: the daemon's recovery state under /run/ipmp is
// named after the TUN.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execIn, hostNs, peerNs, spawnIn, waitFor } from '../../src/lab/lab.js';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { withLab } from '../../src/lab/fixture.js';
import { REPO, snapshot, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { FrameCapture, underCapture, withCapture } from './helpers/capture.js';
import { ipmpstat } from './helpers/probe-helpers.js';

const DAD_PEER = join(dirname(fileURLToPath(import.meta.url)), 'helpers', 'dad-peer.js');
const IPMP = join(REPO, 'bin', 'ipmp');

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const TUN = `dd4${process.pid % 100000}`;
const DUP = '198.18.0.10';
const CLEAN = '198.18.0.11';
const PEER = '198.18.0.1';

function config(addresses: string[]): string {
  return ['groups:', `  ${TUN}:`, '    interfaces: { eth0: {}, eth1: {} }',
    `    addresses: [${addresses.map((a) => `${a}/24`).join(', ')}]`, ''].join('\n');
}

interface Arp { at: number; src: string; kind: 'probe' | 'garp' | 'request' | 'reply'; target: string; sha: string; line: string }

/** ARP frames seen on a namespace's NIC (the peer's eth0 unless told), in order, with tcpdump's timestamps (bounded by 40 s). */
class Capture extends FrameCapture<Arp> {
  constructor(p: string, ns = peerNs(p), ifname = 'eth0') {
    super(ns, ['-i', ifname, '-tt', '-nn', '-e', '-l', '--immediate-mode', 'arp'], 40_000);
  }

  protected parse(line: string): void {
    // 1700000000.123456 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 198.18.0.10 tell 0.0.0.0, length 28
    const head = /^(\d+\.\d+)\s+(\S+) >/.exec(line);
    if (!head) return;
    const at = Number(head[1]) * 1000;
    const src = head[2];
    const req = /Request who-has (\S+?) (?:\(([0-9a-f:]+)\) )?tell (\S+?),/.exec(line);
    const rep = /Reply (\S+?) is-at (\S+?),/.exec(line);
    if (req) {
      const kind = req[3] === '0.0.0.0' ? 'probe' : req[3] === req[1] ? 'garp' : 'request';
      this.seen.push({ at, src, kind, target: req[1], sha: src, line });
    } else if (rep) {
      this.seen.push({ at, src, kind: 'reply', target: rep[1], sha: rep[2], line });
    }
  }
}

async function macOf(ns: string, ifname: string): Promise<string> {
  const j = JSON.parse((await execIn(ns, ['ip', '-j', 'link', 'show', ifname])).stdout) as { address: string }[];
  return j[0].address.toLowerCase();
}

/** True when one ping from the peer to `dst` is answered within a second. */
async function peerPings(p: string, dst: string): Promise<boolean> {
  try {
    await execIn(peerNs(p), ['ping', '-n', '-c', '1', '-W', '1', dst], { timeoutMs: 5_000 });
    return true;
  } catch {
    return false;
  }
}

function dupLine(peer: string): RegExp {
  return new RegExp(`Duplicate address ${DUP.replace(/\./g, '\\.')} detected on ${TUN} \\(node ${peer}\\); address not announced`, 'g');
}

describe('IPv4 duplicate address detection', { skip }, () => {
  it('sends 3 ARP probes from the bound NIC, about 150 ms apart, before the first gratuitous ARP', async () => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      const ours = [await macOf(hostNs(p), 'eth0'), await macOf(hostNs(p), 'eth1')];
      await underCapture(p, () => new Capture(p), config([CLEAN]), async (d, cap) => {
        const firstGarp = (): number => cap.seen.findIndex((x) => x.kind === 'garp' && x.target === CLEAN);
        await waitFor(`a gratuitous ARP for ${CLEAN}`, async () => firstGarp() >= 0, 15_000, 50);
        const garp = cap.seen[firstGarp()];
        const probes = cap.seen.filter((x) => x.kind === 'probe' && x.target === CLEAN);
        assert.equal(probes.length, 3, 'three probes');
        assert.ok(probes.every((x) => cap.seen.indexOf(x) < firstGarp()), 'all probes before the first gratuitous ARP');
        const bound = (await snapshot(d.socket)).addresses.find((x) => x.address === CLEAN);
        const boundMac = ours[bound?.inbound === 'eth1' ? 1 : 0];
        assert.ok(probes.every((x) => x.src === boundMac), `from the bound NIC (${bound?.inbound} ${boundMac}): ${probes.map((x) => x.line)}`);
        // Timers never fire early; the upper bounds are only safety bounds for a loaded machine.
        const gaps = probes.slice(1).map((x, i) => x.at - probes[i].at);
        assert.ok(gaps.every((g) => g >= 140 && g < 2000), `probe spacing ${gaps.map((g) => g.toFixed(1))} ms`);
        const wait = garp.at - probes[2].at;
        assert.ok(wait >= 140 && wait < 2000, `gratuitous ARP ${wait.toFixed(1)} ms after the last probe`);
        assert.match(d.log(), new RegExp(`${CLEAN.replace(/\./g, '\\.')}: duplicate address detection passed`));
        assert.doesNotMatch(d.log(), /Duplicate address/);
      });
    });
  });

  it('a duplicate held by the peer: logged once, never announced nor answered, down in ipmpstat -a; re-created after the peer lets go, it passes', async () => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      const peer = await macOf(peerNs(p), 'eth0');
      await execIn(peerNs(p), ['ip', 'addr', 'add', `${DUP}/24`, 'dev', 'eth0']);
      await underCapture(p, () => new Capture(p), config([DUP, CLEAN]), async (d, cap) => {
        await waitFor('the duplicate logged', async () => dupLine(peer).test(d.log()), 15_000, 50);
        // The clean address's announcements run on the same timer as the duplicate's would:
        // two of them bound the time a gratuitous ARP for the duplicate would have shown up.
        const garps = (t: string): Arp[] => cap.seen.filter((x) => x.kind === 'garp' && x.target === t && x.src !== peer);
        await waitFor(`two gratuitous ARPs for ${CLEAN}`, async () => garps(CLEAN).length >= 2, 15_000, 50);
        assert.ok(cap.seen.some((x) => x.kind === 'probe' && x.target === DUP && x.src !== peer), 'ARP probe sent');
        assert.ok(cap.seen.some((x) => x.kind === 'reply' && x.target === DUP && x.src === peer), 'the peer answered it');
        assert.deepEqual(garps(DUP).map((x) => x.line), [], `no gratuitous ARP for ${DUP} from the group`);
        assert.equal(d.log().match(dupLine(peer))?.length, 1, 'logged once');

        const rows = (await ipmpstat(p, d, ['-n', '-o', 'ADDRESS,STATE,INBOUND', '-P', '-a'])).trim().split('\n');
        assert.ok(rows.includes(`${DUP}:down:`), `duplicate down with no INBOUND: ${rows.join(' | ')}`);
        assert.ok(rows.some((r) => r.startsWith(`${CLEAN}:up:eth`)), `the other address up: ${rows.join(' | ')}`);
        const a = (await snapshot(d.socket)).addresses.find((x) => x.address === DUP);
        assert.deepEqual({ up: a?.up, reason: a?.reason, node: a?.node }, { up: false, reason: 'duplicate', node: peer });
        assert.equal(await peerPings(p, CLEAN), true, `${CLEAN} answers the peer`);

        // The peer lets go: its requests for the duplicate are still not answered.
        await execIn(peerNs(p), ['ip', 'addr', 'del', `${DUP}/24`, 'dev', 'eth0']);
        assert.equal(await peerPings(p, DUP), false, 'a duplicate is not answered for');
        assert.ok(cap.seen.some((x) => x.kind === 'request' && x.target === DUP && x.src === peer), 'the peer asked');
        assert.deepEqual(cap.seen.filter((x) => x.kind === 'reply' && x.target === DUP && x.src !== peer).map((x) => x.line), []);

        // Removed and added again: the probes run again, it passes, is announced and reachable.
        const ipmp = (...args: string[]) => execIn(hostNs(p), [process.execPath, IPMP, '--socket', d.socket, ...args], { timeoutMs: 10_000 });
        const probesBefore = cap.seen.filter((x) => x.kind === 'probe' && x.target === DUP && x.src !== peer).length;
        await ipmp('delete-addr', `${DUP}/24`, TUN);
        await ipmp('create-addr', '-a', `${DUP}/24`, TUN);
        await waitFor(`DAD of ${DUP} passed`, async () => new RegExp(`${DUP.replace(/\./g, '\\.')}: duplicate address detection passed`).test(d.log()), 10_000, 50);
        await waitFor(`a gratuitous ARP for ${DUP}`, async () => garps(DUP).length >= 1, 10_000, 50);
        assert.equal(cap.seen.filter((x) => x.kind === 'probe' && x.target === DUP && x.src !== peer).length, probesBefore + 3,
          'three new probes');
        const again = (await snapshot(d.socket)).addresses.find((x) => x.address === DUP);
        assert.equal(again?.up, true);
        assert.equal(again?.reason, undefined);
        await waitFor(`${DUP} answering the peer`, () => peerPings(p, DUP), 10_000, 100);
        assert.equal(d.log().match(/Duplicate address/g)?.length, 1);
        assert.equal(d.alive(), true);
      });
    });
  });

  it('a peer probing for the address during our probes makes it a duplicate; the other address is unaffected', async () => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      const peer = await macOf(peerNs(p), 'eth0');
      const agent = spawnIn(peerNs(p), [process.execPath, DAD_PEER, 'eth0', DUP]);
      let out = '';
      agent.stdout?.on('data', (b: Buffer) => { out += b.toString(); });
      try {
        await waitFor('the DAD peer listening', async () => out.includes('ready\n'), 10_000, 20);
        await underCapture(p, () => new Capture(p), config([CLEAN, DUP]), async (d, cap) => {
          await waitFor('the peer\'s probe', async () => out.includes('"seen"'), 15_000, 50);
          const res = JSON.parse(out.split('\n').find((l) => l.startsWith('{')) ?? '{}') as { seen: boolean; sent: boolean; from: string };
          assert.deepEqual({ seen: res.seen, sent: res.sent }, { seen: true, sent: true });
          assert.notEqual(res.from, peer);
          await waitFor('the duplicate logged', async () => dupLine(peer).test(d.log()), 10_000, 50);
          assert.match(d.log(), new RegExp(`node ${peer} is probing for our address ${DUP.replace(/\./g, '\\.')} on eth\\d \\(duplicate address detection\\)`));
          const garps = (t: string): Arp[] => cap.seen.filter((x) => x.kind === 'garp' && x.target === t && x.src !== peer);
          await waitFor(`two gratuitous ARPs for ${CLEAN}`, async () => garps(CLEAN).length >= 2, 15_000, 50);
          assert.deepEqual(garps(DUP).map((x) => x.line), [], `no gratuitous ARP for ${DUP} from the group`);
          const a = (await snapshot(d.socket)).addresses.find((x) => x.address === DUP);
          assert.deepEqual({ up: a?.up, reason: a?.reason, node: a?.node }, { up: false, reason: 'duplicate', node: peer });
          assert.equal(await peerPings(p, CLEAN), true, `${CLEAN} answers the peer`);
          assert.equal(d.log().match(dupLine(peer))?.length, 1, 'logged once');
        });
      } finally {
        if (agent.exitCode === null) agent.kill('SIGTERM');
      }
    });
  });

  it('the host\'s own NIC outside the group answering the probes is not a duplicate', async () => {
    await withLab({ nics: 3 }, async (lab) => {
      const p = lab.prefix;
      const eth2 = await macOf(hostNs(p), 'eth2');
      // What eth2 hears and sends: our probes, its kernel's answers, our gratuitous ARPs.
      await underCapture(p, () => new Capture(p, hostNs(p), 'eth2'), config([CLEAN]), async (d, cap) => {
        await waitFor(`a gratuitous ARP for ${CLEAN}`, async () => cap.seen.some((x) => x.kind === 'garp' && x.target === CLEAN), 15_000, 50);
        assert.ok(cap.seen.some((x) => x.kind === 'reply' && x.target === CLEAN && x.sha === eth2),
          'the host kernel answered a probe through eth2');
        assert.match(d.log(), new RegExp(`${CLEAN.replace(/\./g, '\\.')}: duplicate address detection passed`));
        assert.doesNotMatch(d.log(), /Duplicate address/);
        assert.equal((await snapshot(d.socket)).addresses.find((x) => x.address === CLEAN)?.up, true);
      });
    });
  });

  it('a duplicate is deprecated on the TUN and checked again after SIGUSR2; once the peer lets go, a restart makes it usable', async () => {
    try {
      await withLab({ nics: 2 }, async (lab) => {
        const p = lab.prefix;
        const peer = await macOf(peerNs(p), 'eth0');
        await execIn(peerNs(p), ['ip', 'addr', 'add', `${DUP}/24`, 'dev', 'eth0']);
        const cap = new Capture(p);
        const daemons: RunningDaemon[] = [];
        const deprecated = async (addr: string): Promise<boolean> => {
          const j = JSON.parse((await execIn(hostNs(p), ['ip', '-j', '-4', 'addr', 'show', 'dev', TUN])).stdout) as
            { addr_info: { local: string; deprecated?: boolean }[] }[];
          return j[0]?.addr_info.find((x) => x.local === addr)?.deprecated === true;
        };
        const garps = (): Arp[] => cap.seen.filter((x) => x.kind === 'garp' && x.target === DUP && x.src !== peer);
        const probes = (): number => cap.seen.filter((x) => x.kind === 'probe' && x.target === DUP && x.src !== peer).length;
        try {
          await cap.ready;
          let d = await startDaemon(p, config([CLEAN, DUP]));
          daemons.push(d);
          await withCapture(d, cap, async () => {
            await waitFor('the duplicate logged', async () => (d.log().match(dupLine(peer))?.length ?? 0) === 1, 15_000, 50);
            await waitFor('the duplicate deprecated', () => deprecated(DUP), 5_000, 50);
            assert.match(d.log(), new RegExp(`${DUP.replace(/\./g, '\\.')} deprecated on ${TUN} \\(preferred lifetime 0\\): marked duplicate`));
            assert.equal(await deprecated(CLEAN), false);

            // In-place upgrade: the address is taken over, but deprecated in the kernel, so the probes run again.
            const from = d.log().length;
            const before = probes();
            const seenAtUpgrade = cap.seen.length;
            process.kill(d.pid, 'SIGUSR2');
            await d.waitLog(/ipmpd: ready \([^)]*upgraded in place/, 30_000, from);
            await waitFor('the duplicate logged again', async () => (d.log().match(dupLine(peer))?.length ?? 0) === 2, 15_000, 50);
            assert.match(d.log().slice(from), new RegExp(`${DUP.replace(/\./g, '\\.')} is deprecated on ${TUN} \\(a duplicate, or still under detection, before the upgrade\\)`));
            assert.ok(probes() > before && probes() <= before + 3, `probes again (${probes() - before}), stopping at the answer`);
            assert.equal(await deprecated(DUP), true);
            // The taken-over clean address is announced again on the same timer: two of its
            // gratuitous ARPs bound the time one for the duplicate would have shown up.
            await waitFor(`two gratuitous ARPs for ${CLEAN} after the upgrade`,
              async () => cap.seen.slice(seenAtUpgrade).filter((x) => x.kind === 'garp' && x.target === CLEAN).length >= 2, 15_000, 50);
            assert.deepEqual(garps().map((x) => x.line), [], `no gratuitous ARP for ${DUP}`);
          });

          // The peer lets go; after kill -9 and a new start the probes pass and the mark is removed.
          await execIn(peerNs(p), ['ip', 'addr', 'del', `${DUP}/24`, 'dev', 'eth0']);
          await d.kill9();
          d = await startDaemon(p, config([CLEAN, DUP]));
          daemons.push(d);
          await withCapture(d, cap, async () => {
            await waitFor(`DAD of ${DUP} passed`, async () => new RegExp(`${DUP.replace(/\./g, '\\.')}: duplicate address detection passed`).test(d.log()), 15_000, 50);
            assert.match(d.log(), new RegExp(`${DUP.replace(/\./g, '\\.')} is preferred again on ${TUN}`));
            assert.equal(await deprecated(DUP), false);
            await waitFor(`a gratuitous ARP for ${DUP}`, async () => garps().length >= 1, 10_000, 50);
            await waitFor(`${DUP} answering the peer`, () => peerPings(p, DUP), 10_000, 100);
          });
          await d.stop();
        } finally {
          for (const x of daemons) if (x.alive()) await x.kill9();
          cap.stop();
        }
      });
    } finally {
      for (const f of existsSync('/run/ipmp') ? readdirSync('/run/ipmp') : []) {
        if (f.startsWith(`${TUN}.`) && f.endsWith('.json')) rmSync(`/run/ipmp/${f}`, { force: true });
      }
    }
  });
});
