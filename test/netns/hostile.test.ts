// Hostile traffic against a running ipmpd in a lab: raw frames injected from the peer
// namespace onto the LAN (malformed IPv4, VLAN tags, unknown ethertypes, IP options and
// fragments, ARP from other subnets, claims on our data and test addresses, ARP and ND
// floods) and raw packets injected into ipmp0 from the host side (malformed IPv4 and IPv6),
// while ping and a TCP stream run through ipmp0. Asserts that forwarding continues, that each
// class moves its drop counter (Prometheus text and the SIGUSR1 dump), that a conflict is
// logged once with the foreign MAC and defended, that the peer still resolves our address to
// our MAC, and that flood replies stay within the per-source budget.
//
// Injection: test/netns/helpers/inject.js sends raw frames through an AF_PACKET socket
// (our addon) inside a namespace; on ipmp0 (a TUN) the bytes reach ipmpd's TUN reader.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { labUp, labDown, labDownSync, execIn, spawnIn, hostNs, peerNs, swNs, waitFor } from '../../src/lab/lab.js';
import { uniquePrefix } from '../../src/lab/fixture.js';
import { groupMetric as metricOfGroup, scrapeMetrics, startDaemon, snapshot, type RunningDaemon, withLog } from './helpers/daemon.js';
import { tcpdump } from './helpers/tcpdump.js';
import { withRouterAlert } from '../fakes/frames.js';
import { RL_SOURCE_BURST, RL_SOURCE_RATE } from '../../src/dataplane/ratelimit.js';
import { buildArpRequest, writeArpBody, ARP_OP_REQUEST } from '../../src/wire/arp.js';
import { wr16 } from '../../src/wire/bytes.js';
import { BROADCAST_MAC, ZERO_MAC, parseMac, writeEthHeader } from '../../src/wire/ethernet.js';
import { buildNeighborSolicit, buildUnsolicitedNeighborAdvert } from '../../src/wire/icmp6-nd.js';
import { parseIpv4, setIpv4Checksum, writeIpv4Header } from '../../src/wire/ipv4.js';
import { parseIpv6, writeIpv6Header } from '../../src/wire/ipv6.js';

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const HERE = dirname(fileURLToPath(import.meta.url));
const INJECT = join(HERE, 'helpers', 'inject.js');
const FWD_TCP = join(HERE, 'helpers', 'fwd-tcp.js');
const TUN = `iph${process.pid % 100000}`;
const METRICS = `127.0.0.1:${20000 + (process.pid % 20000)}`;
const D10 = '198.18.0.10';
const D11 = '198.18.0.11';
const D6 = '2001:db8::10';
const TEST0 = '198.18.0.100';
const PEER = '198.18.0.1';
const EVIL = parseMac('02:de:ad:00:00:01');
const EVIL_TEST = parseMac('02:de:ad:00:00:02');
const FLOOD_MAC = parseMac('02:f1:00:00:00:01');
const FLOOD_IP = '198.18.0.77';
const FLOOD6_MAC = parseMac('02:f1:00:00:00:02');
const FLOOD6_IP = '2001:db8::77';

const used: string[] = [];

function config(): string {
  return [
    'groups:',
    `  ${TUN}:`,
    '    interfaces:',
    `      eth0: { test-address: ${TEST0}/24 }`,
    '      eth1: { test-address: 198.18.0.101/24 }',
    `    addresses: [${D10}/24, ${D11}/24, ${D6}/64]`,
    `    targets: [${PEER}]`,
    '',
  ].join('\n');
}


// ---- frames ----

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function ethFrame(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  writeEthHeader(f, 0, dst, 0, src, 0, type);
  f.set(payload, 14);
  return f;
}

/** UDP/IPv4 from src to dst (port 9, discard), `payload` bytes, correct header checksum. */
function udp4(src: string, dst: string, payload = 32, id = 1): Uint8Array {
  const p = new Uint8Array(28 + payload);
  writeIpv4Header(p, 0, p.length, id, 64, 17, parseIpv4(src), parseIpv4(dst));
  wr16(p, 20, 40000); wr16(p, 22, 9); wr16(p, 24, 8 + payload);
  return p;
}

function mutated(p: Uint8Array, f: (q: Uint8Array) => void): Uint8Array {
  const q = p.slice();
  f(q);
  return q;
}

/** A UDP datagram to dst with a 4-byte IP option (router alert). */
function withOption(src: string, dst: string): Uint8Array {
  return withRouterAlert(udp4(src, dst));
}

/** Two fragments of one UDP datagram (ids differ per call so the host reassembles each). */
function fragments(src: string, dst: string, id: number): Uint8Array[] {
  const first = udp4(src, dst, 32, id);
  first[6] = 0x20;
  setIpv4Checksum(first, 0);
  const last = udp4(src, dst, 32, id);
  wr16(last, 6, 5); // offset 40
  setIpv4Checksum(last, 0);
  return [first, last];
}

function garp(hw: Uint8Array, ip: string): Uint8Array {
  const f = new Uint8Array(42);
  writeEthHeader(f, 0, BROADCAST_MAC, 0, hw, 0, 0x0806);
  writeArpBody(f, 14, ARP_OP_REQUEST, hw, 0, parseIpv4(ip), ZERO_MAC, 0, parseIpv4(ip));
  return f;
}

/** IPv6 UDP with `ext` destination-options headers. */
function udp6(ext: number): Uint8Array {
  const p = new Uint8Array(40 + ext * 8 + 16);
  writeIpv6Header(p, 0, p.length - 40, ext > 0 ? 60 : 17, 64, parseIpv6(D6), 0, parseIpv6('2001:db8::1'), 0);
  for (let i = 0; i < ext; i++) { const o = 40 + i * 8; p[o] = i === ext - 1 ? 17 : 60; p[o + 2] = 1; p[o + 3] = 4; }
  const u = 40 + ext * 8;
  wr16(p, u, 40000); wr16(p, u + 2, 9); wr16(p, u + 4, 16);
  return p;
}

// ---- tools ----

interface InjectResult { sent: number[]; errors: Record<string, number>; elapsedMs: number }

/** Sends frames (each `repeat` times) on ifname inside ns through the injector; bounded. */
async function inject(ns: string, ifname: string, frames: Uint8Array[], repeat: number, burst = 16,
  gapMs = 2): Promise<InjectResult> {
  const t0 = Date.now();
  const child = spawnIn(ns, [process.execPath, INJECT, ifname]);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  child.stdin?.end(JSON.stringify({ frames: frames.map(hex), repeat, burst, gapMs }));
  const code = await exitOf(child, 30_000);
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (code !== 0 || !line) throw new Error(`inject on ${ns}/${ifname} exited ${code}: ${err.trim()}`);
  return { ...(JSON.parse(line) as { sent: number[]; errors: Record<string, number> }), elapsedMs: Date.now() - t0 };
}

/** The child's exit code (null after a signal), also when it already exited; SIGKILL after timeoutMs. */
function exitOf(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((res) => {
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => { clearTimeout(t); res(code); });
  });
}

/** Collects a child's stdout from now on; `json()` waits for its exit and parses its last JSON line. */
function output(child: ChildProcess, timeoutMs: number): { json: () => Promise<Record<string, unknown>> } {
  let out = '';
  child.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
  const done = exitOf(child, timeoutMs);
  return {
    json: async () => {
      await done;
      const line = out.split('\n').filter((l) => l.startsWith('{')).pop();
      return line ? JSON.parse(line) as Record<string, unknown> : { ok: false, error: `no result: ${out}` };
    },
  };
}

/** `ping -i 0.02 -c count` in the background; resolves with transmitted/received. */
function pingBg(ns: string, target: string, count = 100): Promise<{ tx: number; rx: number; out: string }> {
  const child = spawnIn(ns, ['ping', '-n', '-q', '-i', '0.02', '-W', '1', '-c', String(count), target]);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  return exitOf(child, 30_000).then(() => {
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
    return { tx: m ? Number(m[1]) : 0, rx: m ? Number(m[2]) : 0, out };
  });
}

/**
 * tcpdump on ns/ifname with a filter until stop() (bounded by a hard kill): the lines it
 * printed, and how many packets matched the filter in the kernel (tcpdump itself may miss
 * some when the CPUs are busy; the kernel's count does not).
 */
function capture(ns: string, ifname: string, filter: string[]):
  { ready: Promise<void>; stop: () => Promise<{ lines: string[]; matched: number }> } {
  const cap = tcpdump(ns, ['-i', ifname, '-nn', '-e', '-l', '-s', '128', '-B', '8192', '--immediate-mode', ...filter]);
  return {
    ready: cap.ready,
    stop: async () => {
      // Let the last frames reach the capture before it stops.
      await new Promise((r) => setTimeout(r, 300));
      await cap.stop();
      const m = /(\d+) packets? received by filter/.exec(cap.err());
      return { lines: cap.out().split('\n').filter((l) => l.trim() !== ''), matched: m ? Number(m[1]) : -1 };
    },
  };
}

function metrics(p: string): Promise<Map<string, number>> {
  return scrapeMetrics(p, METRICS);
}

function drop(m: Map<string, number>, direction: 'in' | 'out', reason: string): number {
  const v = m.get(`ipmp_forwarding_drops_total{group="${TUN}",direction="${direction}",reason="${reason}"}`);
  assert.ok(v !== undefined, `no drop counter ${direction}/${reason}`);
  return v;
}

function groupMetric(m: Map<string, number>, name: string): number {
  return metricOfGroup(m, name, TUN);
}

/** Every drop counter's change between two scrapes, only those that moved. */
function dropDeltas(a: Map<string, number>, b: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of b) {
    const m = /^ipmp_forwarding_drops_total\{group="[^"]+",direction="(\w+)",reason="(\w+)"\}$/.exec(k);
    if (m && v !== (a.get(k) ?? 0)) out[`${m[1]}/${m[2]}`] = v - (a.get(k) ?? 0);
  }
  return out;
}

describe('hostile traffic against ipmpd', { skip, timeout: 180_000 }, () => {
  let p = '';
  let d: RunningDaemon | undefined;
  let nicMac: Record<string, string> = {};
  /** NIC each data address is bound to. */
  let bound: Record<string, string> = {};

  before(async () => {
    p = uniquePrefix();
    used.push(p);
    await labUp({ prefix: p, nics: 2 });
    // With br_netfilter loaded, the lab's bridge checks IPv4 headers and drops malformed ones
    // before they reach the host's NICs; a switch does not, so let them through.
    await execIn(swNs(p), ['sysctl', '-q', '-w', 'net.bridge.bridge-nf-call-iptables=0',
      'net.bridge.bridge-nf-call-ip6tables=0', 'net.bridge.bridge-nf-call-arptables=0']).catch(() => undefined);
    d = await startDaemon(p, config(), { args: ['--metrics', METRICS] });
    await withLog(d, () => waitFor('data addresses bound, both NICs active', async () => {
      const s = await snapshot(d!.socket);
      nicMac = Object.fromEntries(s.interfaces.map((i) => [i.name, i.mac.toLowerCase()]));
      bound = Object.fromEntries(s.addresses.map((a) => [a.address, a.inbound]));
      return s.interfaces.filter((i) => i.active).length === 2 && [D10, D11, D6].every((a) => bound[a]);
    }, 10_000, 100));
    // The peer can reach both data addresses before anything hostile happens.
    await execIn(peerNs(p), ['ping', '-n', '-q', '-c', '2', '-i', '0.2', '-W', '1', D10], { timeoutMs: 10_000 });
    // Let the start-up announcements (one every 2 s per address) end, so the captures below see
    // only defences: the announcement counter has not moved for 2.5 s.
    let last = -1;
    let since = Date.now();
    await withLog(d, () => waitFor('the start-up announcements to end', async () => {
      const n = groupMetric(await metrics(p), 'ipmp_announcements_total');
      if (n !== last) { last = n; since = Date.now(); }
      return Date.now() - since >= 2_500;
    }, 20_000, 250));
  });

  after(async () => {
    try {
      if (d) await d.stop();
    } finally {
      await labDown(p).catch(() => labDownSync(p));
      for (const x of used) labDownSync(x);
    }
  });

  it('from the wire: malformed IPv4, VLAN tags, unknown ethertypes are counted; options and fragments are delivered; traffic continues', async () => {
    await withLog(d, async () => {
      const peerMac = parseMac((await snapshotPeerMac(p)));
      const dst = parseMac(nicMac[bound[D10]]);
      const good = udp4(PEER, D10);
      const truncated = ethFrame(dst, peerMac, 0x0800, good.subarray(0, 6));
      const badIhl = ethFrame(dst, peerMac, 0x0800, mutated(good, (q) => { q[0] = 0x43; }));
      const badTotal = ethFrame(dst, peerMac, 0x0800, mutated(good, (q) => { wr16(q, 2, 1400); }));
      const tagged = new Uint8Array(4 + good.length);
      tagged.set([0x00, 0x64, 0x08, 0x00]);
      tagged.set(good, 4);
      const vlan = ethFrame(dst, peerMac, 0x8100, tagged);
      const unknown = ethFrame(dst, peerMac, 0x88b5, new Uint8Array(46));
      const llc = ethFrame(dst, peerMac, 46, new Uint8Array(46));
      const classes = [truncated, badIhl, badTotal, vlan, unknown, llc];
      const REPEAT = 50;
      const deliver = [ethFrame(dst, peerMac, 0x0800, withOption(PEER, D10))];
      for (let id = 0; id < REPEAT; id++) deliver.push(...fragments(PEER, D10, 1000 + id).map((f) => ethFrame(dst, peerMac, 0x0800, f)));

      const onTun = capture(hostNs(p), TUN, ['host', PEER, 'and', '(ip[0] & 0xf > 5 or ip[6:2] & 0x3fff != 0)']);
      await onTun.ready;
      const m0 = await metrics(p);
      // A TCP stream peer → data address and a ping run through ipmp0 while the junk arrives.
      const recv = spawnIn(hostNs(p), [process.execPath, FWD_TCP, 'recv-seq', '--bind', D10, '--port', '5301',
        '--conns', '2', '--records', '3000', '--size', '1000', '--timeout', '20000']);
      const recvOut = output(recv, 25_000);
      await waitFor('the TCP receiver listening', async () =>
        (await execIn(hostNs(p), ['ss', '-Hltn', 'sport = :5301'])).stdout.trim() !== '', 5_000, 50);
      const send = spawnIn(peerNs(p), [process.execPath, FWD_TCP, 'send-seq', '--host', D10, '--port', '5301',
        '--conns', '2', '--records', '3000', '--size', '1000', '--timeout', '20000']);
      const sendOut = output(send, 25_000);
      const ping = pingBg(peerNs(p), D10);
      const junk = await inject(peerNs(p), 'eth0', classes, REPEAT);
      const ok = await inject(peerNs(p), 'eth0', deliver, 1);
      const [pr, received, sent] = await Promise.all([ping, recvOut.json(), sendOut.json()]);
      const seen = await onTun.stop();

      const m1 = await metrics(p);

      assert.deepEqual(junk.sent, classes.map(() => REPEAT), `every junk frame sent: ${JSON.stringify(junk.errors)}`);
      assert.deepEqual(ok.sent, deliver.map(() => 1));
      const deltas = dropDeltas(m0, m1);
      assert.equal(deltas['in/malformed'], 3 * REPEAT, `drops: ${JSON.stringify(deltas)}`);
      assert.equal(deltas['in/vlan'], REPEAT, `drops: ${JSON.stringify(deltas)}`);
      assert.equal(deltas['in/unsupported'], 2 * REPEAT, `drops: ${JSON.stringify(deltas)}`);
      assert.equal(seen.matched, deliver.length, `options and fragments reaching ${TUN} (drops ${JSON.stringify(deltas)}):\n${seen.lines.slice(0, 6).join('\n')}`);
      assert.ok(pr.rx >= pr.tx * 0.95 && pr.tx === 100, `ping during the junk: ${pr.out}`);
      assert.equal(received.ok, true, `TCP stream during the junk: ${JSON.stringify(received)} / ${JSON.stringify(sent)}`);
      assert.ok(d!.alive());
    });
  });

  it('from the wire: ARP from other subnets is ignored; claims on data and test addresses are counted, logged once, defended; the peer still resolves our MAC', async () => {
    await withLog(d, async () => {
      const peerMac = parseMac(await snapshotPeerMac(p));
      const from = d!.log().length;
      const m0 = await metrics(p);
      const arp = capture(peerNs(p), 'eth0', ['arp', 'or', 'icmp6']);
      await arp.ready;
      const ping = pingBg(peerNs(p), D11, 50);
      const frames = [
        buildArpRequest(peerMac, parseIpv4('203.0.113.9'), parseIpv4(D10)),
        garp(EVIL, D10),
        garp(EVIL_TEST, TEST0),
        buildUnsolicitedNeighborAdvert(EVIL, parseIpv6(D6)),
      ];
      const res = await inject(peerNs(p), 'eth0', frames, 10, 4, 20);
      assert.deepEqual(res.sent, [10, 10, 10, 10]);
      const mac10 = nicMac[bound[D10]];
      for (const re of [
        new RegExp(`node 02:de:ad:00:00:01 is using our IP address 198\\.18\\.0\\.10 on eth[01] \\(data address; defended`),
        new RegExp(`node 02:de:ad:00:00:02 is using our IP address 198\\.18\\.0\\.100 on eth[01] \\(test address; defended`),
        new RegExp(`node 02:de:ad:00:00:01 is using our IP address 2001:db8::10 on eth[01] \\(data address; defended`),
      ]) await d!.waitLog(re, 5_000, from);
      const pr = await ping;
      const m1 = await metrics(p);
      const { lines } = await arp.stop();
      const deltas = dropDeltas(m0, m1);
      assert.equal(deltas['in/off_link'], 10, `drops: ${JSON.stringify(deltas)}`);
      assert.equal(deltas['in/conflict'], 30, `drops: ${JSON.stringify(deltas)}`);
      assert.equal(groupMetric(m1, 'ipmp_conflict_defences_total') - groupMetric(m0, 'ipmp_conflict_defences_total'), 3);
      assert.equal(groupMetric(m1, 'ipmp_address_conflicts_total') - groupMetric(m0, 'ipmp_address_conflicts_total'), 3);
      const logged = d!.log().slice(from).split('\n').filter((l) => l.includes('is using our IP address'));
      assert.equal(logged.length, 3, `one line per claimed address, not one per frame:\n${logged.join('\n')}`);
      // The defences as the peer saw them (the start-up announcements were over): one gratuitous
      // ARP or NA per claimed address, from one of our NICs.
      const ours = (l: string): boolean => Object.values(nicMac).some((m) => l.split(' ')[1] === m);
      const count = (re: RegExp): number => lines.filter((l) => ours(l) && re.test(l)).length;
      assert.equal(count(/Request who-has 198\.18\.0\.10 \(ff:ff:ff:ff:ff:ff\) tell 198\.18\.0\.10,/), 1, lines.join('\n'));
      assert.equal(count(/Request who-has 198\.18\.0\.100 \(ff:ff:ff:ff:ff:ff\) tell 198\.18\.0\.100,/), 1, lines.join('\n'));
      assert.ok(lines.some((l) => l.startsWith(nicMac.eth0, l.indexOf(' ') + 1) && l.includes(`who-has ${TEST0} (`)),
        `the test address is defended from eth0:\n${lines.join('\n')}`);
      assert.equal(count(/neighbor advertisement, tgt is 2001:db8::10,/), 1, lines.join('\n'));
      assert.equal(pr.rx, pr.tx, `ping to ${D11} during the claims: ${pr.out}`);
      // The binding was not stolen: the peer resolves our address to our MAC.
      const ar = await execIn(peerNs(p), ['arping', '-c', '2', '-w', '5', '-I', 'eth0', D10], { timeoutMs: 10_000 });
      const macs = [...ar.stdout.matchAll(/reply from 198\.18\.0\.10 \[([0-9A-Fa-f:]+)\]/g)].map((m) => m[1].toLowerCase());
      assert.ok(macs.length >= 1 && macs.every((x) => x === mac10), `arping answers carry ${mac10}:\n${ar.stdout}`);
      await execIn(peerNs(p), ['ping', '-n', '-q', '-c', '2', '-i', '0.2', '-W', '1', D10], { timeoutMs: 10_000 });
      const neigh = (await execIn(peerNs(p), ['ip', 'neigh', 'show', D10])).stdout;
      assert.ok(neigh.includes(`lladdr ${mac10}`), `peer neighbour entry for ${D10}: ${neigh}`);
    });
  });

  it('from the wire: ARP and ND floods from one source are answered within the per-source budget; traffic continues', async () => {
    await withLog(d, async () => {
      const m0 = await metrics(p);
      const replies = capture(peerNs(p), 'eth0', ['ether', 'dst', '02:f1:00:00:00:01', 'or', 'ether', 'dst', '02:f1:00:00:00:02']);
      await replies.ready;
      const ping = pingBg(peerNs(p), D11, 50);
      const N4 = 600;
      const N6 = 300;
      const [r4, r6] = await Promise.all([
        inject(peerNs(p), 'eth0', [buildArpRequest(FLOOD_MAC, parseIpv4(FLOOD_IP), parseIpv4(D10))], N4, 20, 10),
        inject(peerNs(p), 'eth0', [buildNeighborSolicit(FLOOD6_MAC, parseIpv6(FLOOD6_IP), parseIpv6(D6))], N6, 10, 10),
      ]);
      const pr = await ping;
      const { lines, matched } = await replies.stop();
      const m1 = await metrics(p);
      assert.deepEqual([r4.sent[0], r6.sent[0]], [N4, N6]);
      const arpReplies = lines.filter((l) => l.includes(`Reply ${D10} is-at`)).length;
      const naReplies = lines.filter((l) => l.includes('neighbor advertisement')).length;
      assert.equal(matched, arpReplies + naReplies, `every reply printed:\n${lines.slice(0, 5).join('\n')}`);
      const bound4 = RL_SOURCE_BURST + Math.ceil(RL_SOURCE_RATE * r4.elapsedMs / 1000) + 1;
      const bound6 = RL_SOURCE_BURST + Math.ceil(RL_SOURCE_RATE * r6.elapsedMs / 1000) + 1;
      assert.ok(arpReplies >= RL_SOURCE_BURST && arpReplies <= bound4, `${arpReplies} ARP replies to ${N4} requests in ${r4.elapsedMs} ms (budget ${bound4})`);
      assert.ok(naReplies >= RL_SOURCE_BURST && naReplies <= bound6, `${naReplies} NAs to ${N6} solicitations in ${r6.elapsedMs} ms (budget ${bound6})`);
      const deltas = dropDeltas(m0, m1);
      assert.equal(deltas['in/rate_limited'], N4 + N6 - arpReplies - naReplies, `drops: ${JSON.stringify(deltas)}`);
      assert.equal(pr.rx, pr.tx, `ping to ${D11} during the floods: ${pr.out}`);
    });
  });

  it('from the host: malformed packets written into ipmp0 are counted; ping and a TCP stream through ipmp0 continue', async () => {
    await withLog(d, async () => {
      const good = udp4(D10, PEER);
      const v6 = udp6(0);
      const packets = [
        new Uint8Array(0),
        new Uint8Array([0x45]),
        good.subarray(0, 19),
        mutated(good, (q) => { q[0] = 0x55; }),
        mutated(good, (q) => { q[0] = 0x43; }),
        mutated(good, (q) => { wr16(q, 2, good.length + 100); }),
        mutated(v6, (q) => { wr16(q, 4, 400); }),
        udp6(100),
        mutated(v6, (q) => { wr16(q, 4, 0); }),
      ];
      const m0 = await metrics(p);
      const recv = spawnIn(peerNs(p), [process.execPath, FWD_TCP, 'recv-seq', '--bind', PEER, '--port', '5302',
        '--conns', '2', '--records', '3000', '--size', '1000', '--timeout', '20000']);
      const recvOut = output(recv, 25_000);
      await waitFor('the TCP receiver listening', async () =>
        (await execIn(peerNs(p), ['ss', '-Hltn', 'sport = :5302'])).stdout.trim() !== '', 5_000, 50);
      const send = spawnIn(hostNs(p), [process.execPath, FWD_TCP, 'send-seq', '--host', PEER, '--port', '5302',
        '--conns', '2', '--records', '3000', '--size', '1000', '--local', D10, '--timeout', '20000']);
      const sendOut = output(send, 25_000);
      const ping = pingBg(hostNs(p), PEER, 100);
      const res = await inject(hostNs(p), TUN, packets, 20);
      const [pr, received, sent] = await Promise.all([ping, recvOut.json(), sendOut.json()]);
      const m1 = await metrics(p);
      const accepted = res.sent.reduce((a, b) => a + b, 0);
      // A packet socket refuses an empty packet (EINVAL) before it reaches the TUN (the TX path's
      // empty-read case is a unit test); every other packet is taken.
      assert.ok(res.sent.slice(1).every((n) => n === 20), `the kernel took every non-empty packet: ${JSON.stringify(res)}`);
      const deltas = dropDeltas(m0, m1);
      assert.equal(deltas['out/malformed'], accepted, `drops: ${JSON.stringify(deltas)} for ${JSON.stringify(res.sent)}`);
      assert.ok(pr.rx >= pr.tx * 0.95 && pr.tx === 100, `ping through ${TUN}: ${pr.out}`);
      assert.equal(received.ok, true, `TCP stream through ${TUN}: ${JSON.stringify(received)} / ${JSON.stringify(sent)}`);
    });
  });

  it('the SIGUSR1 dump carries the same drop counters; the daemon never restarted a worker', async () => {
    await withLog(d, async () => {
      const m = await metrics(p);
      const from = d!.log().length;
      process.kill(d!.pid, 'SIGUSR1');
      await d!.waitLog('"forwarding":[', 5_000, from);
      const line = d!.log().slice(from).split('\n').find((l) => l.includes('"forwarding":['))!;
      const dump = JSON.parse(line) as { forwarding: Array<{ group: string; drops: { in: Record<string, number>; out: Record<string, number> } }> };
      const f = dump.forwarding.find((g) => g.group === TUN);
      assert.ok(f, `a forwarding entry for ${TUN}`);
      for (const r of ['vlan', 'malformed', 'unsupported', 'off_link', 'conflict', 'rate_limited']) {
        assert.equal(f.drops.in[r], drop(m, 'in', r), `in/${r}`);
        assert.ok(f.drops.in[r] > 0, `in/${r} moved`);
      }
      assert.equal(f.drops.out.malformed, drop(m, 'out', 'malformed'));
      assert.ok(d!.alive());
      assert.doesNotMatch(d!.log(), /forwarding worker \w+ (failed|exited|stalled)/);
    });
  });
});

/** The peer's eth0 MAC. */
async function snapshotPeerMac(p: string): Promise<string> {
  const j = JSON.parse((await execIn(peerNs(p), ['ip', '-j', 'link', 'show', 'eth0'])).stdout) as Array<{ address: string }>;
  return j[0].address;
}
