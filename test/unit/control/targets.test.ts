import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TargetList, TG_ACTIVE, TG_DEAD, TG_SLOW, TG_UNUSED, type RouteNextHop,
} from '../../../src/control/targets.js';

const S = 1e9;

function v4List(own: string[] = []): TargetList {
  const l = new TargetList(4, (a) => own.includes(a));
  l.testAddr = { address: '192.168.1.10', prefixLen: 24 };
  return l;
}

function routes(...gws: string[]): RouteNextHop[] {
  return gws.map((gateway) => ({ gateway, oifIsIpmp: true }));
}

const statusOf = (l: TargetList, a: string) => l.lookup(a)?.status;

test('router next hops count only inside the test subnet and never our own addresses', () => {
  const l = v4List(['192.168.1.20']);
  l.refreshRouters(routes('192.168.1.1', '10.0.0.1', '192.168.1.10', '192.168.1.20', '192.168.1.1'), [], false, 0);
  assert.deepEqual(l.list.map((t) => t.address), ['192.168.1.1']);
  assert.equal(l.areRouters, true);
  assert.equal(l.mode(true), 'routes');
});

test('IPv6 routers must be link-local and on the IPMP interface', () => {
  const l = new TargetList(6);
  l.testAddr = { address: 'fe80::10', prefixLen: 64 };
  l.refreshRouters(
    [
      { gateway: 'FE80:0:0:0:0:0:0:1', oifIsIpmp: true },
      { gateway: 'fe80::2', oifIsIpmp: false },
      { gateway: '2001:db8::1', oifIsIpmp: true },
    ],
    [],
    false,
    0,
  );
  assert.deepEqual(l.list.map((t) => t.address), ['fe80::1']);
});

test('multicast responders become host targets, with filters and a cap of 5', () => {
  const l = v4List(['192.168.1.20']);
  assert.equal(l.mode(true), 'multicast');
  assert.equal(l.mode(false), 'disabled');
  assert.equal(l.addHost('0.0.0.0', 0), null);
  assert.equal(l.addHost('192.168.1.20', 0), null, 'own address');
  assert.equal(l.addHost('192.168.1.10', 0), null, 'test address');
  assert.equal(l.addHost('192.168.2.5', 0), null, 'outside the subnet');
  for (let i = 1; i <= 6; i++) l.addHost(`192.168.1.${100 + i}`, 0);
  assert.equal(l.list.length, 5);
  assert.equal(l.addHost('192.168.1.101', 0), null, 'duplicate');
  assert.ok(l.list.every((t) => t.status === TG_ACTIVE));
});

test('routers evict hosts, and hosts never join a router list', () => {
  const l = v4List();
  l.addHost('192.168.1.50', 0);
  assert.equal(l.refreshRouters(routes('192.168.1.1'), [], false, 0), true);
  assert.deepEqual(l.list.map((t) => t.address), ['192.168.1.1']);
  assert.equal(l.addHost('192.168.1.51', 0), null);
  l.flushHosts();
  assert.equal(l.list.length, 1, 'flushing hosts keeps routers');
});

test('at most 5 routers are active, the rest unused', () => {
  const l = v4List();
  const gws = [1, 2, 3, 4, 5, 6, 7].map((i) => `192.168.1.${i}`);
  l.refreshRouters(routes(...gws), [], false, 0);
  assert.equal(l.activeCount, 5);
  assert.equal(l.list.filter((t) => t.status === TG_UNUSED).length, 2);
  assert.equal(statusOf(l, '192.168.1.6'), TG_UNUSED);
});

test('firing order is round robin from the cursor, new targets at the head', () => {
  const l = v4List();
  for (const h of ['a', 'b', 'c']) l.addHost(`192.168.1.${h === 'a' ? 1 : h === 'b' ? 2 : 3}`, 0);
  assert.deepEqual(l.firingOrder(), ['192.168.1.3', '192.168.1.2', '192.168.1.1']);
  assert.equal(l.takeNext(0)?.address, '192.168.1.3');
  assert.deepEqual(l.firingOrder(), ['192.168.1.2', '192.168.1.1', '192.168.1.3']);
  l.addHost('192.168.1.4', 0);
  assert.deepEqual(l.firingOrder(), ['192.168.1.2', '192.168.1.1', '192.168.1.4', '192.168.1.3']);
  const seq = [0, 1, 2, 3, 4].map(() => l.takeNext(0)?.address);
  assert.deepEqual(seq, ['192.168.1.2', '192.168.1.1', '192.168.1.4', '192.168.1.3', '192.168.1.2']);
});

test('routers that left the table are deleted, except while the group is failed; pins stay', () => {
  const l = v4List();
  l.refreshRouters(routes('192.168.1.1', '192.168.1.2'), ['192.168.1.9'], false, 0);
  assert.equal(l.list.length, 3);
  l.refreshRouters(routes('192.168.1.1'), ['192.168.1.9'], true, 0);
  assert.equal(l.list.length, 3, 'kept while failed');
  l.refreshRouters(routes(), ['192.168.1.9'], false, 0);
  assert.deepEqual(l.list.map((t) => t.address), ['192.168.1.9']);
  assert.equal(l.areRouters, true);
  l.refreshRouters(routes(), [], false, 0);
  assert.equal(l.list.length, 1, 'a pinned target never disappears on a refresh');
});

test('losing the last active router activates up to 3 of the best others', () => {
  const l = v4List();
  const gws = [1, 2, 3, 4, 5, 6, 7].map((i) => `192.168.1.${i}`);
  l.refreshRouters(routes(...gws), [], false, 0);
  l.refreshRouters(routes('192.168.1.6', '192.168.1.7'), [], false, 0);
  assert.deepEqual(l.active.map((t) => t.address), ['192.168.1.7', '192.168.1.6']);
});

test('reactivation prefers unused, then recovered slow, slow, recovered dead, dead', () => {
  const l = v4List();
  l.refreshRouters(routes('192.168.1.1', '192.168.1.2', '192.168.1.3', '192.168.1.4', '192.168.1.5'), [], false, 0);
  l.markDead(l.lookup('192.168.1.1')!, 100 * S);
  l.markSlow(l.lookup('192.168.1.2')!, 100 * S);
  l.markSlow(l.lookup('192.168.1.3')!, 30 * S);
  l.markDead(l.lookup('192.168.1.4')!, 30 * S);
  assert.equal(l.activeCount, 1);
  l.refreshRouters(routes('192.168.1.1', '192.168.1.2', '192.168.1.3', '192.168.1.4'), [], false, 100 * S);
  assert.deepEqual(
    ['192.168.1.3', '192.168.1.2', '192.168.1.4', '192.168.1.1'].map((a) => statusOf(l, a)),
    [TG_ACTIVE, TG_ACTIVE, TG_ACTIVE, TG_DEAD],
  );
});

test('a dead router steps back up after 60 s each when the cursor passes it', () => {
  const l = v4List();
  l.refreshRouters(routes('192.168.1.1', '192.168.1.2'), [], false, 0);
  const dead = l.lookup('192.168.1.1')!;
  l.markDead(dead, 0);
  assert.deepEqual(l.firingOrder(), ['192.168.1.2']);
  l.takeNext(30 * S);
  assert.equal(dead.status, TG_DEAD);
  l.takeNext(61 * S);
  assert.equal(dead.status, TG_SLOW);
  l.takeNext(100 * S);
  assert.equal(dead.status, TG_SLOW);
  l.takeNext(122 * S);
  assert.equal(dead.status, TG_ACTIVE);
});

test('a member without targets copies the hosts of another', () => {
  const a = v4List();
  a.addHost('192.168.1.1', 0);
  a.addHost('192.168.1.2', 0);
  const b = v4List();
  b.copyHostsFrom(a, 0);
  assert.deepEqual(b.list.map((t) => t.address), a.list.map((t) => t.address));
});

test('deleting the only host leaves an empty host list', () => {
  const l = v4List();
  l.addHost('192.168.1.1', 0);
  l.delete(l.list[0]!, 0);
  assert.equal(l.list.length, 0);
  assert.equal(l.takeNext(0), null);
  assert.deepEqual(l.firingOrder(), []);
});
