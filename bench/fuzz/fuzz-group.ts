/**
 * The group the data-plane targets run against: the two-NIC group of
 * test/fakes/group.ts plus IPv6 data addresses and routes.
 *
 *   NIC 0: fd 10, 02:00:00:00:00:0a   198.18.0.10/24, 2001:db8::10/64 bound to it
 *   NIC 1: fd 11, 02:00:00:00:00:0b   198.18.0.11/24, 2001:db8::11/64 bound to it
 *   routes: 198.18.0.0/24 and 2001:db8::/64 on-link,
 *           198.19.0.0/24 via 198.18.0.1, 2001:db8:1::/64 via 2001:db8::1
 *
 * Every data address stays bound, so a request for a next hop always has a
 * sender and never counts as a drop by itself (which keeps the per-packet
 * accounting of the TX target exact).
 */
import { TablesView, TablesWriter } from '../../src/tables/shared-tables.js';
import { NeighbourTable } from '../../src/tables/neighbours.js';
import { Counters, DROP_REASONS } from '../../src/tables/counters.js';
import { FDS, MACS as NIC_MACS, setNics, splitBuckets, type Group } from '../../test/fakes/group.js';
import { V4, V6 } from './packets.js';

export { FDS, NIC_MACS };

function k4(a: number): Uint8Array {
  return new Uint8Array([a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff]);
}

export interface GroupState {
  /** NIC 1 active (NIC 0 always is). */
  nic1: boolean;
  carrier: boolean;
}

/** Publishes the NIC and carrier state; the addresses and routes never change. */
export function applyState(w: TablesWriter, s: GroupState): void {
  w.update((u) => {
    setNics(u, [true, s.nic1]);
    u.setCarrier(s.carrier);
  });
}

export function fuzzGroup(): Group {
  const view = new TablesView();
  const writer = new TablesWriter(view);
  writer.update((w) => {
    setNics(w);
    w.setBuckets(splitBuckets());
    w.setNominee(0);
    w.setCarrier(true);
    w.setAddresses([
      { family: 4, ip: k4(V4.data0), plen: 24, bound: 0 },
      { family: 4, ip: k4(V4.data1), plen: 24, bound: 1 },
      { family: 6, ip: V6.data0, plen: 64, bound: 0 },
      { family: 6, ip: V6.data1, plen: 64, bound: 1 },
    ]);
    w.setRoutes([
      { family: 4, dst: k4(V4.data0 & 0xffffff00), plen: 24, gateway: null, metric: 0 },
      { family: 4, dst: k4(V4.far & 0xffffff00), plen: 24, gateway: k4(V4.gw), metric: 0 },
      { family: 6, dst: new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), plen: 64, gateway: null, metric: 0 },
      { family: 6, dst: new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), plen: 64, gateway: V6.gw, metric: 0 },
    ]);
  });
  return { view, writer, neigh: new NeighbourTable(), counters: new Counters() };
}

/** Sum of every drop reason. */
export function totalDrops(c: Counters): number {
  let n = 0;
  for (let i = 0; i < DROP_REASONS.length; i++) n += c.drops(i);
  return n;
}

/** Packets counted on the NICs (sent or delivered). */
export function totalNicPkts(c: Counters): number {
  return c.nicPkts(0) + c.nicPkts(1);
}

/** The reason whose count moved between two snapshots, or null. */
export function dropsSnapshot(c: Counters): number[] {
  return DROP_REASONS.map((_, i) => c.drops(i));
}

export function movedReason(before: number[], c: Counters): string | null {
  for (let i = 0; i < DROP_REASONS.length; i++) if (c.drops(i) !== before[i]) return DROP_REASONS[i]!;
  return null;
}
