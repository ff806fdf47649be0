/**
 * Routes through ipmp0 whose next hop is of the other address family (RTA_VIA,
 * RFC 5549, e.g. `ip route add 198.19.0.0/24 via inet6 fe80::1 dev ipmp0`):
 * the codec decodes them and encodes them back; the group's route refresh
 * leaves them out instead of failing on the other family's address text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AF_INET6, RTA_VIA, RTM_NEWROUTE, encodeAttr, encodeMessage, encodeRouteMsg, parseRoute, splitMessages, type RouteInfo,
} from '../../../src/io/rtnetlink-codec.js';
import { GroupRuntime } from '../../../src/daemon/group-runtime.js';
import type { NativeAddon } from '../../../src/io/native.js';
import type { Rtnetlink } from '../../../src/io/rtnetlink.js';
import { TableReader } from '../../../src/dataplane/table-reader.js';
import { H_ACK_TX } from '../../../src/tables/shared-tables.js';
import { parseIpv4 } from '../../../src/wire/ipv4.js';

function decode(bytes: Uint8Array): RouteInfo {
  const s = splitMessages(bytes);
  assert.equal(s.error, null);
  const r = parseRoute(s.msgs[0]!);
  assert.ok(r);
  return r;
}

test('an IPv4 route via an IPv6 next hop decodes, and encodes back to the same route', () => {
  const body = new Uint8Array(12);
  body[0] = 2; body[1] = 24; body[4] = 254; body[7] = 1;
  const via = new Uint8Array(18);
  via[0] = AF_INET6;
  via.set([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 2);
  const r = decode(encodeMessage(RTM_NEWROUTE, 0, 1, 0, body,
    [encodeAttr(1, Uint8Array.of(198, 19, 0, 0)), encodeAttr(RTA_VIA, via)]));
  assert.equal(r.family, 4);
  assert.equal(r.gateway, 'fe80::1');
  assert.deepEqual(decode(encodeRouteMsg(RTM_NEWROUTE, 0, 1, r)), r);
});

test('an IPv6 route via an IPv4 next hop and an empty multipath list encode back unchanged', () => {
  const r: RouteInfo = {
    family: 6, table: 254, dst: '2001:db8:1::', dstLen: 64, gateway: '198.18.0.1', oif: 5, priority: 0,
    type: 1, scope: 0, protocol: 3, multipath: [],
  };
  assert.deepEqual(decode(encodeRouteMsg(RTM_NEWROUTE, 0, 1, r)), r);
});

test('a default-length route with a non-zero RTA_DST keeps its destination through encode and decode', () => {
  const r: RouteInfo = {
    family: 4, table: 254, dst: '198.19.0.0', dstLen: 0, gateway: null, oif: 5, priority: 0, type: 1, scope: 0, protocol: 3,
  };
  assert.deepEqual(decode(encodeRouteMsg(RTM_NEWROUTE, 0, 1, r)), r);
});

test('route refresh leaves out a route through ipmp0 whose next hop is of the other family, keeps the others', () => {
  const TUN = 9;
  const route = (dst: string, gateway: string | null): RouteInfo => ({
    family: 4, table: 254, dst, dstLen: 24, gateway, oif: TUN, priority: 0, type: 1, scope: 0, protocol: 3,
  });
  const routes4 = [route('198.19.0.0', 'fe80::1'), route('198.20.0.0', '198.18.0.1'), route('198.18.0.0', null)];
  const rtnl = { getRoutes: (fam: 4 | 6) => (fam === 4 ? routes4 : []) } as unknown as Rtnetlink;
  const rt = new GroupRuntime(
    { ifname: 'ipmp9', groupname: 'g', interfaces: [], addresses: [], targets: null },
    { fdtMs: 10000, failback: true, trackInterfacesOnlyWithGroups: true, groups: [] },
    {} as NativeAddon, rtnl, () => {}, '/nonexistent',
  );
  rt.tunIfindex = TUN;
  rt.refreshRoutes();
  const t = new TableReader(rt.tables.view, H_ACK_TX);
  t.refresh();
  assert.equal(t.nextHop4(parseIpv4('198.19.0.7')), -1, 'the route via an IPv6 next hop is not used');
  assert.equal(t.nextHop4(parseIpv4('198.20.0.7')), parseIpv4('198.18.0.1'));
  assert.equal(t.nextHop4(parseIpv4('198.18.0.7')), parseIpv4('198.18.0.7'));
});
