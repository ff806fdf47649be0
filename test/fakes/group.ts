/**
 * A two-NIC group in fresh shared tables, for data-plane tests:
 *   NIC 0: fd 10, 02:00:00:00:00:0a, active      data address 198.18.0.10/24 bound to it
 *   NIC 1: fd 11, 02:00:00:00:00:0b, active      data address 198.18.0.11/24 bound to it
 *   routes: 198.18.0.0/24 on-link, 198.19.0.0/24 via 198.18.0.1
 *   buckets: even → NIC 0, odd → NIC 1; nominee NIC 0; carrier up; MTU 1500
 */
import { TablesView, TablesWriter } from '../../src/tables/shared-tables.js';
import { NeighbourTable } from '../../src/tables/neighbours.js';
import { Counters } from '../../src/tables/counters.js';
import { key4, mac } from './frames.js';

export const FD0 = 10;
export const FD1 = 11;
export const MAC0 = mac('02:00:00:00:00:0a');
export const MAC1 = mac('02:00:00:00:00:0b');
export const ADDR0 = '198.18.0.10';
export const ADDR1 = '198.18.0.11';
export const GW = '198.18.0.1';
export const FDS = [FD0, FD1];
export const MACS = [MAC0, MAC1];

export interface Group {
  view: TablesView;
  writer: TablesWriter;
  neigh: NeighbourTable;
  counters: Counters;
}

export function setNics(w: TablesWriter, active: [boolean, boolean] = [true, true]): void {
  w.setNic({ slot: 0, ifindex: 2, fd: FD0, present: true, active: active[0], mtu: 1500, mac: MAC0 });
  w.setNic({ slot: 1, ifindex: 3, fd: FD1, present: true, active: active[1], mtu: 1500, mac: MAC1 });
}

export function splitBuckets(): Uint8Array {
  const b = new Uint8Array(256);
  for (let i = 0; i < 256; i++) b[i] = i & 1;
  return b;
}

export function twoNicGroup(): Group {
  const view = new TablesView();
  const writer = new TablesWriter(view);
  writer.update((w) => {
    setNics(w);
    w.setBuckets(splitBuckets());
    w.setNominee(0);
    w.setCarrier(true);
    w.setAddresses([
      { family: 4, ip: key4(ADDR0), plen: 24, bound: 0 },
      { family: 4, ip: key4(ADDR1), plen: 24, bound: 1 },
    ]);
    w.setRoutes([
      { family: 4, dst: key4('198.18.0.0'), plen: 24, gateway: null, metric: 0 },
      { family: 4, dst: key4('198.19.0.0'), plen: 24, gateway: key4(GW), metric: 0 },
    ]);
  });
  return { view, writer, neigh: new NeighbourTable(), counters: new Counters() };
}

/** Records ip → hw in the neighbour table, as the RX worker would on hearing it. */
export function learn(neigh: NeighbourTable, ip: string, hw: Uint8Array, now: number): void {
  neigh.update(4, key4(ip), 0, hw, 0, now);
}
