import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TableReader } from '../../../src/dataplane/table-reader.js';
import {
  H_ACK_RX, H_ACK_TX, H_SEQ, MAX_NICS, NBUCKETS, NO_NIC, TablesView, TablesWriter,
} from '../../../src/tables/shared-tables.js';
import { parseIpv4 } from '../../../src/wire/ipv4.js';
import { parseIpv6 } from '../../../src/wire/ipv6-text.js';

function k4(s: string): Uint8Array {
  const v = parseIpv4(s);
  return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}

const MAC_A = new Uint8Array([2, 0, 0, 0, 0, 0xa]);
const MAC_B = new Uint8Array([2, 0, 0, 0, 0, 0xb]);

function populated(): { view: TablesView; writer: TablesWriter; gen: number } {
  const view = new TablesView();
  const writer = new TablesWriter(view);
  const buckets = new Uint8Array(NBUCKETS);
  for (let i = 0; i < NBUCKETS; i++) buckets[i] = i < 128 ? 0 : 1;
  const gen = writer.update((w) => {
    w.setNic({ slot: 0, ifindex: 2, fd: 10, present: true, active: true, mtu: 1500, mac: MAC_A });
    w.setNic({ slot: 1, ifindex: 3, fd: 11, present: true, active: false, mtu: 9000, mac: MAC_B });
    w.setBuckets(buckets);
    w.setNominee(1);
    w.setCarrier(true);
    w.setAddresses([
      { family: 4, ip: k4('198.18.0.10'), plen: 24, bound: 0 },
      { family: 6, ip: parseIpv6('2001:db8::10'), plen: 64, bound: 1 },
      { family: 4, ip: k4('10.9.9.9'), plen: 32, bound: NO_NIC },
      { family: 4, ip: k4('192.0.2.1'), plen: 31, bound: 1 },
    ]);
    w.setRoutes([
      { family: 4, dst: k4('0.0.0.0'), plen: 0, gateway: k4('198.18.0.1'), metric: 100 },
      { family: 4, dst: k4('198.18.0.0'), plen: 24, gateway: null, metric: 0 },
      { family: 6, dst: parseIpv6('2001:db8::'), plen: 64, gateway: null, metric: 0 },
      { family: 4, dst: k4('198.19.0.0'), plen: 16, gateway: k4('198.18.0.2'), metric: 20 },
      { family: 4, dst: k4('198.19.0.0'), plen: 16, gateway: k4('198.18.0.3'), metric: 10 },
      { family: 4, dst: k4('198.19.7.0'), plen: 24, gateway: k4('198.18.0.4'), metric: 0 },
    ]);
  });
  return { view, writer, gen };
}

test('a reader loads a published generation once and acknowledges it', () => {
  const { view, writer, gen } = populated();
  assert.equal(gen, 1);
  assert.equal(view.generation(), 1);
  assert.equal(view.header[H_SEQ] & 1, 0, 'sequence even after a write');
  const r = new TableReader(view, H_ACK_TX);
  assert.equal(r.generation, -1);
  assert.equal(r.refresh(), true);
  assert.equal(r.generation, 1);
  assert.equal(view.header[H_ACK_TX], 1);
  assert.equal(view.header[H_ACK_RX], 0);
  assert.equal(r.refresh(), false, 'nothing new');
  assert.equal(writer.update((w) => w.setNominee(0)), 2);
  assert.equal(r.nominee, 1, 'readers see changes only at refresh');
  assert.equal(r.refresh(), true);
  assert.equal(r.generation, 2);
  assert.equal(r.nominee, 0);
  assert.equal(view.header[H_ACK_TX], 2);
});

test('a nested update publishes one generation', () => {
  const { writer, view } = populated();
  const g = writer.update((w) => {
    assert.equal(view.header[H_SEQ] & 1, 1, 'sequence odd while writing');
    w.update((w2) => w2.setCarrier(false));
  });
  assert.equal(g, 2);
  assert.equal(view.generation(), 2);
});

test('a writer that throws still leaves the sequence even', () => {
  const { writer, view } = populated();
  assert.throws(() => writer.update((w) => w.setNic({ slot: MAX_NICS, ifindex: 1, fd: 1, present: true, active: true, mtu: 1500, mac: MAC_A })), RangeError);
  assert.equal(view.header[H_SEQ] & 1, 0);
  const r = new TableReader(view, H_ACK_RX);
  assert.equal(r.refresh(), true);
});

test('NICs, buckets, nominee and carrier round-trip', () => {
  const { view } = populated();
  const r = new TableReader(new TablesView(view.sab), H_ACK_RX);
  r.refresh();
  assert.equal(r.nicCount, 2);
  assert.deepEqual([r.nicFd[0], r.nicFd[1]], [10, 11]);
  assert.deepEqual([r.nicIfindex[0], r.nicIfindex[1]], [2, 3]);
  assert.deepEqual([r.nicActive[0], r.nicActive[1]], [1, 0]);
  assert.deepEqual([r.nicPresent[0], r.nicPresent[1]], [1, 1]);
  assert.deepEqual([r.nicMtu[0], r.nicMtu[1]], [1500, 9000]);
  assert.deepEqual(r.nicMac.subarray(0, 12), new Uint8Array([...MAC_A, ...MAC_B]));
  assert.equal(r.buckets[0], 0);
  assert.equal(r.buckets[255], 1);
  assert.equal(r.nominee, 1);
  assert.equal(r.carrier, true);
  assert.equal(view.header[H_ACK_RX], 1);
});

test('a fresh view has every bucket and the nominee at NO_NIC, and no carrier', () => {
  const view = new TablesView();
  const r = new TableReader(view, H_ACK_TX);
  new TablesWriter(view).update(() => {});
  r.refresh();
  assert.ok(r.buckets.every((b) => b === NO_NIC));
  assert.equal(r.nominee, NO_NIC);
  assert.equal(r.carrier, false);
  assert.equal(r.nextHop4(parseIpv4('198.18.0.1')), -1);
});

test('addresses are split per family with masks and bindings', () => {
  const { view } = populated();
  const r = new TableReader(view, H_ACK_TX);
  r.refresh();
  assert.equal(r.addr4Count, 3);
  assert.equal(r.addr6Count, 1);
  assert.equal(r.addr4[0], parseIpv4('198.18.0.10'));
  assert.equal(r.addr4Mask[0], 0xffffff00);
  assert.equal(r.addr4Bound[0], 0);
  assert.equal(r.addr4Bound[1], NO_NIC);
  assert.equal(r.addr4Mask[1], 0xffffffff);
  assert.equal(r.addr6Plen[0], 64);
  assert.equal(r.addr6Bound[0], 1);
  assert.deepEqual([...r.addr6.subarray(0, 4)], [0x20010db8, 0, 0, 0x10]);
  assert.equal(r.findAddr4(parseIpv4('198.18.0.10')), 0);
  assert.equal(r.findAddr4(parseIpv4('192.0.2.1')), 2);
  assert.equal(r.findAddr4(parseIpv4('198.18.0.11')), -1);
});

test('fewer addresses in a later generation: the old ones are gone', () => {
  const { view, writer } = populated();
  const r = new TableReader(view, H_ACK_TX);
  r.refresh();
  writer.update((w) => w.setAddresses([{ family: 4, ip: k4('198.18.0.20'), plen: 24, bound: 1 }]));
  r.refresh();
  assert.equal(r.addr4Count, 1);
  assert.equal(r.addr6Count, 0);
  assert.equal(r.findAddr4(parseIpv4('198.18.0.10')), -1);
  assert.equal(r.findAddr4(parseIpv4('198.18.0.20')), 0);
});

test('routes are sorted longest prefix first, then lowest metric; nextHop4 on-link vs via', () => {
  const { view } = populated();
  const r = new TableReader(view, H_ACK_TX);
  r.refresh();
  assert.equal(r.route4Count, 5);
  assert.equal(r.route6Count, 1);
  const masks = [...r.route4Mask.subarray(0, 5)];
  assert.deepEqual(masks, [0xffffff00, 0xffffff00, 0xffff0000, 0xffff0000, 0]);
  assert.equal(r.route4Gw[2], parseIpv4('198.18.0.3'), 'metric 10 before metric 20');
  const nh = (s: string) => r.nextHop4(parseIpv4(s));
  assert.equal(nh('198.18.0.77'), parseIpv4('198.18.0.77'), 'on-link: the destination itself');
  assert.equal(nh('198.19.7.9'), parseIpv4('198.18.0.4'), 'the /24 wins over the /16');
  assert.equal(nh('198.19.8.9'), parseIpv4('198.18.0.3'));
  assert.equal(nh('8.8.8.8'), parseIpv4('198.18.0.1'), 'default route');
  assert.equal(r.route6Plen[0], 64);
  assert.equal(r.route6HasGw[0], 0);
});

test('no matching route: nextHop4 is -1', () => {
  const { view, writer } = populated();
  writer.update((w) => w.setRoutes([{ family: 4, dst: k4('198.18.0.0'), plen: 24, gateway: null, metric: 0 }]));
  const r = new TableReader(view, H_ACK_TX);
  r.refresh();
  assert.equal(r.nextHop4(parseIpv4('198.19.0.1')), -1);
  assert.equal(r.nextHop4(parseIpv4('198.18.0.255')), parseIpv4('198.18.0.255'));
});

test('isSubnetBroadcast4: directed broadcast of a data address subnet, not for /31 or /32', () => {
  const { view } = populated();
  const r = new TableReader(view, H_ACK_TX);
  r.refresh();
  const b = (s: string) => r.isSubnetBroadcast4(parseIpv4(s));
  assert.equal(b('198.18.0.255'), true);
  assert.equal(b('198.18.0.254'), false);
  assert.equal(b('198.18.1.255'), false);
  assert.equal(b('10.9.9.9'), false, '/32');
  assert.equal(b('192.0.2.1'), false, '/31');
  assert.equal(b('255.255.255.255'), false, 'the limited broadcast is handled apart');
});
