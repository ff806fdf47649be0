// Duplicate address detection by ipmpd on the initial bind of an IPv6 data address, seen from
// the lab peer: the DAD probe (NS from ::) goes out before the first unsolicited NA; with the
// peer already holding the address, the daemon logs the duplicate and never announces it while
// the group's other address is announced as usual. A peer that probes for the same address
// during ipmpd's window (simultaneous DAD, test/netns/helpers/dad-peer.ts) makes it a duplicate
// too: `ipmpstat -a` shows it down, the snapshot says why, and deleting and re-creating the
// address runs DAD again (deprecated meanwhile, so the host takes the other address as a
// source), after which it is up, preferred and announced. A duplicate is deprecated on the
// TUN (preferred lifetime 0), so new connections take the other address as their source; it stays
// deprecated across SIGUSR2 and kill -9 (DAD runs again) and is preferred once DAD passes. A peer holding a NIC's IPv6
// link-local test address makes that test address a duplicate: logged, and the NIC does not
// probe over IPv6 while the other NIC does.
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
const TUN = `dad${process.pid % 100000}`;
const DUP = '2001:db8::10';
const CLEAN = '2001:db8::11';
/** An on-link destination (the kernel's source selection only weighs the first 64 bits). */
const PEER6 = '2001:db8::99';

function config(addresses: string[]): string {
  return ['groups:', `  ${TUN}:`, '    interfaces: { eth0: {}, eth1: {} }',
    `    addresses: [${addresses.map((a) => `${a}/64`).join(', ')}]`, ''].join('\n');
}

interface Nd { src: string; dad: boolean; kind: 'ns' | 'na'; target: string; line: string }

/** Neighbour solicitations and advertisements seen on the peer's eth0, in order (bounded by 30 s). */
class Capture extends FrameCapture<Nd> {
  constructor(p: string) {
    super(peerNs(p), ['-i', 'eth0', '-nn', '-e', '-l', '--immediate-mode', 'icmp6 and (ip6[40]==135 or ip6[40]==136)'], 30_000);
  }

  protected parse(line: string): void {
    // 02:..:.. > 33:33:ff:00:00:10, ethertype IPv6 (0x86dd), length 78: :: > ff02::1:ff00:10: ICMP6, neighbor solicitation, who has 2001:db8::10, length 24
    const src = /^\S+\s+(\S+) >/.exec(line)?.[1] ?? '';
    const ns = /neighbor solicitation, who has (\S+?),/.exec(line);
    const na = /neighbor advertisement, tgt is (\S+?),/.exec(line);
    if (ns) this.seen.push({ src, dad: /: :: > /.test(line), kind: 'ns', target: ns[1], line });
    else if (na) this.seen.push({ src, dad: false, kind: 'na', target: na[1], line });
  }
}

async function peerMac(p: string): Promise<string> {
  const j = JSON.parse((await execIn(peerNs(p), ['ip', '-j', 'link', 'show', 'eth0'])).stdout) as { address: string }[];
  return j[0].address.toLowerCase();
}

interface Lft { deprecated: boolean; preferred: number | null; valid: number | null }

/** How the host namespace's TUN holds `addr`: deprecated or not, and its lifetimes (s; null when absent). */
async function lifetimes(p: string, addr: string): Promise<Lft | null> {
  const j = JSON.parse((await execIn(hostNs(p), ['ip', '-j', '-6', 'addr', 'show', 'dev', TUN])).stdout) as
    { addr_info: { local: string; deprecated?: boolean; preferred_life_time?: number; valid_life_time?: number }[] }[];
  const a = j[0]?.addr_info.find((x) => x.local === addr);
  if (!a) return null;
  const text = (await execIn(hostNs(p), ['ip', '-6', 'addr', 'show', 'dev', TUN])).stdout;
  const line = text.split('\n').findIndex((l) => l.includes(`inet6 ${addr}/`));
  const lft = text.split('\n')[line + 1] ?? '';
  // `ip` prints "deprecated" among the flags and "preferred_lft 0sec" on the next line.
  const deprecated = a.deprecated === true && /preferred_lft 0sec/.test(lft);
  return { deprecated, preferred: a.preferred_life_time ?? null, valid: a.valid_life_time ?? null };
}

const FOREVER = 4294967295;

/** The source address the host's kernel picks for a new connection to `dst` (a UDP socket connected to it). */
async function sourceFor(p: string, dst: string): Promise<string> {
  const script = `const s=require('dgram').createSocket('udp6');s.connect(9,${JSON.stringify(dst)},()=>{console.log(s.address().address);s.close();});`;
  return (await execIn(hostNs(p), [process.execPath, '-e', script], { timeoutMs: 10_000 })).stdout.trim();
}

/** The source address the host's kernel selects for `dst` (`ip route get`, quick enough to run inside a DAD window). */
async function routeSource(p: string, dst: string): Promise<string> {
  const j = JSON.parse((await execIn(hostNs(p), ['ip', '-j', '-6', 'route', 'get', dst])).stdout) as { prefsrc?: string }[];
  return j[0]?.prefsrc ?? '';
}

describe('IPv6 duplicate address detection', { skip }, () => {
  it('sends a DAD probe (NS from ::) for a data address before its first unsolicited NA', async () => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      const peer = await peerMac(p);
      await underCapture(p, () => new Capture(p), config([CLEAN]), async (d, cap) => {
        const firstNa = (): number => cap.seen.findIndex((x) => x.kind === 'na' && x.target === CLEAN && x.src !== peer);
        await waitFor(`an unsolicited NA for ${CLEAN}`, async () => firstNa() >= 0, 15_000, 50);
        const probe = cap.seen.findIndex((x) => x.kind === 'ns' && x.dad && x.target === CLEAN);
        assert.ok(probe >= 0, 'a DAD probe for the address was seen');
        assert.ok(probe < firstNa(), 'the DAD probe comes before the first unsolicited NA');
        assert.notEqual(cap.seen[probe].src, peer, 'the probe comes from one of the group\'s NICs');
        assert.match(d.log(), new RegExp(`${CLEAN}: duplicate address detection passed`));
        assert.doesNotMatch(d.log(), /Duplicate address/);
      });
    });
  });

  it('logs a duplicate held by the peer and never announces it; the other address is announced', async () => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      const peer = await peerMac(p);
      await execIn(peerNs(p), ['ip', '-6', 'addr', 'add', `${DUP}/64`, 'dev', 'eth0', 'nodad']);
      await underCapture(p, () => new Capture(p), config([DUP, CLEAN]), async (d, cap) => {
        const re = new RegExp(`Duplicate address ${DUP} detected on ${TUN} \\(node ${peer}\\); address not announced`);
        await waitFor('the duplicate logged', async () => re.test(d.log()), 15_000, 50);
        // The clean address's announcements run on the same timer as the duplicate's would:
        // two of them bound the time any NA for the duplicate would have shown up.
        const nas = (t: string): Nd[] => cap.seen.filter((x) => x.kind === 'na' && x.target === t && x.src !== peer);
        await waitFor(`two unsolicited NAs for ${CLEAN}`, async () => nas(CLEAN).length >= 2, 15_000, 50);
        assert.ok(cap.seen.some((x) => x.kind === 'ns' && x.dad && x.target === DUP && x.src !== peer), 'DAD probe sent');
        assert.ok(cap.seen.some((x) => x.kind === 'na' && x.target === DUP && x.src === peer), 'the peer answered it');
        assert.deepEqual(nas(DUP).map((x) => x.line), [], `no NA for ${DUP} from the group`);
        assert.equal(d.alive(), true);
        assert.equal(d.log().match(/Duplicate address/g)?.length, 1, 'logged once');
      });
    });
  });

  it('a peer probing for the address in the same window makes it a duplicate: down in ipmpstat -a; re-created, it passes', async () => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      const peer = await peerMac(p);
      const agent = spawnIn(peerNs(p), [process.execPath, DAD_PEER, 'eth0', DUP]);
      let out = '';
      agent.stdout?.on('data', (b: Buffer) => { out += b.toString(); });
      try {
        await waitFor('the DAD peer listening', async () => out.includes('ready\n'), 10_000, 20);
        // DUP is added last: the kernel lists it first and, not deprecated, would pick it as a source.
        await underCapture(p, () => new Capture(p), config([CLEAN, DUP]), async (d, cap) => {
          await waitFor('the peer\'s answering probe', async () => out.includes('"seen"'), 15_000, 50);
          const res = JSON.parse(out.split('\n').find((l) => l.startsWith('{')) ?? '{}') as { seen: boolean; sent: boolean; from: string };
          assert.deepEqual({ seen: res.seen, sent: res.sent }, { seen: true, sent: true });
          assert.notEqual(res.from, peer);
          const re = new RegExp(`Duplicate address ${DUP} detected on ${TUN} \\(node ${peer}\\); address not announced`);
          await waitFor('the duplicate logged', async () => re.test(d.log()), 10_000, 50);
          assert.match(d.log(), new RegExp(`node ${peer} is probing for our address ${DUP} on eth\\d \\(duplicate address detection\\)`));
          const nas = (t: string): Nd[] => cap.seen.filter((x) => x.kind === 'na' && x.target === t && x.src !== peer);
          await waitFor(`two unsolicited NAs for ${CLEAN}`, async () => nas(CLEAN).length >= 2, 15_000, 50);
          assert.deepEqual(nas(DUP).map((x) => x.line), [], `no NA for ${DUP} from the group`);

          const rows = (await ipmpstat(p, d, ['-n', '-o', 'ADDRESS,STATE,INBOUND', '-P', '-a'])).trim().split('\n');
          assert.ok(rows.includes(`${DUP.replace(/:/g, '\\:')}:down:`), `duplicate down with no INBOUND: ${rows.join(' | ')}`);
          assert.ok(rows.some((r) => r.startsWith(`${CLEAN.replace(/:/g, '\\:')}:up:eth`)), `the other address up: ${rows.join(' | ')}`);
          const a = (await snapshot(d.socket)).addresses.find((x) => x.address === DUP);
          assert.deepEqual({ up: a?.up, reason: a?.reason, node: a?.node }, { up: false, reason: 'duplicate', node: peer });

          // Deprecated in the kernel: kept, but never the source of a new connection while the other address is there.
          assert.match(d.log(), new RegExp(`${DUP} deprecated on ${TUN} \\(preferred lifetime 0\\): not used as a source address`));
          assert.deepEqual(await lifetimes(p, DUP), { deprecated: true, preferred: 0, valid: FOREVER });
          assert.deepEqual(await lifetimes(p, CLEAN), { deprecated: false, preferred: FOREVER, valid: FOREVER });
          assert.equal(await sourceFor(p, PEER6), CLEAN, 'the source of a new connection');

          // Removed and added again (the peer no longer probes): DAD runs again and passes.
          const ipmp = (...args: string[]) => execIn(hostNs(p), [process.execPath, IPMP, '--socket', d.socket, ...args], { timeoutMs: 10_000 });
          const probesBefore = cap.seen.filter((x) => x.kind === 'ns' && x.dad && x.target === DUP && x.src !== peer).length;
          await ipmp('delete-addr', `${DUP}/64`, TUN);
          await ipmp('create-addr', '-a', `${DUP}/64`, TUN);
          // Inside its 1 s DAD window the address is deprecated: the kernel picks the other one.
          const inWindow = { lft: await lifetimes(p, DUP), src: await routeSource(p, PEER6) };
          const passed = new RegExp(`${DUP}: duplicate address detection passed`).test(d.log());
          assert.equal(passed, false, 'the window checks ran before DAD ended');
          assert.deepEqual(inWindow, { lft: { deprecated: true, preferred: 0, valid: FOREVER }, src: CLEAN });
          await waitFor(`DAD of ${DUP} passed`, async () => new RegExp(`${DUP}: duplicate address detection passed`).test(d.log()), 10_000, 50);
          await waitFor(`an unsolicited NA for ${DUP}`, async () => nas(DUP).length >= 1, 10_000, 50);
          assert.equal(cap.seen.filter((x) => x.kind === 'ns' && x.dad && x.target === DUP && x.src !== peer).length, probesBefore + 1,
            'one new DAD probe');
          const again = (await snapshot(d.socket)).addresses.find((x) => x.address === DUP);
          assert.equal(again?.up, true);
          assert.equal(again?.reason, undefined);
          assert.deepEqual(await lifetimes(p, DUP), { deprecated: false, preferred: FOREVER, valid: FOREVER });
          // The newest of two equally good addresses is the kernel's pick: the re-created one again.
          assert.equal(await sourceFor(p, PEER6), DUP, 'the re-created address is a source again');
          assert.equal(d.alive(), true);
        });
      } finally {
        if (agent.exitCode === null) agent.kill('SIGTERM');
      }
    });
  });

  it('a duplicate stays deprecated across SIGUSR2 and kill -9 (detection runs again); once the peer lets go, a restart makes it preferred', async () => {
    try {
      await withLab({ nics: 2 }, async (lab) => {
        const p = lab.prefix;
        const peer = await peerMac(p);
        await execIn(peerNs(p), ['ip', '-6', 'addr', 'add', `${DUP}/64`, 'dev', 'eth0', 'nodad']);
        const cap = new Capture(p);
        const daemons: RunningDaemon[] = [];
        try {
          await cap.ready;
          const dupLine = new RegExp(`Duplicate address ${DUP} detected on ${TUN} \\(node ${peer}\\)`, 'g');
          let d = await startDaemon(p, config([CLEAN, DUP]));
          daemons.push(d);
          await withCapture(d, cap, async () => {
            await waitFor('the duplicate logged', async () => (d.log().match(dupLine)?.length ?? 0) === 1, 15_000, 50);
            await waitFor('the duplicate deprecated', async () => (await lifetimes(p, DUP))?.deprecated === true, 5_000, 50);

            // In-place upgrade: the address is taken over, but deprecated in the kernel, so detection runs again.
            const from = d.log().length;
            const probes = (): number => cap.seen.filter((x) => x.kind === 'ns' && x.dad && x.target === DUP && x.src !== peer).length;
            const before = probes();
            process.kill(d.pid, 'SIGUSR2');
            await d.waitLog(/ipmpd: ready \([^)]*upgraded in place/, 30_000, from);
            await waitFor('the duplicate logged again', async () => (d.log().match(dupLine)?.length ?? 0) === 2, 15_000, 50);
            const after = d.log().slice(from);
            assert.match(after, new RegExp(`${DUP} is deprecated on ${TUN} \\(a duplicate, or still under detection, before the upgrade\\): duplicate address detection runs again`));
            assert.doesNotMatch(after, new RegExp(`${CLEAN} is deprecated`), 'the clean address is taken over as it is');
            assert.equal(probes(), before + 1, 'one new DAD probe');
            assert.deepEqual(await lifetimes(p, DUP), { deprecated: true, preferred: 0, valid: FOREVER });
            assert.equal(await sourceFor(p, PEER6), CLEAN);
          });

          // kill -9 and a new start: the TUN keeps the deprecated address; detection finds the duplicate again.
          await d.kill9();
          d = await startDaemon(p, config([CLEAN, DUP]));
          daemons.push(d);
          await withCapture(d, cap, async () => {
            await waitFor('the duplicate logged after the restart', async () => dupLine.test(d.log()), 15_000, 50);
            assert.deepEqual(await lifetimes(p, DUP), { deprecated: true, preferred: 0, valid: FOREVER });
            assert.doesNotMatch(d.log(), /preferred again/);
          });

          // The peer lets go; after another kill -9 and start, DAD passes and the address is preferred again.
          await execIn(peerNs(p), ['ip', '-6', 'addr', 'del', `${DUP}/64`, 'dev', 'eth0']);
          await d.kill9();
          d = await startDaemon(p, config([CLEAN, DUP]));
          daemons.push(d);
          await withCapture(d, cap, async () => {
            await waitFor(`DAD of ${DUP} passed`, async () => new RegExp(`${DUP}: duplicate address detection passed`).test(d.log()), 15_000, 50);
            assert.match(d.log(), new RegExp(`${DUP} is preferred again on ${TUN}`));
            assert.deepEqual(await lifetimes(p, DUP), { deprecated: false, preferred: FOREVER, valid: FOREVER });
            assert.equal(await sourceFor(p, PEER6), DUP);
            assert.doesNotMatch(d.log(), /Duplicate address/);
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

  it('a test address held by the peer is a duplicate: logged, not probed from; the other NIC probes over IPv6', async () => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      const peer = await peerMac(p);
      // eth0's link-local (from 02:00:00:00:00:01), held by the peer.
      const LL0 = 'fe80::ff:fe00:1';
      await execIn(peerNs(p), ['ip', '-6', 'addr', 'add', `${LL0}/64`, 'dev', 'eth0', 'nodad']);
      const cfg = ['FAILURE_DETECTION_TIME: 1000', 'groups:', `  ${TUN}:`, '    interfaces:',
        '      eth0: { test-address6: link-local }', '      eth1: { test-address6: link-local }',
        `    addresses: [${CLEAN}/64]`, ''].join('\n');
      await underCapture(p, () => new Capture(p), cfg, async (d, cap) => {
        const re = new RegExp(`duplicate test address ${LL0} on eth0 \\(node ${peer}\\); not probing with it`);
        await waitFor('the duplicate test address logged', async () => re.test(d.log()), 10_000, 50);
        assert.ok(cap.seen.some((x) => x.kind === 'ns' && x.dad && x.target === LL0 && x.src !== peer), 'DAD probe for the test address');
        await waitFor('eth1 probing over IPv6', async () => {
          const t = await ipmpstat(p, d, ['-t', '-o', 'INTERFACE,MODE,TESTADDR', '-P']);
          return /^eth1:(multicast|routes):fe80/m.test(t);
        }, 10_000, 100);
        const t = await ipmpstat(p, d, ['-t', '-o', 'INTERFACE,MODE,TESTADDR', '-P']);
        assert.match(t, /^eth0:disabled:$/m, `eth0 does not probe: ${t}`);
        const i = (await snapshot(d.socket)).interfaces.find((x) => x.name === 'eth0');
        assert.equal(i?.probe, 'disabled');
        assert.equal(cap.seen.filter((x) => x.kind === 'na' && x.target === LL0 && x.src !== peer).length, 0, 'never answered for');
        assert.equal(d.log().match(/duplicate test address/g)?.length, 1, 'logged once');
      });
    });
  });
});
