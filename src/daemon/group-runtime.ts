/**
 * One IPMP group at run time: its TUN interface, its NICs, the forwarding
 * workers, and the control plane that turns events into table rewrites.
 *
 *   netlink / probes / admin → controller (state machine) → effects →
 *   tables (generation + 1) → the data plane sees them at its next batch
 *
 * This file wires; decisions live in src/control, forwarding in src/dataplane.
 */
import type { NativeAddon } from '../io/native.js';
import { Rtnetlink, type LinkInfo, type RouteInfo } from '../io/rtnetlink.js';
import { IFA_F_DEPRECATED, LIFETIME_FOREVER } from '../io/rtnetlink-codec.js';
import { GroupController, type Effects } from '../control/controller.js';
import { EventKind, type GroupEvent } from '../control/group.js';
import { TablesWriter, AF_TENTATIVE, AF_TEST, MAX_ADDRS, NO_NIC, type AddrEntry, type RouteEntry } from '../tables/shared-tables.js';
import { Announcer } from './announcer.js';
import { Forwarding } from './forwarding.js';
import { HostIsolation, removeStateFile, statePath } from './host-isolation.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isIP } from 'node:net';
import { NicSet, linkIsUp, macString, type Nic } from './nics.js';
import type { DaemonConfig, GroupConfig, InterfaceConfig, IpPrefix } from './config-types.js';
import type { ProbeEvent, Snapshot } from './protocol.js';
import type { ConflictReport } from '../tables/conflicts.js';
import { GroupProbing } from './prober/group-probing.js';
import { STUCK_MS } from './prober/prober.js';
import { parseIpv4 } from '../wire/ipv4.js';
import { parseIpv6 } from '../wire/ipv6.js';
import { ndMulticastMacs } from '../dataplane/rx6.js';
import { LinkDamping } from './link-damping.js';
import type { GroupHandover } from './upgrade.js';

/** A refused live change, with the control-protocol error code. */
export class LiveError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export type Logger = (level: 'err' | 'info' | 'debug', text: string) => void;

const RT_TABLE_LOCAL = 255;
const RTN_UNICAST = 1;
const TUN_MIN_MTU = 1280;
/** How often lent flow buckets are checked for idleness (ms). */
const HANDOVER_MS = 250;

function ipBytes(family: 4 | 6, address: string): Uint8Array {
  if (family === 6) return parseIpv6(address);
  const v = parseIpv4(address);
  return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}

/**
 * False for a route whose next hop is of the other family (RTA_VIA, RFC 5549): the
 * data plane resolves next hops of the packet's own family only, so such a route is
 * left out and its destinations count as no_route.
 */
function gatewayOfFamily(family: 4 | 6, r: RouteInfo): boolean {
  return r.gateway === null || isIP(r.gateway) === family;
}

export class GroupRuntime {
  readonly tables = new TablesWriter();
  readonly nics: NicSet;
  readonly controller: GroupController;
  readonly isolation: HostIsolation;
  readonly announcer: Announcer;
  /** An initial bind of an IPv6 address runs DAD (not for the addresses of a re-executed image). */
  private dadOnInitial = true;
  /**
   * IPv6 addresses a previous image left deprecated on the TUN (a duplicate verdict, kept in the
   * kernel): their initial bind runs DAD even when the addresses are taken over.
   */
  private redad = new Set<string>();
  /** IPv6 data addresses deprecated on the TUN for their DAD window only (not as duplicates). */
  private readonly dadWindow = new Set<string>();
  forwarding: Forwarding | null = null;
  /** Offlined NIC names, kept across daemon restarts (as Solaris keeps IFF_OFFLINE in the kernel). */
  private readonly offlineFile: string;
  /** Event counts for metrics. */
  readonly stats = { rebinds: 0, failovers: 0 };
  tunFd = -1;
  tunIfindex = 0;
  private addresses: IpPrefix[];
  private routeTimer: NodeJS.Timeout | null = null;
  /** Runs while flow buckets are lent: hands them to their homes once idle (control/buckets.ts). */
  private handOverTimer: NodeJS.Timeout | null = null;
  /** The last host-isolation update (they run in order). */
  private isolationSync: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Multicast MACs joined on the nominee's packet socket for IPv6 ND. */
  private ndJoined: { fd: number; ifindex: number; macs: Map<string, Uint8Array> } | null = null;
  /** Receives resolved probes for `ipmpstat -p`. */
  onProbe: ((ev: ProbeEvent) => void) | null = null;
  readonly probing: GroupProbing;
  /** Flap damping of link-only NICs (reference §6). */
  private readonly damping: LinkDamping;

  constructor(
    private cfg: GroupConfig,
    daemon: DaemonConfig,
    private readonly native: NativeAddon,
    private readonly rtnl: Rtnetlink,
    private readonly log: Logger,
    stateDir = '/run/ipmp',
  ) {
    // Our own copy: live changes (NICs, test addresses) edit it, never the caller's configuration.
    this.cfg = cfg = { ...cfg, interfaces: cfg.interfaces.map((i) => ({ ...i })) };
    this.nics = new NicSet(native);
    this.isolation = new HostIsolation(cfg.ifname, stateDir);
    this.offlineFile = statePath(stateDir, cfg.ifname).replace(/\.isolation\.json$/, '.offline.json');
    this.addresses = [...cfg.addresses];
    for (const ic of cfg.interfaces) this.nics.add(ic.name, ic.standby);
    this.controller = new GroupController({
      ifname: cfg.ifname, groupname: cfg.groupname, failback: daemon.failback,
      nics: [], addresses: this.addresses.map((a) => a.address),
    });
    this.announcer = new Announcer({
      nominee: () => {
        const slot = this.controller.binding.nominee;
        const nic = slot === null ? undefined : this.nics.bySlot(slot);
        return nic && nic.fd >= 0 && nic.mac ? { fd: nic.fd, mac: nic.mac } : null;
      },
      bound: (address) => {
        const slot = this.controller.binding.bindingOf(address);
        const nic = slot === null ? undefined : this.nics.bySlot(slot);
        return nic && nic.fd >= 0 && nic.mac ? { fd: nic.fd, mac: nic.mac } : null;
      },
      send: (fd, frame) => this.native.send(fd, frame, 0, frame.length),
      drainConflicts: () => { this.forwarding?.pollConflicts(); },
      onDad: (address, duplicate, mac) => {
        if (duplicate) this.log('err', `Duplicate address ${address} detected on ${cfg.ifname} (node ${mac}); address not announced`);
        else this.log('debug', `${address}: duplicate address detection passed`);
        this.redad.delete(address);
        if (!this.stopped) { this.setPreferred(address, !duplicate); this.publishNics(); }
        this.dadWindow.delete(address);
      },
    });
    this.probing = new GroupProbing({
      group: cfg.groupname, fdtMs: daemon.fdtMs, targets: cfg.targets, interfaces: () => this.cfg.interfaces,
      feed: (ev) => { if (!this.stopped) this.feed(ev); }, model: () => this.controller.model, log,
      onProbe: (ev) => this.onProbe?.(ev), testHooks: process.env.IPMPD_TEST_HOOKS === '1',
    });
    this.damping = new LinkDamping({
      now: () => Number(process.hrtime.bigint()),
      log: (text) => log('err', text),
      probing: (slot) => this.controller.model.members.find((m) => m.id === slot)?.probeEnabled ?? false,
      stable: (slot) => { if (!this.stopped) this.feed({ kind: EventKind.LINK_STABLE, nic: slot }); },
    });
  }

  get name(): string {
    return this.cfg.ifname;
  }

  get groupname(): string {
    return this.cfg.groupname;
  }

  /**
   * Creates (or re-attaches) the TUN, adopts the NICs, starts forwarding. With `inherited`
   * (the previous image's descriptors after an in-place re-execution) the TUN and packet
   * sockets it names are taken over when the kernel confirms what they are, and the
   * TUN's carrier is left as it is until the state machine has decided.
   */
  async start(inherited: GroupHandover | null = null): Promise<void> {
    // Addresses taken over from the previous image are in use already: no DAD for them.
    this.dadOnInitial = !inherited;
    this.announcer.hold();
    const tunFd = inherited ? adoptTunFd(this.native, inherited.tunFd, this.cfg.ifname, this.log) : -1;
    if (tunFd >= 0) {
      this.tunFd = tunFd;
      this.tunIfindex = this.native.ifNameToIndex(this.cfg.ifname);
      this.redad = this.deprecatedOnTun();
      for (const a of this.redad) this.log('info', `${a} is deprecated on ${this.cfg.ifname} (a duplicate, or still under detection, before the upgrade): duplicate address detection runs again`);
    } else {
      const tun = this.native.tunOpen(this.cfg.ifname, { vnetHdr: true, multiQueue: false, persist: true });
      this.tunFd = tun.fd;
      this.tunIfindex = tun.ifindex;
      this.native.tunSetCarrier(this.tunFd, false);
    }
    const links = new Map(this.rtnl.getLinks().map((l) => [l.name, l]));
    for (const nic of this.nics.list) {
      const link = links.get(nic.name);
      if (link) {
        const h = inherited?.nics.find((n) => n.name === nic.name);
        if (h) this.nics.inherit(nic, h.fd, link.ifindex);
        this.adoptLink(nic, link);
      }
      this.feed({ kind: EventKind.NIC_ADDED, config: this.nicConfig(nic) });
    }
    if (inherited?.nd) this.inheritNdMembership(inherited.nd);
    this.restoreOffline();
    this.native.tunSetCarrier(this.tunFd, this.controller.binding.carrier);
    // Taken over from the previous image, the isolation is in place: forwarding comes first.
    if (!inherited) await this.isolation.setDevices(this.nics.list.map((n) => n.name));
    this.syncMtu();
    this.rtnl.setLinkUp(this.tunIfindex, true);
    this.syncAddresses();
    this.refreshRoutes();
    this.publishNics();
    this.forwarding = new Forwarding(this.tables, this.tunFd, this.log);
    this.forwarding.nicName = (slot) => this.nics.bySlot(slot)?.name;
    this.forwarding.onConflict = (r) => this.onConflict(r);
    await this.forwarding.start();
    this.dadOnInitial = true;
    this.announcer.release();
    if (inherited) await this.isolation.setDevices(this.nics.list.map((n) => n.name));
    await this.probing.start(this.nics.list, this.gateways(4), this.gateways(6));
  }

  private nicConfig(nic: Nic) {
    return {
      id: nic.slot, name: nic.name, standby: nic.standby, mac: nic.present ? macString(nic.mac) : null,
      probeEnabled: this.probing.probeEnabledFor(nic.name), ifindex: nic.ifindex, linkUp: nic.present ? nic.linkUp : false,
    };
  }

  private adoptLink(nic: Nic, link: LinkInfo): void {
    if (!link.up) {
      this.rtnl.setLinkUp(link.ifindex, true);
      link = this.rtnl.getLink(link.ifindex) ?? link;
    }
    this.nics.adopt(nic, link);
  }

  /**
   * Feeds one event to the state machine and applies what it decided.
   * `republish`: the caller changed NIC or address state of its own, so the
   * tables are written even when the state machine changed nothing.
   */
  feed(ev: GroupEvent, republish = false): Effects {
    this.observeBuckets();
    const fx = this.controller.handle(ev, Number(process.hrtime.bigint()));
    this.apply(fx, republish);
    return fx;
  }

  apply(fx: Effects, republish = false): void {
    for (const l of fx.logs) {
      this.log(l.level <= 3 ? 'err' : 'info', l.text);
      if (l.text.startsWith('IP interface failure detected') || l.text.startsWith('All IP interfaces in group')) this.stats.failovers++;
    }
    for (const m of fx.moves) if (m.from !== null && m.to !== null) this.stats.rebinds++;
    if (!fx.changed) { if (republish) this.publishNics(); return; }
    const dadOn = (m: { initial: boolean; address: string }): boolean => m.initial && (this.dadOnInitial || this.redad.has(m.address));
    for (const m of fx.moves) {
      if (m.to !== null && dadOn(m)) { this.announcer.expectDad(m.address); this.deprecateForDad(m.address); }
    }
    this.publishNics();
    this.watchLent();
    this.probing.stateChanged();
    if (fx.carrier !== undefined && this.tunFd >= 0) this.native.tunSetCarrier(this.tunFd, fx.carrier);
    for (const m of fx.moves) {
      if (m.to === null) { this.announcer.cancel(m.address); continue; }
      const nic = this.nics.bySlot(m.to);
      if (nic?.mac) this.announcer.announce(m.address, nic.mac, undefined, dadOn(m));
      else this.announcer.cancel(m.address);
      this.log('debug', `${m.address} bound to ${nic?.name ?? '?'}${m.initial ? ' (initial)' : ''}`);
    }
  }

  /**
   * Host isolation for the NICs as they are when this runs; calls run one after the other, so
   * a NIC deleted and re-created in quick succession ends up isolated.
   */
  private syncIsolation(renewed = false): Promise<void> {
    const run = (): Promise<void> => this.isolation.setDevices(this.nics.list.map((n) => n.name), renewed);
    const next = this.isolationSync.then(run, run);
    this.isolationSync = next.catch(() => undefined);
    return next;
  }

  /** Gives the controller the data plane's per-bucket packet counts (which buckets are busy). */
  private observeBuckets(): void {
    const c = this.forwarding?.txCounters;
    if (c) this.controller.observeBuckets(Number(process.hrtime.bigint()), c.bucketPkts);
  }

  /** While buckets are lent, checks them every HANDOVER_MS and hands idle ones to their homes. */
  private watchLent(): void {
    if (this.handOverTimer || this.stopped || this.controller.lentBuckets() === 0) return;
    this.handOverTimer = setInterval(() => {
      this.observeBuckets();
      const fx = this.controller.handOverIdle();
      if (fx.bucketChanges.length > 0) this.log('debug', `${fx.bucketChanges.length} idle flow buckets handed to their home NICs`);
      this.apply(fx);
      if (this.stopped || this.controller.lentBuckets() === 0) this.stopHandOver();
    }, HANDOVER_MS);
    this.handOverTimer.unref();
  }

  private stopHandOver(): void {
    if (this.handOverTimer) clearInterval(this.handOverTimer);
    this.handOverTimer = null;
  }

  /** Writes NICs, buckets, bindings, nominee and carrier into the shared tables as one generation. */
  publishNics(): void {
    const c = this.controller;
    this.tables.update((w) => {
      for (const nic of this.nics.list) {
        w.setNic({
          slot: nic.slot, ifindex: nic.ifindex, fd: nic.fd, present: nic.present,
          active: c.binding.isActive(nic.slot), mtu: nic.mtu, mac: nic.mac ?? new Uint8Array(6),
        });
      }
      w.setBuckets(c.buckets.owner);
      w.setNominee(c.binding.nominee);
      w.setCarrier(c.binding.carrier);
      w.setAddresses([...this.addresses.map((a): AddrEntry => {
        // A tentative (DAD running) or duplicate address is unbound for the data plane.
        const bound = this.announcer.tentative(a.address) ? null : c.binding.bindingOf(a.address);
        const flags = this.announcer.probing(a.address) ? AF_TENTATIVE : 0;
        return { family: a.family, ip: ipBytes(a.family, a.address), plen: a.prefixlen, bound: bound ?? NO_NIC, flags };
      }), ...this.testAddressEntries().slice(0, Math.max(0, MAX_ADDRS - this.addresses.length))]);
    });
    this.syncNdMembership();
  }

  /** Each present NIC's test addresses, held by that NIC: the data plane keeps foreign claims on them out. */
  private testAddressEntries(): AddrEntry[] {
    const out: AddrEntry[] = [];
    for (const ic of this.cfg.interfaces) {
      const nic = this.nics.byName(ic.name);
      if (!nic || !nic.present) continue;
      for (const ta of [ic.testAddress, ic.testAddress6]) {
        if (ta) out.push({ family: ta.family, ip: ipBytes(ta.family, ta.address), plen: ta.prefixlen, bound: nic.slot, flags: AF_TEST });
      }
    }
    return out;
  }

  /**
   * Keeps the nominee's packet socket in all-nodes and the solicited-node
   * groups of the IPv6 data addresses; leaves them on a former nominee whose
   * socket is still open (reference §9.5, §16).
   */
  private syncNdMembership(): void {
    const slot = this.controller.binding.nominee;
    const nic = slot === null ? undefined : this.nics.bySlot(slot);
    const v6 = this.addresses.filter((a) => a.family === 6).map((a) => parseIpv6(a.address));
    const on = nic && nic.present && nic.fd >= 0 && v6.length > 0 ? nic : null;
    const want = new Map(on ? ndMulticastMacs(v6).map((m) => [macString(m), m] as const) : []);
    const cur = this.ndJoined;
    const moved = cur !== null && (on === null || cur.fd !== on.fd || cur.ifindex !== on.ifindex);
    if (cur && moved && this.nics.list.some((n) => n.present && n.fd === cur.fd && n.ifindex === cur.ifindex)) {
      for (const m of cur.macs.values()) this.setMembership(cur.fd, cur.ifindex, m, false);
    }
    if (!on) { this.ndJoined = null; return; }
    const have = moved || !cur ? new Map<string, Uint8Array>() : cur.macs;
    for (const [k, m] of have) if (!want.has(k)) { this.setMembership(on.fd, on.ifindex, m, false); have.delete(k); }
    for (const [k, m] of want) if (!have.has(k) && this.setMembership(on.fd, on.ifindex, m, true)) have.set(k, m);
    this.ndJoined = { fd: on.fd, ifindex: on.ifindex, macs: have };
  }

  private setMembership(fd: number, ifindex: number, mac: Uint8Array, add: boolean): boolean {
    try { this.native.packetMembership(fd, ifindex, mac, add); return true; } catch (e) {
      this.log('debug', `packet membership ${macString(mac)} ${add ? 'add' : 'drop'}: ${(e as Error).message}`);
      return false;
    }
  }

  /** ipmp0's MTU: the smallest of the present NICs' (reference §9.1), floored for IPv6. */
  private syncMtu(): void {
    const mtus = this.nics.list.filter((n) => n.present).map((n) => n.mtu);
    if (mtus.length === 0) return;
    this.rtnl.setMtu(this.tunIfindex, Math.max(TUN_MIN_MTU, Math.min(...mtus)));
  }

  /** The data addresses the TUN holds deprecated (preferred lifetime 0). */
  private deprecatedOnTun(): Set<string> {
    const out = new Set<string>();
    try {
      for (const a of this.rtnl.getAddrs()) {
        if (a.ifindex === this.tunIfindex && (a.flags & IFA_F_DEPRECATED) !== 0 && this.addresses.some((x) => x.address === a.address)) out.add(a.address);
      }
    } catch (e) {
      this.log('err', `${this.cfg.ifname}: cannot read its addresses: ${(e as Error).message}`);
    }
    return out;
  }

  /**
   * A data address found duplicate is deprecated on the TUN (preferred lifetime 0, valid
   * forever): it stays assigned, as Solaris keeps an IFF_DUPLICATE address down, and the mark
   * in the kernel makes an in-place upgrade or a restart check it again rather than take it
   * over as usable. For IPv6 the host also no longer picks it as the source of new
   * connections; the kernel's IPv4 source selection ignores the mark. One that passes DAD
   * while deprecated (re-created over a kept address, or after a restart) gets its lifetimes back.
   */
  private setPreferred(address: string, preferred: boolean): void {
    const a = this.addresses.find((x) => x.address === address);
    if (!a || this.tunIfindex <= 0) return;
    if (preferred && !this.deprecatedOnTun().has(address)) return;
    try {
      this.rtnl.setAddrLifetimes(this.tunIfindex, a.family, a.address, a.prefixlen, preferred ? LIFETIME_FOREVER : 0, LIFETIME_FOREVER,
        { nodad: a.family === 6 });
      const effect = a.family === 6 ? 'not used as a source address' : 'marked duplicate; IPv4 source selection does not skip it';
      const windowOnly = preferred && this.dadWindow.has(address);
      this.log(preferred ? (windowOnly ? 'debug' : 'info') : 'err', preferred
        ? (windowOnly ? `${address} is preferred on ${this.cfg.ifname}` : `${address} is preferred again on ${this.cfg.ifname}`)
        : `${address} deprecated on ${this.cfg.ifname} (preferred lifetime 0): ${effect}`);
    } catch (e) {
      this.log('err', `${address}: cannot ${preferred ? 'restore the lifetimes' : 'deprecate it'} on ${this.cfg.ifname}: ${(e as Error).message}`);
    }
  }

  /**
   * An IPv6 data address is deprecated on the TUN while its DAD runs, so the host does not pick
   * a tentative address as a source (as Linux treats its own tentative addresses); it is
   * preferred once DAD passes. One already deprecated (a duplicate before) stays as it is.
   */
  private deprecateForDad(address: string): void {
    const a = this.addresses.find((x) => x.address === address);
    if (!a || a.family !== 6 || this.tunIfindex <= 0 || this.dadWindow.has(address) || this.deprecatedOnTun().has(address)) return;
    try {
      this.rtnl.setAddrLifetimes(this.tunIfindex, 6, a.address, a.prefixlen, 0, LIFETIME_FOREVER, { nodad: true });
      this.dadWindow.add(address);
      this.log('debug', `${address} deprecated on ${this.cfg.ifname} while duplicate address detection runs`);
    } catch (e) {
      this.log('err', `${address}: cannot deprecate it on ${this.cfg.ifname} for duplicate address detection: ${(e as Error).message}`);
    }
  }

  /** Makes ipmp0's addresses exactly the configured data addresses. */
  private syncAddresses(): void {
    const have = this.rtnl.getAddrs().filter((a) => a.ifindex === this.tunIfindex && !(a.family === 6 && a.address.startsWith('fe80:')));
    const key = (f: number, a: string, p: number) => `${f}/${a}/${p}`;
    const want = new Set(this.addresses.map((a) => key(a.family, a.address, a.prefixlen)));
    for (const a of have) {
      if (!want.has(key(a.family, a.address, a.prefixlen))) {
        this.rtnl.delAddr(this.tunIfindex, a.family, a.address, a.prefixlen, { ignoreMissing: true });
      }
    }
    const haveKeys = new Set(have.map((a) => key(a.family, a.address, a.prefixlen)));
    for (const a of this.addresses) {
      if (!haveKeys.has(key(a.family, a.address, a.prefixlen))) {
        this.rtnl.addAddr(this.tunIfindex, a.family, a.address, a.prefixlen, { replace: true, nodad: a.family === 6 });
      }
    }
  }

  /** Re-reads the kernel's routes through ipmp0 (on-link and via gateways) into the tables. */
  refreshRoutes(): void {
    const routes: RouteEntry[] = [];
    const gateways: Record<4 | 6, string[]> = { 4: [], 6: [] };
    for (const fam of [4, 6] as const) {
      for (const r of this.rtnl.getRoutes(fam)) {
        if (!this.isOurRoute(r) || !gatewayOfFamily(fam, r)) continue;
        routes.push({
          family: fam, dst: ipBytes(fam, r.dst), plen: r.dstLen, metric: r.priority,
          gateway: r.gateway ? ipBytes(fam, r.gateway) : null,
        });
        if (r.gateway) gateways[fam].push(r.gateway);
      }
    }
    this.tables.update((w) => w.setRoutes(routes));
    this.probing.routesChanged(gateways[4], gateways[6]);
  }

  /** Next hops of the routes through ipmp0 (router probe targets). */
  private gateways(family: 4 | 6): string[] {
    return this.rtnl.getRoutes(family).filter((r) => this.isOurRoute(r) && r.gateway && gatewayOfFamily(family, r))
      .map((r) => r.gateway as string);
  }

  private isOurRoute(r: RouteInfo): boolean {
    return r.oif === this.tunIfindex && r.table !== RT_TABLE_LOCAL && r.type === RTN_UNICAST;
  }

  // ---- netlink events ----

  onLink(link: LinkInfo, deleted: boolean): void {
    if (link.ifindex === this.tunIfindex) return;
    const nic = this.nics.byName(link.name) ?? (deleted ? this.nics.byIfindex(link.ifindex) : undefined);
    if (!nic) return;
    if (deleted) {
      if (!nic.present || nic.ifindex !== link.ifindex) return;
      const fd = this.nics.markAbsent(nic);
      this.damping.forget(nic.slot);
      this.feed({ kind: EventKind.NIC_VANISHED, nic: nic.slot }, true);
      this.closeWhenUnused(fd);
      this.probing.nicsChanged(this.nics.list);
      return;
    }
    if (!nic.present || nic.ifindex !== link.ifindex) {
      this.adoptLink(nic, link);
      this.syncIsolation(true).catch((e: Error) => this.log('err', e.message));
      this.syncMtu();
      this.feed({ kind: EventKind.NIC_APPEARED, nic: nic.slot, mac: macString(nic.mac), ifindex: nic.ifindex, linkUp: nic.linkUp });
      this.probing.nicsChanged(this.nics.list);
      return;
    }
    const up = linkIsUp(link);
    if (link.mac && macString(link.mac) !== macString(nic.mac)) {
      nic.mac = link.mac.slice(0, 6);
      this.feed({ kind: EventKind.MAC_CHANGED, nic: nic.slot, mac: macString(nic.mac) });
      this.probing.nicsChanged(this.nics.list);
    }
    if (link.mtu && link.mtu !== nic.mtu) { nic.mtu = link.mtu; this.syncMtu(); this.publishNics(); }
    if (up === nic.linkUp) return;
    nic.linkUp = up;
    this.probing.linkChanged(nic.slot, up);
    if (!up) this.damping.linkDown(nic.slot, nic.name);
    const repairAllowed = up && this.damping.linkUp(nic.slot, nic.name);
    this.feed(up ? { kind: EventKind.LINK_UP, nic: nic.slot, linkUpRepairAllowed: repairAllowed } : { kind: EventKind.LINK_DOWN, nic: nic.slot });
  }

  onRoute(route: RouteInfo): void {
    if (route.oif !== this.tunIfindex) return;
    if (this.routeTimer) return;
    this.routeTimer = setTimeout(() => { this.routeTimer = null; if (!this.stopped) this.refreshRoutes(); }, 5);
  }

  /** Closes a vanished NIC's socket once both workers have moved past the generation that used it. */
  private closeWhenUnused(fd: number): void {
    if (fd < 0) return;
    const gen = this.tables.view.generation();
    const h = this.tables.view.header;
    const poll = (tries: number) => {
      if (tries <= 0 || (Atomics.load(h, 8) >= gen && Atomics.load(h, 9) >= gen)) { this.native.close(fd); return; }
      setTimeout(() => poll(tries - 1), 20).unref();
    };
    poll(100);
  }

  /**
   * A conflict the RX path reported: claims on data addresses and DAD probes feed duplicate
   * address detection, unless they come from one of this host's own interfaces (RFC 5227
   * §2.1.1: "any of the host's interfaces"), e.g. a NIC outside the group whose kernel answers
   * ARP for the host's addresses.
   */
  private onConflict(r: ConflictReport): void {
    if ((r.kind === 'data' || r.kind === 'dad') && this.isHostMac(r.mac)) return;
    if (r.kind === 'data') this.announcer.conflict(r.address, r.mac);
    else if (r.kind === 'dad') this.announcer.conflict(r.address, r.mac, r.nonce ?? null);
  }

  /** True when `mac` (aa:bb:…) is the address of one of this host's interfaces. */
  private isHostMac(mac: string): boolean {
    try {
      return this.rtnl.getLinks().some((l) => l.mac !== null && macString(l.mac) === mac);
    } catch {
      return false;
    }
  }

  snapshot(): Snapshot {
    const ifs = this.cfg.interfaces;
    const s = this.controller.snapshot({
      v4: ifs.some((i) => i.testAddress?.family === 4),
      v6: ifs.some((i) => i.testAddress6?.family === 6 || i.linkLocalTestAddress === true),
    });
    const targets = this.nics.list.flatMap((n) => this.probing.targetRows(n));
    const fdtMs = this.probing.fdtMs;
    // An address that failed DAD is down, as Solaris shows a duplicate address.
    const addresses = s.addresses.map((a) => {
      const node = this.announcer.duplicateOf(a.address);
      return node === null ? a : { ...a, up: false, inbound: '', outbound: [], reason: 'duplicate' as const, node };
    });
    const forwarding = this.forwarding?.status();
    const probing = this.probing.workerStatus();
    return {
      ...s, groups: s.groups.map((g) => ({ ...g, fdtMs, ...(forwarding ? { forwarding } : {}), ...(probing ? { probing } : {}) })),
      addresses, targets,
    };
  }

  /**
   * Test hooks `memory`, `memory-gc`: the heaps of this group's forwarding and probe workers
   * (IPMPD_TEST_HOOKS=1); `gc` collects each one's garbage first.
   */
  async memoryReport(gc = false): Promise<object> {
    const probe = (await this.probing.stats(gc)) as { heap?: unknown; error?: string; enabled?: boolean };
    return {
      group: this.name, forwarding: (await this.forwarding?.heapReports(gc)) ?? [],
      probe: { starts: this.probing.workerStarts, heap: probe.heap ?? null, ...(probe.error ? { error: probe.error } : {}) },
    };
  }

  /** Runs a test hook (IPMPD_TEST_HOOKS=1); false when unknown or nothing runs it. */
  testHook(hook: string): boolean {
    if (hook.startsWith('forwarding-')) return this.forwarding?.testHook(hook) ?? false;
    if (hook === 'probe-worker-pause') return this.probing.hook({ hook: 'stall', ms: 1_500 });
    if (hook === 'probe-worker-stall') return this.probing.hook({ hook: 'stall', ms: 2 * STUCK_MS });
    if (hook === 'probe-worker-crash') return this.probing.hook({ hook: 'crash' });
    if (hook === 'probe-worker-crash-loop' || hook === 'probe-worker-crash-loop-end') {
      const ok = this.probing.crashLoop(hook === 'probe-worker-crash-loop');
      if (ok) this.log('info', `test hook: ${hook}`);
      return ok;
    }
    return false;
  }

  /** if_mpadm -d / -r. */
  adminOffline(name: string, offline: boolean): { ok: true } | { ok: false; code: string; error: string } {
    const nic = this.nics.byName(name);
    if (!nic) return { ok: false, code: 'EUNKIF', error: 'not a physical interface or not in an IPMP group' };
    const now = Number(process.hrtime.bigint());
    const fx = offline ? this.controller.offline(nic.slot, now) : this.controller.undoOffline(nic.slot, now);
    this.apply(fx);
    const r = fx.result ?? { ok: true as const };
    if (r.ok) this.saveOffline();
    return r;
  }

  private offlineNames(): string[] {
    const names = new Set(this.controller.snapshot().interfaces.filter((i) => i.state === 'offline').map((i) => i.name));
    return this.nics.list.map((n) => n.name).filter((n) => names.has(n));
  }

  private saveOffline(): void {
    try {
      mkdirSync(dirname(this.offlineFile), { recursive: true, mode: 0o755 });
      const names = this.offlineNames();
      if (names.length === 0) removeStateFile(this.offlineFile);
      else writeFileSync(this.offlineFile, JSON.stringify(names), { mode: 0o644 });
    } catch (e) {
      this.log('err', `cannot record offline interfaces in ${this.offlineFile}: ${(e as Error).message}`);
    }
  }

  /** Re-applies offline state recorded by an earlier instance. */
  private restoreOffline(): void {
    let names: unknown;
    try {
      names = JSON.parse(readFileSync(this.offlineFile, 'utf8'));
    } catch {
      return;
    }
    if (!Array.isArray(names)) return;
    for (const n of names) {
      const nic = typeof n === 'string' ? this.nics.byName(n) : undefined;
      if (!nic) continue;
      const fx = this.controller.offline(nic.slot, Number(process.hrtime.bigint()));
      this.apply(fx);
      if (fx.result && !fx.result.ok) this.log('err', `${n}: cannot restore offline state: ${fx.result.error}`);
    }
  }

  // ---- live changes (ipmp verbs, SIGHUP) ----

  /** Adds an underlying NIC to the running group, with the test addresses of `ic` if given. */
  async addNic(name: string | InterfaceConfig, standby = false): Promise<void> {
    const ic: InterfaceConfig = typeof name === 'string' ? { name, standby, testAddress: null } : { ...name };
    if (this.nics.byName(ic.name)) throw new LiveError('EALREADY', `${ic.name} is already in group ${this.cfg.groupname}`);
    const nic = this.nics.add(ic.name, ic.standby);
    this.cfg.interfaces = [...this.cfg.interfaces.filter((i) => i.name !== ic.name), ic];
    const link = this.rtnl.getLink(ic.name);
    if (link) this.adoptLink(nic, link);
    await this.syncIsolation();
    this.syncMtu();
    this.feed({ kind: EventKind.NIC_ADDED, config: this.nicConfig(nic) }, true);
    await this.syncProbing();
  }

  /**
   * Applies a NIC's new test addresses (SIGHUP): probing starts, moves or stops on that NIC
   * alone; its data traffic and the other NICs are untouched.
   */
  async setTestAddresses(ic: InterfaceConfig): Promise<void> {
    const nic = this.nics.byName(ic.name);
    if (!nic) throw new LiveError('EUNKIF', `${ic.name} is not in group ${this.cfg.groupname}`);
    this.cfg.interfaces = this.cfg.interfaces.map((i) => (i.name === ic.name ? { ...ic, standby: nic.standby } : i));
    this.feed({ kind: EventKind.PROBE_CONFIG_CHANGED, nic: nic.slot, probeEnabled: this.probing.probeEnabledFor(ic.name) }, true);
    await this.syncProbing();
  }

  /** Tells the probe worker about the NICs and their test addresses; starts it for the first one. */
  private async syncProbing(): Promise<void> {
    if (this.probing.running) this.probing.nicsChanged(this.nics.list);
    else if (this.probing.enabled && !this.stopped) await this.probing.start(this.nics.list, this.gateways(4), this.gateways(6));
  }

  /** Removes an underlying NIC; its flows and addresses move to the others. */
  async removeNic(name: string): Promise<void> {
    const nic = this.nics.byName(name);
    if (!nic) throw new LiveError('EUNKIF', `${name} is not in group ${this.cfg.groupname}`);
    // Absent before the tables are written, so its slot is published without a socket.
    const fd = this.nics.markAbsent(nic);
    this.damping.forget(nic.slot);
    this.feed({ kind: EventKind.NIC_REMOVED, nic: nic.slot }, true);
    this.nics.remove(name);
    this.cfg.interfaces = this.cfg.interfaces.filter((i) => i.name !== name);
    this.closeWhenUnused(fd);
    await this.syncIsolation();
    this.syncMtu();
    this.probing.nicsChanged(this.nics.list);
  }

  setStandby(name: string, standby: boolean): void {
    const nic = this.nics.byName(name);
    if (!nic) throw new LiveError('EUNKIF', `${name} is not in group ${this.cfg.groupname}`);
    nic.standby = standby;
    this.feed({ kind: EventKind.STANDBY_CHANGED, nic: nic.slot, standby });
  }

  setFailback(failback: boolean): void {
    this.feed({ kind: EventKind.FAILBACK_CHANGED, failback });
  }

  hasAddress(a: IpPrefix): boolean {
    return this.addresses.some((x) => x.family === a.family && x.address === a.address);
  }

  /** Adds a data address to ipmp0 and binds it. */
  addAddress(a: IpPrefix): void {
    if (this.hasAddress(a)) throw new LiveError('EALREADY', `${a.address} is already a data address of ${this.cfg.ifname}`);
    this.rtnl.addAddr(this.tunIfindex, a.family, a.address, a.prefixlen, { replace: true, nodad: a.family === 6 });
    this.addresses.push(a);
    this.apply(this.controller.addAddress(`${a.address}/${a.prefixlen}`), true);
  }

  removeAddress(a: IpPrefix): void {
    const i = this.addresses.findIndex((x) => x.family === a.family && x.address === a.address);
    if (i < 0) throw new LiveError('EUNKADDR', `unknown IPMP data address ${a.address}`);
    const [old] = this.addresses.splice(i, 1);
    this.announcer.forget(old.address);
    this.redad.delete(old.address);
    this.dadWindow.delete(old.address);
    this.apply(this.controller.removeAddress(old.address), true);
    this.rtnl.delAddr(this.tunIfindex, old.family, old.address, old.prefixlen, { ignoreMissing: true });
  }

  /** Clean stop: workers, sockets, the TUN (no longer persistent), host isolation. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.damping.stop();
    this.stopHandOver();
    if (this.routeTimer) clearTimeout(this.routeTimer);
    await this.probing.stop();
    this.announcer.stop();
    await this.forwarding?.stop();
    this.nics.closeAll();
    if (this.tunFd >= 0) {
      try { this.native.tunSetPersist(this.tunFd, false); } catch (e) { this.log('err', (e as Error).message); }
      this.native.close(this.tunFd);
      this.tunFd = -1;
    }
    await this.isolation.restore();
  }

  /** The group as it runs now: the configuration with the live changes (NICs, standby, addresses). */
  runningConfig(): GroupConfig {
    const interfaces: InterfaceConfig[] = this.nics.list.map((n) => {
      const c = this.cfg.interfaces.find((i) => i.name === n.name);
      return c ? { ...c, standby: n.standby } : { name: n.name, standby: n.standby, testAddress: null };
    });
    return { ...this.cfg, interfaces, addresses: [...this.addresses] };
  }

  /**
   * Before an in-place re-execution: stops the probe worker, the announcements and the
   * forwarding workers, and returns the descriptors for the next image. They stay open, so
   * frames keep queueing in the kernel meanwhile; resume() undoes this if execve fails.
   */
  async suspend(): Promise<GroupHandover> {
    if (this.routeTimer) { clearTimeout(this.routeTimer); this.routeTimer = null; }
    this.stopHandOver();
    await this.probing.stop();
    this.announcer.stop();
    await this.forwarding?.stop();
    this.forwarding = null;
    const nd = this.ndJoined;
    return {
      tun: this.cfg.ifname, tunFd: this.tunFd,
      nics: this.nics.list.filter((n) => n.present && n.fd >= 0).map((n) => ({ name: n.name, ifindex: n.ifindex, fd: n.fd })),
      nd: nd ? { fd: nd.fd, ifindex: nd.ifindex, macs: [...nd.macs.keys()] } : null,
    };
  }

  /** After a failed re-execution: forwarding and probing run again on the same descriptors. */
  async resume(): Promise<void> {
    this.tables.clearStop();
    this.forwarding = new Forwarding(this.tables, this.tunFd, this.log);
    this.forwarding.nicName = (slot) => this.nics.bySlot(slot)?.name;
    this.forwarding.onConflict = (r) => this.onConflict(r);
    await this.forwarding.start();
    await this.probing.start(this.nics.list, this.gateways(4), this.gateways(6));
    this.publishNics();
    this.watchLent();
  }

  /** The previous image's ND memberships on a socket this image adopted (so none is joined twice). */
  private inheritNdMembership(nd: NonNullable<GroupHandover['nd']>): void {
    if (!this.nics.list.some((n) => n.present && n.fd === nd.fd && n.ifindex === nd.ifindex)) return;
    const macs = new Map<string, Uint8Array>();
    for (const m of nd.macs) {
      const bytes = m.split(':').map((x) => parseInt(x, 16));
      if (bytes.length === 6 && bytes.every((b) => b >= 0 && b <= 255)) macs.set(m, Uint8Array.from(bytes));
    }
    this.ndJoined = { fd: nd.fd, ifindex: nd.ifindex, macs };
  }
}

/** The inherited TUN descriptor when the kernel confirms it is attached to `name`, else -1. */
function adoptTunFd(native: NativeAddon, fd: number, name: string, log: Logger): number {
  try {
    const info = native.tunInfo(fd);
    if (info.name === name) return fd;
    log('err', `${name}: the inherited descriptor ${fd} is attached to ${info.name}; opening ${name} afresh`);
  } catch (e) {
    log('err', `${name}: the inherited descriptor ${fd} is not a TUN (${(e as Error).message}); opening ${name} afresh`);
  }
  return -1;
}
