// The probe worker over a fake packet socket and clock: IPv6 probing from a link-local test
// address (Neighbour Discovery answered and sent by the worker itself, echo probes with
// correct ICMPv6 checksums, replies matched), frames from the group's own NICs ignored,
// offline stopping and undo-offline restarting the probes, and the failure facts carrying
// both families. Duplicate address detection of the IPv6 test address: the probe, the
// window without probes or answers, an NA or another node's probe making it a duplicate.
import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProbeWorker } from '../../../../src/daemon/prober/probe-worker.js';
import type { FromWorker, ProberFact, ProberNic } from '../../../../src/daemon/prober/messages.js';
import { PROBE_MULTI, PROBE_UNI, probeIcmpId } from '../../../../src/control/detectors/probe-defs.js';
import { eui64LinkLocal } from '../../../../src/control/detectors/addr.js';
import {
  buildNeighborAdvert, buildNeighborSolicit, buildUnsolicitedNeighborAdvert, NA_FLAG_OVERRIDE, NA_FLAG_SOLICITED, ndFindNonce,
  writeDadSolicit,
} from '../../../../src/wire/icmp6-nd.js';
import { ipv6ToString, parseIpv6 } from '../../../../src/wire/ipv6.js';
import { buildArpRequest } from '../../../../src/wire/arp.js';
import { parseIpv4 } from '../../../../src/wire/ipv4.js';
import { RL_SOURCE_BURST } from '../../../../src/dataplane/ratelimit.js';
import { FakeNative, type FakeSocket } from './fake-native.js';

const PID = 0x4242;
const MAC0 = new Uint8Array([0x02, 0, 0, 0, 0, 0x01]);
const MAC1 = new Uint8Array([0x02, 0, 0, 0, 0x01, 0x01]);
const PEER_MAC = new Uint8Array([0x02, 0, 0, 0, 0xff, 0x01]);
const PEER_LL = 'fe80::ff:fe00:ff01';
const LL0 = eui64LinkLocal(MAC0);
const LL1 = eui64LinkLocal(MAC1);

function nic(slot: number, mac: Uint8Array, v6 = true, v4: string | null = null): ProberNic {
  return {
    slot, name: `eth${slot}`, ifindex: 10 + slot, mac,
    testAddress: v4 ? { address: v4, prefixlen: 24 } : null,
    testAddress6: v6 ? { address: eui64LinkLocal(mac), prefixlen: 64 } : null,
  };
}

/** ICMPv6 checksum check written out from RFC 8200 §8.1 (independent of src/wire). */
function icmp6ChecksumOk(f: Uint8Array): boolean {
  const plen = (f[18]! << 8) | f[19]!;
  let sum = plen + 58;
  for (let i = 22; i < 54; i += 2) sum += (f[i]! << 8) | f[i + 1]!;
  for (let i = 54; i < 54 + plen; i += 2) sum += (f[i]! << 8) | (i + 1 < 54 + plen ? f[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}

function mac(f: Uint8Array, off: number): string {
  return Array.from(f.subarray(off, off + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

function ip6(f: Uint8Array, off: number): string {
  return ipv6ToString(f, off);
}

/** The echo reply a peer at `from` sends back for the echo request frame `req`. */
function echoReply(req: Uint8Array, fromMac: Uint8Array, from: string): Uint8Array {
  const r = req.slice();
  r.set(req.subarray(6, 12), 0);
  r.set(fromMac, 6);
  r.set(req.subarray(22, 38), 38);
  r.set(parseIpv6(from), 22);
  r[54] = 129;
  r[56] = 0;
  r[57] = 0;
  // Fold the checksum again over the changed reply.
  const plen = (r[18]! << 8) | r[19]!;
  let sum = plen + 58;
  for (let i = 22; i < 54 + plen; i += 2) sum += (r[i]! << 8) | r[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  r[56] = c >> 8;
  r[57] = c & 0xff;
  return r;
}

interface Harness {
  fake: FakeNative;
  w: ProbeWorker;
  posted: FromWorker[];
  facts: () => ProberFact[];
}

let h: Harness;

/** testDadMs 0: the tests below that are not about duplicate address detection skip it. */
function harness(targets: string[] | null = null, testDadMs = 0): Harness {
  const fake = new FakeNative();
  const posted: FromWorker[] = [];
  const w = new ProbeWorker(fake.addon, { group: 'g0', fdtMs: 1000, targets, pid: PID, testDadMs }, (m) => posted.push(m));
  const facts = (): ProberFact[] => posted.flatMap((m) => (m.op === 'fact' ? [m.fact] : []));
  return { fake, w, posted, facts };
}

/** Runs the worker for ms of fake time in 10 ms turns. */
function run(s: FakeSocket, ms: number, each?: (sent: Uint8Array) => void): void {
  for (let t = 0; t < ms; t += 10) {
    h.fake.advanceMs(10);
    const before = s.tx.length;
    h.fake.fire(s);
    if (each) for (const f of s.tx.slice(before)) each(f);
  }
}

function echoRequests(s: FakeSocket): Uint8Array[] {
  return s.tx.filter((f) => f[12] === 0x86 && f[13] === 0xdd && f[20] === 58 && f[54] === 128);
}

beforeEach(() => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'setImmediate'] });
  h = harness();
});

afterEach(() => {
  h.w.stop();
  mock.timers.reset();
});

test('IPv6: the test address joins its solicited-node group and answers NS with a solicited NA', () => {
  h.w.onMessage({ op: 'nics', nics: [nic(0, MAC0)] });
  const s = h.fake.on(10);
  assert.deepEqual(s.memberships, ['33:33:ff:00:00:01'], `solicited-node group of ${LL0}`);
  s.tx.length = 0;
  h.fake.deliver(s, buildNeighborSolicit(PEER_MAC, parseIpv6(PEER_LL), parseIpv6(LL0)));
  assert.equal(s.tx.length, 1, 'one NA');
  const na = s.tx[0]!;
  assert.equal(mac(na, 0), '02:00:00:00:ff:01', 'to the soliciter');
  assert.equal(mac(na, 6), '02:00:00:00:00:01');
  assert.equal(na[21], 255, 'hop limit 255');
  assert.equal(ip6(na, 22), LL0);
  assert.equal(ip6(na, 38), PEER_LL);
  assert.equal(na[54], 136);
  assert.equal(na[58], NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE);
  assert.equal(ip6(na, 62), LL0, 'target');
  assert.deepEqual([na[78], na[79], mac(na, 80)], [2, 1, '02:00:00:00:00:01'], 'target link-layer option');
  assert.ok(icmp6ChecksumOk(na), 'ICMPv6 checksum over the pseudo-header');

  s.tx.length = 0;
  h.fake.deliver(s, buildNeighborSolicit(PEER_MAC, parseIpv6(PEER_LL), parseIpv6('fe80::99')));
  assert.equal(s.tx.length, 0, 'no answer for another address');
});

test('IPv6: NS from a member NIC (looped through the switch) is ignored', () => {
  h.w.onMessage({ op: 'nics', nics: [nic(0, MAC0), nic(1, MAC1)] });
  const s = h.fake.on(10);
  s.tx.length = 0;
  h.fake.deliver(s, buildNeighborSolicit(MAC1, parseIpv6(LL1), parseIpv6(LL0)));
  assert.equal(s.tx.length, 0);
});

test('IPv6: a router target is resolved with our own NS, probed with echo requests, and the replies ack', () => {
  h.w.onMessage({ op: 'nics', nics: [nic(0, MAC0)] });
  const s = h.fake.on(10);
  s.tx.length = 0;
  h.w.onMessage({ op: 'routes', gateways: [], gateways6: [PEER_LL, '2001:db8::1'] });
  const ns = s.tx.filter((f) => f[54] === 135);
  assert.equal(ns.length, 1, 'one NS, for the link-local router only');
  const f = ns[0]!;
  assert.equal(mac(f, 0), '33:33:ff:00:ff:01');
  assert.equal(ip6(f, 22), LL0);
  assert.equal(ip6(f, 38), 'ff02::1:ff00:ff01');
  assert.equal(ip6(f, 62), PEER_LL);
  assert.equal(mac(f, 80), '02:00:00:00:00:01', 'source link-layer option');
  assert.ok(icmp6ChecksumOk(f));
  const rows = h.facts().filter((x) => x.kind === 'targets');
  assert.deepEqual(rows.at(-1), {
    kind: 'targets', slot: 0, family: 6, hasTargets: true, mode: 'routes', testaddr: LL0, targets: [PEER_LL],
  });

  h.fake.deliver(s, buildNeighborAdvert(PEER_MAC, parseIpv6(PEER_LL), MAC0, parseIpv6(LL0), NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE));
  let acked = 0;
  run(s, 1000, (sent) => {
    if (sent[54] !== 128) return;
    assert.equal(mac(sent, 0), '02:00:00:00:ff:01', 'to the resolved MAC');
    assert.equal(sent[21], 1, 'hop limit 1');
    assert.equal(ip6(sent, 22), LL0);
    assert.equal(ip6(sent, 38), PEER_LL);
    assert.equal((sent[58]! << 8) | sent[59]!, probeIcmpId(PID, 10));
    assert.equal((sent[70]! << 24 | sent[71]! << 16 | sent[72]! << 8 | sent[73]!) >>> 0, PROBE_UNI);
    assert.ok(icmp6ChecksumOk(sent));
    s.rx.push(echoReply(sent, PEER_MAC, PEER_LL));
    acked++;
  });
  assert.ok(acked >= 5, `probes sent in 1 s at FDT 1000: ${acked}`);
  const ev = h.facts().flatMap((x) => (x.kind === 'probe' ? [x.event] : []));
  assert.ok(ev.length >= 5);
  assert.ok(ev.every((e) => e.state === 'acked' && e.family === 6 && e.target === PEER_LL && e.interface === 'eth0'), JSON.stringify(ev));
});

test('IPv6: with no routers the all-nodes echo finds host targets; a global source is refused', () => {
  h.w.onMessage({ op: 'nics', nics: [nic(0, MAC0)] });
  const s = h.fake.on(10);
  let multi: Uint8Array | undefined;
  run(s, 300, (sent) => {
    if (sent[54] === 128 && !multi) multi = sent;
  });
  assert.ok(multi, 'a multicast probe');
  assert.equal(mac(multi, 0), '33:33:00:00:00:01');
  assert.equal(ip6(multi, 38), 'ff02::1');
  assert.equal((multi[70]! << 24 | multi[71]! << 16 | multi[72]! << 8 | multi[73]!) >>> 0, PROBE_MULTI);
  assert.ok(icmp6ChecksumOk(multi));

  h.fake.deliver(s, echoReply(multi, PEER_MAC, '2001:db8::1'));
  assert.ok(h.facts().some((x) => x.kind === 'log' && x.text === 'ICMPv6 echo reply source address not linklocal from 2001:db8::1 on eth0'));
  h.fake.deliver(s, echoReply(multi, PEER_MAC, PEER_LL));
  const row = h.facts().filter((x) => x.kind === 'targets').at(-1);
  assert.deepEqual(row, { kind: 'targets', slot: 0, family: 6, hasTargets: true, mode: 'multicast', testaddr: LL0, targets: [PEER_LL] });
});

test('offline: no probes and no NS while offline, mode disabled; undo-offline probes again', () => {
  h.w.onMessage({ op: 'nics', nics: [nic(0, MAC0), nic(1, MAC1)] });
  h.w.onMessage({ op: 'routes', gateways: [], gateways6: [PEER_LL] });
  const s0 = h.fake.on(10);
  const s1 = h.fake.on(11);
  for (const s of [s0, s1]) h.fake.deliver(s, buildNeighborAdvert(PEER_MAC, parseIpv6(PEER_LL), s === s0 ? MAC0 : MAC1, parseIpv6(s === s0 ? LL0 : LL1), NA_FLAG_SOLICITED));
  run(s0, 500);
  assert.ok(echoRequests(s0).length > 0);

  h.w.onMessage({ op: 'state', nics: [{ slot: 0, failed: false, offline: true }, { slot: 1, failed: false, offline: false }], groupFailed: false });
  s0.tx.length = 0;
  s1.tx.length = 0;
  h.fake.deliver(s0, buildNeighborSolicit(PEER_MAC, parseIpv6(PEER_LL), parseIpv6(LL0)));
  for (let i = 0; i < 300; i++) {
    h.fake.advanceMs(10);
    h.fake.fire(s0);
    h.fake.fire(s1);
  }
  assert.equal(s0.tx.length, 0, 'nothing sent on the offline NIC (no probes, no NS, no NA)');
  assert.ok(echoRequests(s1).length >= 10, 'the other NIC keeps probing');
  const row0 = h.facts().filter((x) => x.kind === 'targets' && x.slot === 0).at(-1);
  assert.equal(row0?.kind === 'targets' && row0.mode, 'disabled');

  h.w.onMessage({ op: 'state', nics: [{ slot: 0, failed: false, offline: false }, { slot: 1, failed: false, offline: false }], groupFailed: false });
  run(s0, 500);
  assert.ok(echoRequests(s0).length > 0, 'probing resumes after undo-offline');
  const row = h.facts().filter((x) => x.kind === 'targets' && x.slot === 0).at(-1);
  assert.equal(row?.kind === 'targets' && row.mode, 'routes');
});

test('a failure fact carries the first lost probe and the other members\' last acks per family', () => {
  h.w.onMessage({ op: 'nics', nics: [{ ...nic(0, MAC0), quietOver: [6] }, { ...nic(1, MAC1), quietOver: [6] }] });
  h.w.onMessage({ op: 'routes', gateways: [], gateways6: [PEER_LL] });
  const s0 = h.fake.on(10);
  const s1 = h.fake.on(11);
  h.fake.deliver(s0, buildNeighborAdvert(PEER_MAC, parseIpv6(PEER_LL), MAC0, parseIpv6(LL0), NA_FLAG_SOLICITED));
  h.fake.deliver(s1, buildNeighborAdvert(PEER_MAC, parseIpv6(PEER_LL), MAC1, parseIpv6(LL1), NA_FLAG_SOLICITED));
  // The peer answers every echo request, except eth0's once it has been cut off.
  let eth0Answers = true;
  const seen = new Map<FakeSocket, number>([[s0, s0.tx.length], [s1, s1.tx.length]]);
  const step = (): void => {
    h.fake.advanceMs(10);
    h.fake.fire(s0);
    for (const s of [s0, s1]) {
      for (const f of s.tx.slice(seen.get(s))) {
        if (f[54] === 128 && (s !== s0 || eth0Answers)) s.rx.push(echoReply(f, PEER_MAC, PEER_LL));
      }
      seen.set(s, s.tx.length);
    }
    h.fake.fire(s0);
  };
  for (let i = 0; i < 100; i++) step();
  assert.ok(!h.facts().some((x) => x.kind === 'failure'), 'no failure while both answer');
  eth0Answers = false;
  for (let i = 0; i < 200 && !h.facts().some((x) => x.kind === 'failure'); i++) step();
  const fail = h.facts().find((x) => x.kind === 'failure');
  assert.ok(fail && fail.kind === 'failure', 'eth0 failed');
  assert.equal(fail.slot, 0);
  assert.equal(fail.family, 6);
  const first = fail.facts.firstFailureNs;
  assert.equal(first.v4, null);
  assert.ok(first.v6 !== null && first.v6 > 1_000_000_000 + 1000e6, `first lost probe after eth0 stopped answering: ${first.v6}`);
  const other = fail.facts.lastSuccessNs.get(1);
  assert.ok(other && other.v4 === null && other.v6 !== null && other.v6 > first.v6, JSON.stringify(other));
});

test('a probe socket that cannot be opened is tried again every second and on link up; logged once', () => {
  h.fake.failOpen.add(10);
  h.w.onMessage({ op: 'nics', nics: [nic(0, MAC0), nic(1, MAC1)] });
  const s1 = h.fake.on(11);
  const errors = (): string[] => h.facts().flatMap((x) => (x.kind === 'log' && x.level === 'err' ? [x.text] : []));
  assert.deepEqual(errors(), ['probe socket on eth0 (inet6): Network is down; trying again']);
  run(s1, 3000);
  assert.equal(errors().length, 1, 'logged once while it keeps failing');
  assert.throws(() => h.fake.on(10));

  h.fake.failOpen.delete(10);
  run(s1, 1000);
  const s0 = h.fake.on(10);
  assert.ok(h.facts().some((x) => x.kind === 'log' && x.text === 'probe socket on eth0 (inet6) is open'));
  assert.deepEqual(s0.memberships, ['33:33:ff:00:00:01']);
  const sockets = h.posted.flatMap((m) => (m.op === 'sockets' ? [m.fds] : [])).at(-1);
  assert.deepEqual(sockets?.sort(), [s0.fd, s1.fd].sort(), 'the main thread learns the new socket');

  // Down again when re-created: link up retries at once.
  h.fake.failOpen.add(12);
  h.w.onMessage({ op: 'nics', nics: [{ ...nic(0, MAC0), ifindex: 12 }, nic(1, MAC1)] });
  assert.throws(() => h.fake.on(12));
  h.fake.failOpen.delete(12);
  h.w.onMessage({ op: 'link', slot: 0, up: true });
  assert.equal(h.fake.on(12).ifindex, 12);
});

test('a NIC made again (new ifindex) while failed is repaired by fresh acks', () => {
  h.w.onMessage({ op: 'nics', nics: [nic(0, MAC0)] });
  h.w.onMessage({ op: 'routes', gateways: [], gateways6: [PEER_LL] });
  h.w.onMessage({ op: 'state', nics: [{ slot: 0, failed: true, offline: false }], groupFailed: false });
  h.w.onMessage({ op: 'nics', nics: [{ ...nic(0, MAC0), ifindex: 12 }] });
  const s = h.fake.on(12);
  h.fake.deliver(s, buildNeighborAdvert(PEER_MAC, parseIpv6(PEER_LL), MAC0, parseIpv6(LL0), NA_FLAG_SOLICITED));
  run(s, 3000, (sent) => { if (sent[54] === 128) s.rx.push(echoReply(sent, PEER_MAC, PEER_LL)); });
  const repair = h.facts().filter((x) => x.kind === 'repair');
  assert.ok(repair.length >= 1, 'repair reported');
  assert.deepEqual(repair[0], { kind: 'repair', slot: 0, family: 6 });
  assert.ok(!h.facts().some((x) => x.kind === 'failure'));
});

test('a flood of ARP requests or NSs for a test address from one source gets RL_SOURCE_BURST answers', () => {
  h.w.onMessage({ op: 'nics', nics: [nic(0, MAC0, true, '198.18.0.100')] });
  const socks = h.fake.sockets.filter((x) => x.ifindex === 10);
  assert.equal(socks.length, 2, 'an IPv4 and an IPv6 probe socket');
  for (const s of socks) s.tx.length = 0;
  // Each socket handles its own family and ignores the other's frames.
  for (let i = 0; i < 60; i++) {
    for (const s of socks) {
      h.fake.deliver(s, buildArpRequest(PEER_MAC, parseIpv4('198.18.0.1'), parseIpv4('198.18.0.100')));
      h.fake.deliver(s, buildNeighborSolicit(PEER_MAC, parseIpv6(PEER_LL), parseIpv6(LL0)));
    }
  }
  const sent = socks.flatMap((s) => s.tx);
  assert.equal(sent.filter((f) => f[12] === 0x08 && f[13] === 0x06).length, RL_SOURCE_BURST, 'ARP replies');
  assert.equal(sent.filter((f) => f[12] === 0x86 && f[54] === 136).length, RL_SOURCE_BURST, 'NAs');
});

// ---- duplicate address detection of the IPv6 test address ----

function dadProbes(s: FakeSocket): Uint8Array[] {
  return s.tx.filter((f) => f[54] === 135 && ip6(f, 22) === '::');
}

function dadFacts(): ProberFact[] {
  return h.facts().filter((x) => x.kind === 'dad6');
}

/** A DAD probe for `target` from a node with MAC `from` and nonce `nonce`. */
function foreignDadProbe(from: Uint8Array, target: string, nonce: Uint8Array): Uint8Array {
  const f = new Uint8Array(86);
  writeDadSolicit(f, 0, from, 0, parseIpv6(target), 0, nonce, 0);
  return f;
}

test('test-address DAD: one NS from :: with a nonce; no probe, NS or answer in the window; probing after it', () => {
  h.w.stop();
  h = harness(null, 1000);
  h.w.onMessage({ op: 'nics', nics: [nic(0, MAC0)] });
  h.w.onMessage({ op: 'routes', gateways: [], gateways6: [PEER_LL] });
  const s = h.fake.on(10);
  const probes = dadProbes(s);
  assert.equal(probes.length, 1, 'one DAD probe');
  assert.equal(mac(probes[0]!, 0), '33:33:ff:00:00:01');
  assert.equal(mac(probes[0]!, 6), '02:00:00:00:00:01');
  assert.equal(ip6(probes[0]!, 62), LL0);
  assert.ok(ndFindNonce(probes[0]!, 54, 32) > 0, 'nonce option');
  assert.ok(icmp6ChecksumOk(probes[0]!));
  // Our own probe looped back with our nonce, and an NS for the tentative address: not answered.
  h.fake.deliver(s, buildNeighborSolicit(PEER_MAC, parseIpv6(PEER_LL), parseIpv6(LL0)));
  run(s, 900);
  assert.equal(s.tx.length, 1, `nothing but the DAD probe in the window: ${s.tx.length} frames`);
  assert.deepEqual(dadFacts(), []);
  run(s, 200);
  assert.deepEqual(dadFacts(), [{ kind: 'dad6', slot: 0, name: 'eth0', address: LL0, duplicate: false, node: '' }]);
  h.fake.deliver(s, buildNeighborAdvert(PEER_MAC, parseIpv6(PEER_LL), MAC0, parseIpv6(LL0), NA_FLAG_SOLICITED));
  run(s, 500);
  assert.ok(echoRequests(s).length > 0, 'probing starts once DAD passed');
  h.fake.deliver(s, buildNeighborSolicit(PEER_MAC, parseIpv6(PEER_LL), parseIpv6(LL0)));
  assert.equal(s.tx.at(-1)![54], 136, 'the test address is answered for now');
});

test('test-address DAD: an NA for it makes it a duplicate: logged, never probed from or answered; the other NIC probes', () => {
  h.w.stop();
  h = harness(null, 1000);
  h.w.onMessage({ op: 'nics', nics: [nic(0, MAC0), nic(1, MAC1)] });
  h.w.onMessage({ op: 'routes', gateways: [], gateways6: [PEER_LL] });
  const s0 = h.fake.on(10);
  const s1 = h.fake.on(11);
  run(s0, 300);
  h.fake.deliver(s0, buildUnsolicitedNeighborAdvert(PEER_MAC, parseIpv6(LL0)));
  run(s0, 800);
  h.fake.fire(s1);
  assert.deepEqual(dadFacts(), [
    { kind: 'dad6', slot: 0, name: 'eth0', address: LL0, duplicate: true, node: '02:00:00:00:ff:01' },
    { kind: 'dad6', slot: 1, name: 'eth1', address: LL1, duplicate: false, node: '' },
  ]);
  assert.ok(h.facts().some((x) => x.kind === 'log' && x.level === 'err'
    && x.text === `duplicate test address ${LL0} on eth0 (node 02:00:00:00:ff:01); not probing with it`));
  for (const [s, m, ll] of [[s0, MAC0, LL0], [s1, MAC1, LL1]] as const) {
    h.fake.deliver(s, buildNeighborAdvert(PEER_MAC, parseIpv6(PEER_LL), m, parseIpv6(ll), NA_FLAG_SOLICITED));
  }
  s0.tx.length = 0;
  h.fake.deliver(s0, buildNeighborSolicit(PEER_MAC, parseIpv6(PEER_LL), parseIpv6(LL0)));
  for (let i = 0; i < 100; i++) { h.fake.advanceMs(10); h.fake.fire(s0); h.fake.fire(s1); }
  assert.equal(s0.tx.length, 0, 'nothing sent from the duplicate test address');
  assert.ok(echoRequests(s1).length > 0, 'eth1 probes');
  const row0 = h.facts().filter((x) => x.kind === 'targets' && x.slot === 0).at(-1);
  assert.equal(row0?.kind === 'targets' && row0.mode, 'disabled');
  // Offline and undo-offline do not bring a duplicate back.
  h.w.onMessage({ op: 'state', nics: [{ slot: 0, failed: false, offline: false }, { slot: 1, failed: false, offline: false }], groupFailed: false });
  run(s0, 300);
  assert.equal(echoRequests(s0).length, 0);
});

test('test-address DAD: another node probing for it is a duplicate; its own nonce back is not; a restarted worker skips DAD', () => {
  h.w.stop();
  h = harness(null, 1000);
  h.w.onMessage({ op: 'nics', nics: [nic(0, MAC0), nic(1, MAC1)] });
  const s0 = h.fake.on(10);
  const s1 = h.fake.on(11);
  const own = dadProbes(s1)[0]!;
  const n = ndFindNonce(own, 54, 32);
  // eth1's own probe as a switch with a loop would return it (source rewritten to a foreign MAC, our nonce).
  const back = own.slice();
  back.set(PEER_MAC, 6);
  h.fake.deliver(s1, back);
  h.fake.deliver(s0, foreignDadProbe(PEER_MAC, LL0, new Uint8Array([9, 9, 9, 9, 9, 9])));
  assert.ok(n > 0);
  for (let i = 0; i < 110; i++) { h.fake.advanceMs(10); h.fake.fire(s0); h.fake.fire(s1); }
  assert.deepEqual(dadFacts().map((f) => f.kind === 'dad6' && [f.name, f.duplicate]), [['eth0', true], ['eth1', false]]);

  h.w.stop();
  h = harness(null, 1000);
  h.w.onMessage({ op: 'nics', nics: [{ ...nic(0, MAC0), quietOver: [6] }] });
  assert.equal(dadProbes(h.fake.on(10)).length, 0, 'no DAD for a family that had probes acked');
});
