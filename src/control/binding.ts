/**
 * Data-address binding of one group (the kernel half of IPMP, reference §9.2).
 *
 *   address up        bind to the active NIC with the fewest addresses (earliest in the
 *                     active list on ties); unbound when no NIC is active      (initial bind)
 *   address down      unbind; if the most-loaded active NIC has more than this NIC + 1,
 *                     move the head of its list here                           (rebind)
 *   activate, first   nominate it for multicast/broadcast, bind every UP address to it
 *                     (initial bind), carrier up
 *   activate, later   move the head address of the most-loaded active NIC here, one at a
 *                     time, until within 1 of the maximum (each a rebind); append to the list
 *   deactivate        remove from the active list; if it held the nomination, the head of the
 *                     active list takes it (or none); unbind all its addresses and rebind each
 *                     to the least-loaded active NIC; with none left addresses stay unbound and
 *                     the carrier goes down
 *
 * Each NIC's bound list has the most recently bound address at its head.
 */

export interface BindMove {
  address: string;
  /** NIC id it was bound to, or null. */
  from: number | null;
  /** NIC id it is now bound to, or null (unbound). */
  to: number | null;
  /** True for an initial bind (DAD, then announcements); false for a rebind or unbind. */
  initial: boolean;
}

export interface BindResult {
  moves: BindMove[];
  /** New multicast/broadcast nominee; undefined when unchanged. */
  nominee?: number | null;
  /** New carrier state of the IPMP interface; undefined when unchanged. */
  carrier?: boolean;
}

interface AddrRec {
  up: boolean;
  nic: number | null;
}

export class AddressBinding {
  private readonly addrs = new Map<string, AddrRec>();
  private readonly activeList: number[] = [];
  private readonly bound = new Map<number, string[]>();
  private nomineeId: number | null = null;

  get nominee(): number | null {
    return this.nomineeId;
  }

  get carrier(): boolean {
    return this.activeList.length > 0;
  }

  activeNics(): readonly number[] {
    return this.activeList;
  }

  isActive(nic: number): boolean {
    return this.activeList.includes(nic);
  }

  /** NIC an address is bound to, or null. */
  bindingOf(address: string): number | null {
    return this.addrs.get(address)?.nic ?? null;
  }

  isUp(address: string): boolean {
    return this.addrs.get(address)?.up ?? false;
  }

  addresses(): string[] {
    return [...this.addrs.keys()];
  }

  /** Addresses bound to nic, most recently bound first. */
  boundTo(nic: number): readonly string[] {
    return this.bound.get(nic) ?? [];
  }

  /** Adds an address (down); bring it up with addressUp. */
  addAddress(address: string): BindResult {
    if (!this.addrs.has(address)) this.addrs.set(address, { up: false, nic: null });
    return { moves: [] };
  }

  removeAddress(address: string): BindResult {
    const res = this.addressDown(address);
    this.addrs.delete(address);
    return res;
  }

  addressUp(address: string): BindResult {
    const rec = this.addrs.get(address);
    if (rec === undefined || rec.up) return { moves: [] };
    rec.up = true;
    const to = this.leastLoaded();
    if (to === null) return { moves: [] };
    this.bind(address, to);
    return { moves: [{ address, from: null, to, initial: true }] };
  }

  addressDown(address: string): BindResult {
    const rec = this.addrs.get(address);
    if (rec === undefined || !rec.up) return { moves: [] };
    rec.up = false;
    const nic = rec.nic;
    if (nic === null) return { moves: [] };
    this.unbind(address);
    const moves: BindMove[] = [{ address, from: nic, to: null, initial: false }];
    const max = this.mostLoaded(nic);
    if (max !== null && this.count(max) > this.count(nic) + 1) moves.push(this.moveHead(max, nic));
    return { moves };
  }

  activate(nic: number): BindResult {
    if (this.isActive(nic)) return { moves: [] };
    if (this.activeList.length === 0) return this.activateFirst(nic);
    const moves: BindMove[] = [];
    for (;;) {
      const max = this.mostLoaded(nic);
      if (max === null || this.count(max) - this.count(nic) <= 1) break;
      moves.push(this.moveHead(max, nic));
    }
    this.activeList.push(nic);
    return { moves };
  }

  deactivate(nic: number): BindResult {
    const i = this.activeList.indexOf(nic);
    if (i < 0) return { moves: [] };
    this.activeList.splice(i, 1);
    const res: BindResult = { moves: [] };
    if (this.nomineeId === nic) res.nominee = this.nomineeId = this.activeList[0] ?? null;
    const unbound: string[] = [];
    for (let a = this.boundTo(nic)[0]; a !== undefined; a = this.boundTo(nic)[0]) {
      this.unbind(a);
      unbound.unshift(a);
    }
    for (const address of unbound) {
      const to = this.leastLoaded();
      if (to !== null) this.bind(address, to);
      res.moves.push({ address, from: nic, to, initial: false });
    }
    if (this.activeList.length === 0) res.carrier = false;
    return res;
  }

  private activateFirst(nic: number): BindResult {
    this.activeList.push(nic);
    this.nomineeId = nic;
    const moves: BindMove[] = [];
    for (const [address, rec] of this.addrs) {
      if (!rec.up || rec.nic !== null) continue;
      this.bind(address, nic);
      moves.push({ address, from: null, to: nic, initial: true });
    }
    return { moves, nominee: nic, carrier: true };
  }

  private moveHead(from: number, to: number): BindMove {
    const address = this.boundTo(from)[0];
    this.unbind(address);
    this.bind(address, to);
    return { address, from, to, initial: false };
  }

  private count(nic: number): number {
    return this.bound.get(nic)?.length ?? 0;
  }

  /** Fewest bound addresses; the first in the active list wins ties. */
  private leastLoaded(): number | null {
    let best: number | null = null;
    for (const nic of this.activeList) {
      if (best === null || this.count(nic) < this.count(best)) best = nic;
    }
    return best;
  }

  /** Most bound addresses among active NICs other than except; first in list on ties. */
  private mostLoaded(except: number): number | null {
    let best: number | null = null;
    for (const nic of this.activeList) {
      if (nic !== except && (best === null || this.count(nic) > this.count(best))) best = nic;
    }
    return best;
  }

  private bind(address: string, nic: number): void {
    const rec = this.addrs.get(address)!;
    rec.nic = nic;
    const list = this.bound.get(nic);
    if (list === undefined) this.bound.set(nic, [address]);
    else list.unshift(address);
  }

  private unbind(address: string): void {
    const rec = this.addrs.get(address)!;
    if (rec.nic === null) return;
    const list = this.bound.get(rec.nic)!;
    list.splice(list.indexOf(address), 1);
    rec.nic = null;
  }
}
