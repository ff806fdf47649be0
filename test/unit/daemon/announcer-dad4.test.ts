// IPv4 duplicate address detection in the announcer on a fake clock (RFC 5227 §2.1, Solaris fast
// mode): on an initial bind, after a random delay below DAD4_MAX_DELAY_MS, DAD4_PROBES ARP probes
// (sender IP 0.0.0.0, sender MAC the bound NIC's, target IP the address) leave from the bound
// NIC DAD4_PROBE_INTERVAL_MS apart; DAD4_WAIT_MS after the last one the gratuitous ARPs follow.
// A claim or another node's probe heard meanwhile makes the address a duplicate: no further
// probe, never announced. A rebind announces at once, without DAD.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  ANNOUNCE_INTERVAL_MS, Announcer, DAD4_MAX_DELAY_MS, DAD4_PROBE_INTERVAL_MS, DAD4_PROBES, DAD4_WAIT_MS,
} from '../../../src/daemon/announcer.js';
import { VNET_LEN } from '../../../src/dataplane/layout.js';
import { ARP_OP_REQUEST, arpOp, arpSpa, arpTpa, validateArp } from '../../../src/wire/arp.js';
import { ETHERTYPE_ARP, getEthType, macToString, parseMac } from '../../../src/wire/ethernet.js';
import { ipv4ToString } from '../../../src/wire/ipv4.js';

const NOM = { fd: 7, mac: parseMac('02:00:00:00:00:0a') };
const NIC_B = { fd: 8, mac: parseMac('02:00:00:00:00:0b') };
const NIC_C = { fd: 9, mac: parseMac('02:00:00:00:00:0c') };
const ADDR = '198.18.0.10';
const PEER = '52:54:00:00:00:50';

interface Sent { at: number; fd: number; f: Uint8Array }

/** An announcer on a fake clock; `bound` says which NIC each address is bound to; `rand` is the random source. */
function rig(t: TestContext, rand = 0.5) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const frames: Sent[] = [];
  const dads: { address: string; duplicate: boolean; mac: string | null }[] = [];
  const pendingClaims: { address: string; mac: string; nonce?: string | null }[] = [];
  const bound = new Map<string, { fd: number; mac: Uint8Array }>();
  const a: Announcer = new Announcer({
    nominee: () => NOM,
    bound: (address) => bound.get(address) ?? null,
    send: (fd, f) => { frames.push({ at: Date.now(), fd, f: f.slice(VNET_LEN) }); return f.length; },
    drainConflicts: () => { for (const c of pendingClaims.splice(0)) a.conflict(c.address, c.mac, c.nonce); },
    onDad: (address, duplicate, mac) => dads.push({ address, duplicate, mac }),
  }, 5, ANNOUNCE_INTERVAL_MS, 3, 2000, 1000, Date.now, { random: () => rand });
  return { a, frames, dads, pendingClaims, bound };
}

/** Advances the fake clock 1 ms at a time, so each timer fires at its own time (Date included). */
function advance(t: TestContext, ms: number): void {
  for (let i = 0; i < ms; i++) t.mock.timers.tick(1);
}

function isArp(f: Uint8Array): boolean {
  return getEthType(f, 0) === ETHERTYPE_ARP && validateArp(f, 14, f.length - 14) >= 0;
}
function isProbe(f: Uint8Array): boolean {
  return isArp(f) && arpSpa(f, 14) === 0;
}
function isGratuitous(f: Uint8Array): boolean {
  return isArp(f) && arpSpa(f, 14) !== 0 && arpSpa(f, 14) === arpTpa(f, 14);
}

test('the ARP probe: broadcast from the bound NIC, sender IP 0.0.0.0 and the bound MAC, target the address, target MAC zero', (t) => {
  const { a, frames, bound } = rig(t, 0);
  bound.set(ADDR, NIC_B);
  a.announce(ADDR, NIC_B.mac, Date.now(), true);
  assert.equal(frames.length, 1, 'a zero delay sends the first probe at once');
  const { fd, f } = frames[0];
  assert.equal(fd, NIC_B.fd, 'sent on the bound NIC, not the nominee');
  assert.equal(f.length, 42);
  assert.equal(macToString(f, 0), 'ff:ff:ff:ff:ff:ff');
  assert.equal(macToString(f, 6), macToString(NIC_B.mac));
  assert.equal(getEthType(f, 0), ETHERTYPE_ARP);
  assert.equal(validateArp(f, 14, 28), 28);
  assert.equal(arpOp(f, 14), ARP_OP_REQUEST);
  assert.equal(macToString(f, 14 + 8), macToString(NIC_B.mac), 'sender MAC');
  assert.equal(ipv4ToString(arpSpa(f, 14)), '0.0.0.0');
  assert.equal(macToString(f, 14 + 18), '00:00:00:00:00:00', 'target MAC');
  assert.equal(ipv4ToString(arpTpa(f, 14)), ADDR);
  assert.equal(a.tentative(ADDR), true);
  assert.equal(a.probing(ADDR), true);
  a.stop();
});

test('timing: random delay, 3 probes 150 ms apart, the window closes 150 ms after the last, then 5 gratuitous ARPs', (t) => {
  const { a, frames, dads, bound } = rig(t, 0.5);
  bound.set(ADDR, NIC_B);
  const t0 = Date.now();
  a.announce(ADDR, NIC_B.mac, t0, true);
  const delay = Math.floor(0.5 * DAD4_MAX_DELAY_MS);
  const close = delay + (DAD4_PROBES - 1) * DAD4_PROBE_INTERVAL_MS + DAD4_WAIT_MS;
  advance(t, close - 1);
  assert.deepEqual(frames.filter((x) => isProbe(x.f)).map((x) => x.at - t0), [50, 200, 350]);
  assert.equal(frames.filter((x) => isGratuitous(x.f)).length, 0, 'nothing announced inside the window');
  assert.equal(dads.length, 0);
  assert.equal(a.tentative(ADDR), true);
  advance(t, 1);
  assert.deepEqual(dads, [{ address: ADDR, duplicate: false, mac: null }]);
  assert.equal(a.tentative(ADDR), false);
  for (let i = 0; i < 5; i++) advance(t, ANNOUNCE_INTERVAL_MS);
  const garps = frames.filter((x) => isGratuitous(x.f));
  assert.deepEqual(garps.map((x) => x.at - t0), [500, 2500, 4500, 6500, 8500]);
  assert.ok(garps.every((x) => x.fd === NOM.fd), 'announcements go through the nominee');
  assert.equal(frames.filter((x) => isProbe(x.f)).length, DAD4_PROBES);
  assert.equal(a.dadProbes, DAD4_PROBES);
  assert.equal(a.pending(), 0);
  a.stop();
});

test('the initial delay stays below DAD4_MAX_DELAY_MS whatever the random source gives', (t) => {
  for (const r of [0, 0.25, 0.999999]) {
    const { a, frames, bound } = rig(t, r);
    bound.set(ADDR, NIC_B);
    const t0 = Date.now();
    a.announce(ADDR, NIC_B.mac, t0, true);
    advance(t, DAD4_MAX_DELAY_MS);
    const first = frames.find((x) => isProbe(x.f));
    assert.ok(first !== undefined && first.at - t0 < DAD4_MAX_DELAY_MS, `random ${r}: first probe at ${first && first.at - t0} ms`);
    assert.equal(first.at - t0, Math.floor(r * DAD4_MAX_DELAY_MS));
    a.stop();
    t.mock.timers.reset();
  }
});

test('a claim in the window makes the address a duplicate: no further probe, no gratuitous ARP, stays tentative', (t) => {
  const { a, frames, dads, pendingClaims, bound } = rig(t, 0);
  bound.set(ADDR, NIC_B);
  // Left over from before the series: not an answer to its probes.
  pendingClaims.push({ address: ADDR, mac: '52:54:00:00:00:99' });
  a.announce(ADDR, NIC_B.mac, Date.now(), true);
  assert.equal(dads.length, 0);
  advance(t, 10);
  // The periodic poll brings the answer to the first probe.
  a.conflict(ADDR, PEER);
  advance(t, DAD4_PROBE_INTERVAL_MS - 10);
  assert.deepEqual(dads, [{ address: ADDR, duplicate: true, mac: PEER }]);
  assert.equal(frames.filter((x) => isProbe(x.f)).length, 1, 'probing stops once a claim is known');
  advance(t, 20_000);
  assert.equal(frames.filter((x) => isGratuitous(x.f)).length, 0);
  assert.equal(a.tentative(ADDR), true);
  assert.equal(a.probing(ADDR), false);
  assert.equal(a.duplicateOf(ADDR), PEER);
  // A rebind (failover) of a duplicate announces nothing.
  a.announce(ADDR, NIC_C.mac, Date.now(), false);
  advance(t, 5000);
  assert.equal(frames.filter((x) => isGratuitous(x.f)).length, 0);
  a.stop();
});

test('the ring is read before each probe: an answer to the first one stops the series at the second one\'s time', (t) => {
  const { a, frames, dads, pendingClaims, bound } = rig(t, 0);
  bound.set(ADDR, NIC_B);
  const t0 = Date.now();
  a.announce(ADDR, NIC_B.mac, t0, true);
  advance(t, 5);
  pendingClaims.push({ address: ADDR, mac: PEER });
  advance(t, DAD4_PROBE_INTERVAL_MS - 6);
  assert.equal(dads.length, 0);
  advance(t, 1);
  assert.deepEqual(dads, [{ address: ADDR, duplicate: true, mac: PEER }]);
  assert.deepEqual(frames.filter((x) => isProbe(x.f)).map((x) => x.at - t0), [0]);
  a.stop();
});

test('a claim still in the ring when the window closes counts; another node\'s simultaneous probe counts too', (t) => {
  const { a, dads, pendingClaims, bound } = rig(t, 0);
  bound.set(ADDR, NIC_B);
  bound.set('198.18.0.11', NIC_B);
  a.announce(ADDR, NIC_B.mac, Date.now(), true);
  a.announce('198.18.0.11', NIC_B.mac, Date.now(), true);
  advance(t, 2 * DAD4_PROBE_INTERVAL_MS + DAD4_WAIT_MS - 1);
  pendingClaims.push({ address: ADDR, mac: PEER });
  // RFC 5227 §2.1.1: a probe from another node (sender IP 0) for the address; IPv4 probes carry no nonce.
  pendingClaims.push({ address: '198.18.0.11', mac: '52:54:00:00:00:51', nonce: null });
  advance(t, 1);
  assert.deepEqual(dads, [
    { address: ADDR, duplicate: true, mac: PEER },
    { address: '198.18.0.11', duplicate: true, mac: '52:54:00:00:00:51' },
  ]);
  a.stop();
});

test('a rebind announces at once without DAD; a rebind during DAD keeps the probes and changes the MAC announced after', (t) => {
  const { a, frames, dads, bound } = rig(t, 0);
  bound.set('198.18.0.20', NIC_B);
  a.announce('198.18.0.20', NIC_B.mac, Date.now(), false);
  assert.equal(frames.length, 1);
  assert.ok(isGratuitous(frames[0].f));
  assert.equal(a.tentative('198.18.0.20'), false);
  bound.set(ADDR, NIC_B);
  a.announce(ADDR, NIC_B.mac, Date.now(), true);
  advance(t, DAD4_PROBE_INTERVAL_MS);
  // Failover to NIC_C in the middle of DAD: the rest of the probes leave from it.
  bound.set(ADDR, NIC_C);
  a.announce(ADDR, NIC_C.mac, Date.now(), false);
  assert.equal(a.tentative(ADDR), true);
  advance(t, DAD4_PROBE_INTERVAL_MS + DAD4_WAIT_MS);
  const probes = frames.filter((x) => isProbe(x.f));
  assert.deepEqual(probes.map((x) => x.fd), [NIC_B.fd, NIC_B.fd, NIC_C.fd]);
  assert.equal(macToString(probes[2].f, 14 + 8), macToString(NIC_C.mac));
  assert.deepEqual(dads, [{ address: ADDR, duplicate: false, mac: null }]);
  const garp = frames.filter((x) => isGratuitous(x.f) && ipv4ToString(arpTpa(x.f, 14)) === ADDR);
  assert.equal(garp.length, 1);
  assert.equal(macToString(garp[0].f, 14 + 8), macToString(NIC_C.mac));
  a.stop();
});

test('held at start: nothing goes out until release; the delay and the probes count from release', (t) => {
  const { a, frames, dads, bound } = rig(t, 0.2);
  bound.set(ADDR, NIC_B);
  a.hold();
  a.expectDad(ADDR);
  assert.equal(a.tentative(ADDR), true);
  a.announce(ADDR, NIC_B.mac, Date.now(), true);
  advance(t, 3000);
  assert.equal(frames.length, 0);
  const t0 = Date.now();
  a.release();
  advance(t, 1000);
  assert.deepEqual(frames.filter((x) => isProbe(x.f)).map((x) => x.at - t0), [20, 170, 320]);
  assert.equal(dads.length, 1);
  assert.equal(frames.filter((x) => isGratuitous(x.f))[0].at - t0, 470);
  a.stop();
});

test('removed and added again: DAD runs again and a clean run announces the address', (t) => {
  const { a, frames, dads, bound } = rig(t, 0);
  bound.set(ADDR, NIC_B);
  a.announce(ADDR, NIC_B.mac, Date.now(), true);
  a.conflict(ADDR, PEER);
  advance(t, 1000);
  assert.equal(a.duplicateOf(ADDR), PEER);
  a.forget(ADDR);
  assert.equal(a.tentative(ADDR), false);
  const before = frames.length;
  a.announce(ADDR, NIC_B.mac, Date.now(), true);
  assert.equal(a.tentative(ADDR), true);
  advance(t, 2 * DAD4_PROBE_INTERVAL_MS + DAD4_WAIT_MS);
  assert.deepEqual(dads.at(-1), { address: ADDR, duplicate: false, mac: null });
  assert.equal(a.duplicateOf(ADDR), null);
  const after = frames.slice(before);
  assert.equal(after.filter((x) => isProbe(x.f)).length, DAD4_PROBES);
  assert.equal(after.filter((x) => isGratuitous(x.f)).length, 1);
  a.stop();
});
