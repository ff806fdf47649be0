import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Announcer, DAD_RETRANS_MS } from '../../../src/daemon/announcer.js';
import { VNET_LEN } from '../../../src/dataplane/layout.js';
import { ETHERTYPE_IPV6, getEthType, macToString, parseMac } from '../../../src/wire/ethernet.js';
import {
  ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT, ND_NONCE_LEN, ND_OPT_SOURCE_LINKADDR, ndFindLinkLayerOpt, ndFindNonce, ndTargetOffset,
  ndType, validateNd,
} from '../../../src/wire/icmp6-nd.js';
import { ipv6HopLimit, ipv6ToString, parseIpv6 } from '../../../src/wire/ipv6.js';
import { WIRE_NOT_FOUND } from '../../../src/wire/result.js';
import { refChecksum6 } from '../wire/helpers.js';

const NOM_MAC = parseMac('02:00:00:00:00:0a');
const BOUND_MAC = parseMac('02:00:00:00:00:0b');
const ADDR = '2001:db8::10';

/** An announcer on a fake clock whose frames (without the vnet header) land in `frames`. */
function rig(t: TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const frames: { at: number; f: Uint8Array }[] = [];
  const dads: { address: string; duplicate: boolean; mac: string | null }[] = [];
  const pendingClaims: { address: string; mac: string; nonce?: string | null }[] = [];
  let drains = 0;
  const a: Announcer = new Announcer({
    nominee: () => ({ fd: 7, mac: NOM_MAC }),
    send: (_fd, f) => { frames.push({ at: Date.now(), f: f.slice(VNET_LEN) }); return f.length; },
    drainConflicts: () => { drains++; for (const c of pendingClaims.splice(0)) a.conflict(c.address, c.mac, c.nonce); },
    onDad: (address, duplicate, mac) => dads.push({ address, duplicate, mac }),
  }, 5, 2000, 3, 2000);
  return { a, frames, dads, pendingClaims, drains: () => drains };
}

function isNa(f: Uint8Array): boolean {
  return f.length > 54 && ndType(f, 54) === ND_NEIGHBOR_ADVERT;
}

test('the DAD probe: NS from :: to the solicited-node group, target the address, no SLLA, a nonce, valid checksum', (t) => {
  const { a, frames } = rig(t);
  a.announce(ADDR, BOUND_MAC, Date.now(), true);
  assert.equal(frames.length, 1);
  const f = frames[0].f;
  assert.equal(f.length, 86);
  assert.equal(macToString(f, 0), '33:33:ff:00:00:10');
  assert.equal(macToString(f, 6), '02:00:00:00:00:0a');
  assert.equal(getEthType(f, 0), ETHERTYPE_IPV6);
  assert.equal(ipv6ToString(f, 22), '::');
  assert.equal(ipv6ToString(f, 38), 'ff02::1:ff00:10');
  assert.equal(ipv6HopLimit(f, 14), 255);
  assert.equal(f[20], 58);
  assert.equal((f[18] << 8) | f[19], 32);
  assert.equal(validateNd(f, 14, 72), 32);
  assert.ok(ndFindNonce(f, 54, 32) > 0, 'nonce option (RFC 7527)');
  assert.equal(ndType(f, 54), ND_NEIGHBOR_SOLICIT);
  assert.equal(f[55], 0);
  assert.equal(ipv6ToString(f, ndTargetOffset(54)), ADDR);
  assert.equal(ndFindLinkLayerOpt(f, 54, 24, ND_OPT_SOURCE_LINKADDR), WIRE_NOT_FOUND);
  const l4 = f.slice(54);
  const stored = (l4[2] << 8) | l4[3];
  assert.equal(l4.length, 32);
  l4[2] = 0; l4[3] = 0;
  assert.equal(stored, refChecksum6(parseIpv6('::'), parseIpv6('ff02::1:ff00:10'), 58, l4));
  a.stop();
});

test('clean DAD window: no NA before RetransTimer, then the unsolicited NAs follow', (t) => {
  const { a, frames, dads, drains } = rig(t);
  const t0 = Date.now();
  a.announce(ADDR, BOUND_MAC, t0, true);
  assert.equal(a.tentative(ADDR), true);
  t.mock.timers.tick(DAD_RETRANS_MS - 1);
  assert.equal(frames.filter((x) => isNa(x.f)).length, 0, 'no NA inside the DAD window');
  assert.equal(dads.length, 0);
  t.mock.timers.tick(1);
  assert.deepEqual(dads, [{ address: ADDR, duplicate: false, mac: null }]);
  assert.equal(a.tentative(ADDR), false);
  assert.ok(drains() >= 2, 'the conflict ring is read when the probe leaves and when the window closes');
  t.mock.timers.tick(2000);
  t.mock.timers.tick(2000);
  const nas = frames.filter((x) => isNa(x.f));
  assert.deepEqual(nas.map((x) => x.at - t0), [1000, 3000, 5000]);
  assert.equal(ipv6ToString(nas[0].f, ndTargetOffset(54)), ADDR);
  assert.equal(a.pending(), 0);
  a.stop();
});

test('a claim inside the window (read only when the window closes) makes the address a duplicate: no NA', (t) => {
  const { a, frames, dads, pendingClaims } = rig(t);
  // A claim left over from before the probe is not an answer to it.
  pendingClaims.push({ address: ADDR, mac: '02:00:00:00:00:99' });
  a.announce(ADDR, BOUND_MAC, Date.now(), true);
  t.mock.timers.tick(900);
  // Heard at 900 ms, still in the ring when the window closes (the periodic poll has not run yet).
  pendingClaims.push({ address: '2001:db8:0::010', mac: '02:00:00:00:00:77' });
  t.mock.timers.tick(100);
  assert.deepEqual(dads, [{ address: ADDR, duplicate: true, mac: '02:00:00:00:00:77' }]);
  t.mock.timers.tick(10_000);
  assert.equal(frames.filter((x) => isNa(x.f)).length, 0);
  assert.equal(a.tentative(ADDR), true, 'a duplicate stays out of the data plane');
  // A rebind (failover) does not announce a duplicate; removing the address forgets the verdict.
  a.announce(ADDR, BOUND_MAC, Date.now(), false);
  t.mock.timers.tick(5000);
  assert.equal(frames.filter((x) => isNa(x.f)).length, 0);
  a.forget(ADDR);
  assert.equal(a.tentative(ADDR), false);
  a.stop();
});

test('a rebind during DAD keeps the window and announces the new MAC after it; a rebind announces at once', (t) => {
  const { a, frames, dads } = rig(t);
  a.announce(ADDR, BOUND_MAC, Date.now(), true);
  t.mock.timers.tick(400);
  const other = parseMac('02:00:00:00:00:0c');
  a.announce(ADDR, other, Date.now(), false);
  assert.equal(frames.filter((x) => isNa(x.f)).length, 0);
  t.mock.timers.tick(600);
  assert.equal(dads.length, 1);
  const nas = frames.filter((x) => isNa(x.f));
  assert.equal(nas.length, 1);
  assert.equal(macToString(nas[0].f, ndFindLinkLayerOpt(nas[0].f, 54, 32, 2)), '02:00:00:00:00:0c');
  const before = frames.length;
  a.announce('2001:db8::20', BOUND_MAC, Date.now(), false);
  a.announce('198.18.0.5', BOUND_MAC, Date.now(), false);
  assert.equal(frames.length, before + 2, 'no DAD for a rebind');
  a.stop();
});

test('held at start: addresses are tentative, nothing is sent until release, and the window starts then', (t) => {
  const { a, frames, dads } = rig(t);
  a.hold();
  a.expectDad(ADDR);
  assert.equal(a.tentative(ADDR), true);
  a.announce(ADDR, BOUND_MAC, Date.now(), true);
  a.announce('198.18.0.5', BOUND_MAC, Date.now(), false);
  t.mock.timers.tick(3000);
  assert.equal(frames.length, 0);
  assert.equal(a.tentative(ADDR), true);
  const t0 = Date.now();
  a.release();
  assert.equal(frames.length, 2, 'the DAD probe and the first gratuitous ARP');
  assert.equal(ndType(frames[0].f, 54), ND_NEIGHBOR_SOLICIT);
  t.mock.timers.tick(999);
  assert.equal(dads.length, 0);
  t.mock.timers.tick(1);
  assert.equal(dads.length, 1);
  assert.equal(frames.filter((x) => isNa(x.f))[0].at - t0, 1000);
  a.stop();
});

/** Hex of the nonce in a DAD probe frame. */
function nonceOf(f: Uint8Array): string {
  const n = ndFindNonce(f, 54, 32);
  return Buffer.from(f.subarray(n, n + ND_NONCE_LEN)).toString('hex');
}

test('simultaneous DAD: another node\'s probe in the window is a duplicate; our own nonce looped back is not', (t) => {
  const { a, frames, dads, pendingClaims } = rig(t);
  a.announce(ADDR, BOUND_MAC, Date.now(), true);
  a.announce('2001:db8::11', BOUND_MAC, Date.now(), true);
  const own = nonceOf(frames[0].f);
  const own11 = nonceOf(frames[1].f);
  assert.notEqual(own, own11, 'each probe has its own nonce');
  t.mock.timers.tick(300);
  // Our probe for ::10 comes back (same nonce); another node probes ::11 (its own nonce).
  pendingClaims.push({ address: ADDR, mac: '02:00:00:00:00:0a', nonce: own });
  pendingClaims.push({ address: '2001:db8::11', mac: '52:54:00:00:00:50', nonce: 'a1a2a3a4a5a6' });
  t.mock.timers.tick(700);
  assert.deepEqual(dads, [
    { address: ADDR, duplicate: false, mac: null },
    { address: '2001:db8::11', duplicate: true, mac: '52:54:00:00:00:50' },
  ]);
  assert.equal(a.duplicateOf('2001:db8::11'), '52:54:00:00:00:50');
  assert.equal(a.duplicateOf(ADDR), null);
  for (let i = 0; i < 3; i++) t.mock.timers.tick(2000);
  const nas = frames.filter((x) => isNa(x.f)).map((x) => ipv6ToString(x.f, ndTargetOffset(54)));
  assert.ok(nas.length >= 3 && nas.every((x) => x === ADDR), `only ${ADDR} announced: ${nas}`);
  // Removed and added again: DAD runs again, with a new nonce; a probe without a nonce from another node counts.
  a.forget('2001:db8::11');
  assert.equal(a.duplicateOf('2001:db8::11'), null);
  a.announce('2001:db8::11', BOUND_MAC, Date.now(), true);
  const again = frames.at(-1)!.f;
  assert.equal(ndType(again, 54), ND_NEIGHBOR_SOLICIT);
  assert.notEqual(nonceOf(again), own11);
  pendingClaims.push({ address: '2001:db8::11', mac: '52:54:00:00:00:51', nonce: null });
  t.mock.timers.tick(1000);
  assert.deepEqual(dads.at(-1), { address: '2001:db8::11', duplicate: true, mac: '52:54:00:00:00:51' });
  a.stop();
});

test('a removed and re-added address that passes DAD is announced and no longer a duplicate', (t) => {
  const { a, frames, dads, pendingClaims } = rig(t);
  a.announce(ADDR, BOUND_MAC, Date.now(), true);
  pendingClaims.push({ address: ADDR, mac: '52:54:00:00:00:50', nonce: null });
  // The report arrives after the probe left: drained when the window closes.
  t.mock.timers.tick(1000);
  assert.equal(dads.at(-1)?.duplicate, true);
  a.forget(ADDR);
  a.announce(ADDR, BOUND_MAC, Date.now(), true);
  assert.equal(a.tentative(ADDR), true);
  t.mock.timers.tick(1000);
  assert.deepEqual(dads.at(-1), { address: ADDR, duplicate: false, mac: null });
  assert.equal(a.tentative(ADDR), false);
  assert.equal(a.duplicateOf(ADDR), null);
  assert.equal(frames.filter((x) => isNa(x.f)).length, 1);
  a.stop();
});
