/**
 * The underlying NICs of one group as the daemon holds them: their slot in
 * the shared tables, their kernel identity (ifindex, MAC, MTU, link) and the
 * packet socket the forwarding workers use on them. A NIC may be absent (not
 * present at start, or deleted); it keeps its slot and is re-adopted when a
 * link of that name appears again.
 */
import type { NativeAddon } from '../io/native.js';
import type { LinkInfo } from '../io/rtnetlink.js';
import { dataSocketFilter } from '../dataplane/bpf.js';

/** Socket buffers for the packet sockets. Benchmark: bench/e2e (8 MB avoids drops under GSO bursts). */
const SOCKBUF_BYTES = 8 * 1024 * 1024;

export interface Nic {
  slot: number;
  name: string;
  standby: boolean;
  ifindex: number;
  mac: Uint8Array | null;
  mtu: number;
  /** Link state from the last netlink event or dump: carrier (IFF_LOWER_UP) and admin up. */
  linkUp: boolean;
  adminUp: boolean;
  fd: number;
  present: boolean;
}

export function macString(mac: Uint8Array | null): string {
  if (!mac) return '';
  return Array.from(mac.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

export class NicSet {
  readonly list: Nic[] = [];

  constructor(private readonly native: NativeAddon) {}

  byName(name: string): Nic | undefined {
    return this.list.find((n) => n.name === name);
  }

  bySlot(slot: number): Nic | undefined {
    return this.list.find((n) => n.slot === slot);
  }

  byIfindex(ifindex: number): Nic | undefined {
    return this.list.find((n) => n.present && n.ifindex === ifindex);
  }

  /** Adds a configured NIC in the first free slot (absent until adopt()). */
  add(name: string, standby: boolean): Nic {
    const used = new Set(this.list.map((n) => n.slot));
    let slot = 0;
    while (used.has(slot)) slot++;
    const nic: Nic = { slot, name, standby, ifindex: 0, mac: null, mtu: 0, linkUp: false, adminUp: false, fd: -1, present: false };
    this.list.push(nic);
    return nic;
  }

  remove(name: string): Nic | undefined {
    const i = this.list.findIndex((n) => n.name === name);
    if (i < 0) return undefined;
    return this.list.splice(i, 1)[0];
  }

  /** Takes a present link: opens its packet socket (when the ifindex changed) and records its identity. */
  adopt(nic: Nic, link: LinkInfo): void {
    if (nic.present && nic.ifindex !== link.ifindex) this.closeSocket(nic);
    nic.ifindex = link.ifindex;
    nic.mac = link.mac ? link.mac.slice(0, 6) : new Uint8Array(6);
    nic.mtu = link.mtu || 1500;
    nic.adminUp = link.up;
    nic.linkUp = linkIsUp(link);
    if (nic.fd < 0) {
      nic.fd = this.native.packetOpen(link.ifindex, {
        vnetHdr: true, rcvbuf: SOCKBUF_BYTES, sndbuf: SOCKBUF_BYTES, ignoreOutgoing: true,
        filter: dataSocketFilter(), nonblock: true,
      });
    }
    nic.present = true;
  }

  /**
   * Takes a packet socket handed over by the previous image for this NIC, when the kernel
   * confirms it is bound to the NIC's current ifindex; adopt() then keeps it. A socket bound
   * elsewhere (the NIC was replaced meanwhile) is closed. Returns whether it was taken.
   */
  inherit(nic: Nic, fd: number, ifindex: number): boolean {
    let bound: number;
    try {
      bound = this.native.packetIfindex(fd);
    } catch {
      return false;
    }
    if (bound !== ifindex || nic.fd >= 0) {
      this.native.close(fd);
      return false;
    }
    nic.fd = fd;
    return true;
  }

  /** The link vanished: the socket is closed by the caller once the workers stopped using it. */
  markAbsent(nic: Nic): number {
    nic.present = false;
    nic.linkUp = false;
    const fd = nic.fd;
    nic.fd = -1;
    return fd;
  }

  closeSocket(nic: Nic): void {
    if (nic.fd >= 0) this.native.close(nic.fd);
    nic.fd = -1;
  }

  closeAll(): void {
    for (const n of this.list) this.closeSocket(n);
  }
}

/** Link state as in.mpathd sees IFF_RUNNING: carrier on an administratively up link. */
export function linkIsUp(link: LinkInfo): boolean {
  return link.up && (link.lowerUp || link.carrier === true);
}
