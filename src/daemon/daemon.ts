/**
 * The daemon: its groups, the netlink listener, the control socket, and the
 * request handlers. Wiring only; the state machines live in src/control.
 */
import { setTestAddress } from './set-test-address.js';
import { loadNative, type NativeAddon } from '../io/native.js';
import { Rtnetlink, RtnetlinkEvents } from '../io/rtnetlink.js';
import { startControlServer, type ControlConnection, type ControlServer } from './control-server.js';
import { GroupRuntime, LiveError, type Logger } from './group-runtime.js';
import { parsePrefix } from './config-addr.js';
import { diffConfig } from './config-diff.js';
import { HostIsolation, stateFiles } from './host-isolation.js';
import { rmSync, statSync } from 'node:fs';
import type { ForwardingDump } from './forwarding.js';
import type { DaemonConfig } from './config-types.js';
import type { ProbeEvent, Request, Snapshot } from './protocol.js';
import type { GroupHandover, Handover, HandoverReason } from './upgrade.js';
import { heapReport } from '../util/heap-report.js';
import { describeEdit, persistEdit, type ConfigEdit, type ConfigFile } from './config-persist.js';
import type { GroupConfig, InterfaceConfig } from './config-types.js';
import type { LiveResult } from './protocol.js';

export class RequestError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export interface DaemonOptions {
  config: DaemonConfig;
  socketPath: string;
  log: Logger;
  stateDir?: string;
  /** Descriptors of the previous image after an in-place re-execution. */
  handover?: Handover | null;
  /** The file `config` was loaded from, with its text then; `ipmp VERB --persist` rewrites it. */
  configFile?: ConfigFile | null;
}

export class Daemon {
  readonly native: NativeAddon;
  readonly rtnl = new Rtnetlink();
  readonly groups: GroupRuntime[] = [];
  private events: RtnetlinkEvents | null = null;
  private server: ControlServer | null = null;
  private readonly subscribers = new Set<ControlConnection>();
  private config: DaemonConfig;
  private readonly configFile: ConfigFile | null;

  constructor(private readonly opts: DaemonOptions) {
    this.native = loadNative();
    // After an upgrade, a SIGHUP applies what changed in the file since the previous image read it.
    this.config = opts.handover?.base ?? opts.config;
    const f = opts.configFile ?? null;
    // The file is the reload base only when it still says what the previous image loaded.
    const stale = f !== null && opts.handover?.base !== undefined && diffConfig(opts.handover.base, opts.config).length > 0;
    this.configFile = f && { path: f.path, text: stale ? null : f.text };
  }

  /**
   * Starts every group. A TUN left persistent by a crashed instance is re-attached with its
   * addresses and routes, and the host isolation that instance recorded is taken over, so
   * the host's connections through it survive. After an in-place re-execution the previous
   * image's descriptors are adopted instead of opened.
   */
  async start(): Promise<void> {
    const log = this.opts.log;
    const handover = this.opts.handover ?? null;
    this.rtnl.open();
    // Listen before the first dump so no link change between dump and listen is missed.
    this.events = new RtnetlinkEvents({
      onLink: (link, deleted) => this.each((g) => g.onLink(link, deleted)),
      onRoute: (route) => this.each((g) => g.onRoute(route)),
      onOverrun: () => this.resync(),
      onError: (e) => log('debug', `netlink: ${e.message}`),
    }).open();
    // After an upgrade the groups start as they ran (live changes included); the file stays the reload base.
    const running = handover?.config ?? this.config;
    for (const g of running.groups) {
      const rt = new GroupRuntime(g, running, this.native, this.rtnl, log, this.opts.stateDir);
      rt.onProbe = (ev) => this.publishProbe(ev);
      this.groups.push(rt);
      const inherited = handover?.groups.find((h) => h.tun === g.ifname) ?? null;
      await this.takeOverState(rt, inherited !== null);
      await rt.start(inherited);
    }
    if (handover) this.closeUnadopted(handover);
    this.events.start();
    this.events.drain();
    this.server = await this.startServer(handover?.control ?? -1);
  }

  /** Takes over the host isolation an earlier instance recorded for this group's TUN. */
  private async takeOverState(rt: GroupRuntime, inherited: boolean): Promise<void> {
    const log = this.opts.log;
    const reattach = !inherited && this.native.ifNameToIndex(rt.name) > 0;
    let found = false;
    // Emptied by an instance that ran as an unprivileged user (it cannot remove them).
    for (const f of stateFiles(rt.isolation.stateDir, rt.name)) {
      try { if (statSync(f).size === 0) rmSync(f); } catch { /* absent, or not ours to remove */ }
    }
    try {
      found = rt.isolation.adopt();
    } catch (e) {
      log('err', `${rt.name}: unreadable state of a previous instance (${(e as Error).message.split('\n')[0]}); restoring what it names`);
      found = await HostIsolation.recoverStale(rt.name, this.opts.stateDir);
    }
    if (inherited) log('info', `${rt.name}: taken over from the previous image`);
    else if (found) log('info', `recovered state left by a previous instance on ${rt.name}`);
    if (reattach) log('info', `${rt.name}: re-attaching the persistent interface with its addresses and routes`);
  }

  /** Closes handed-over packet and TUN descriptors no group took (e.g. a group removed from the configuration). */
  private closeUnadopted(h: Handover): void {
    const used = new Set<number>();
    for (const g of this.groups) {
      used.add(g.tunFd);
      for (const n of g.nics.list) used.add(n.fd);
    }
    for (const g of h.groups) {
      for (const fd of [g.tunFd, ...g.nics.map((n) => n.fd)]) {
        if (used.has(fd)) continue;
        let ours = false;
        try { this.native.tunInfo(fd); ours = true; } catch { /* not a TUN */ }
        try { this.native.packetIfindex(fd); ours = true; } catch { /* not a packet socket */ }
        if (ours) this.native.close(fd);
      }
    }
  }

  private async startServer(inheritedFd: number): Promise<ControlServer> {
    const log = this.opts.log;
    const opts = {
      path: this.opts.socketPath,
      handler: (req: Request) => this.handle(req),
      onSubscribe: (conn: ControlConnection) => { this.subscribers.add(conn); return () => { this.subscribers.delete(conn); }; },
      peerCred: (fd: number) => this.native.peerCred(fd),
      log: { info: (m: string) => log('info', m), warn: (m: string) => log('err', m), debug: (m: string) => log('debug', m) },
    };
    if (inheritedFd >= 0) {
      try {
        return await startControlServer({ ...opts, inheritedFd });
      } catch (e) {
        log('err', `control socket: cannot take over descriptor ${inheritedFd} (${(e as Error).message}); creating ${this.opts.socketPath} afresh`);
      }
    }
    return startControlServer(opts);
  }

  /**
   * Prepares an in-place re-execution: netlink listening and the control connections end,
   * every group stops its workers and probes, and the descriptors to hand over are
   * returned. The control socket keeps listening, so clients queue for the next image.
   */
  async suspend(reason: HandoverReason): Promise<Handover> {
    for (const c of this.subscribers) c.close();
    this.subscribers.clear();
    this.events?.close();
    this.events = null;
    const groups: GroupHandover[] = [];
    for (const g of this.groups) groups.push(await g.suspend());
    this.server?.dropConnections();
    const config: DaemonConfig = { ...this.config, groups: this.groups.map((g) => g.runningConfig()) };
    return { v: 1, reason, control: this.server?.listeningFd() ?? -1, groups, config, base: this.config };
  }

  /** After a failed re-execution: everything suspend() stopped runs again. */
  async resume(): Promise<void> {
    const log = this.opts.log;
    this.events = new RtnetlinkEvents({
      onLink: (link, deleted) => this.each((g) => g.onLink(link, deleted)),
      onRoute: (route) => this.each((g) => g.onRoute(route)),
      onOverrun: () => this.resync(),
      onError: (e) => log('debug', `netlink: ${e.message}`),
    }).open();
    for (const g of this.groups) await g.resume();
    this.events.start();
    this.resync();
  }

  private each(fn: (g: GroupRuntime) => void): void {
    for (const g of this.groups) {
      try {
        fn(g);
      } catch (e) {
        this.opts.log('err', `${g.name}: ${(e as Error).message}`);
      }
    }
  }

  /** After lost netlink events: re-read links and routes. */
  private resync(): void {
    const links = this.rtnl.getLinks();
    this.each((g) => {
      for (const l of links) g.onLink(l, false);
      g.refreshRoutes();
    });
  }

  publishProbe(ev: ProbeEvent): void {
    for (const c of this.subscribers) if (!c.sendProbe(ev)) this.subscribers.delete(c);
  }

  snapshot(): Snapshot {
    const out: Snapshot = { generation: 0, groups: [], interfaces: [], addresses: [], targets: [] };
    for (const g of this.groups) {
      const s = g.snapshot();
      out.generation += s.generation;
      out.groups.push(...s.groups);
      out.interfaces.push(...s.interfaces);
      out.addresses.push(...s.addresses);
      out.targets.push(...s.targets);
    }
    return out;
  }

  /** What SIGUSR1 logs: the snapshot plus each group's forwarding counters. */
  dump(): Snapshot & { forwarding: Array<{ group: string } & ForwardingDump> } {
    const forwarding = this.groups.flatMap((g) => (g.forwarding ? [{ group: g.name, ...g.forwarding.dump() }] : []));
    return { ...this.snapshot(), forwarding };
  }

  private groupOfNic(ifname: string): GroupRuntime {
    const g = this.groups.find((x) => x.nics.byName(ifname));
    if (!g) throw new RequestError('EUNKIF', 'not a physical interface or not in an IPMP group');
    return g;
  }

  async handle(req: Request): Promise<unknown> {
    switch (req.op) {
      case 'ping':
        return { pong: true };
      case 'snapshot':
        return this.snapshot();
      case 'offline':
      case 'undo-offline': {
        const g = this.groupOfNic(req.ifname);
        const r = g.adminOffline(req.ifname, req.op === 'offline');
        if (!r.ok) throw new RequestError(r.code, r.error);
        return { ok: true };
      }
      case 'add-ipmp': {
        const g = this.groupNamed(req.group);
        for (const n of req.interfaces) {
          const other = this.groups.find((x) => x !== g && x.nics.byName(n));
          if (other) throw new RequestError('EINVAL', `${n} is already in group ${other.name}`);
        }
        for (const n of req.interfaces) await this.live(() => g.addNic(n));
        return this.persisted(req.persist, () => ({
          op: 'add-ipmp', group: g.name, interfaces: req.interfaces.map((n) => runningNic(g.runningConfig(), n)),
        }));
      }
      case 'remove-ipmp': {
        const g = this.groupNamed(req.group);
        for (const n of req.interfaces) await this.live(() => g.removeNic(n));
        return this.persisted(req.persist, () => ({ op: 'remove-ipmp', group: g.name, interfaces: req.interfaces }));
      }
      case 'create-addr':
      case 'delete-addr': {
        const g = this.groupNamed(req.group);
        const p = parsePrefix(req.address);
        if (!p.ok) throw new RequestError('EINVAL', `bad address ${req.address}: expected ${p.expected}`);
        await this.live(() => (req.op === 'create-addr' ? g.addAddress(p.value) : g.removeAddress(p.value)));
        return this.persisted(req.persist, () => ({ op: req.op, group: g.name, address: p.value }));
      }
      case 'set-ifprop': {
        const g = this.groupOfNic(req.ifname);
        if (req.prop === 'standby') {
          if (req.value !== 'on' && req.value !== 'off') throw new RequestError('EINVAL', `standby: expected on or off, got "${req.value}"`);
          await this.live(() => g.setStandby(req.ifname, req.value === 'on'));
          return this.persisted(req.persist, () => ({
            op: 'set-ifprop', group: g.name, prop: 'standby', interface: runningNic(g.runningConfig(), req.ifname),
          }));
        }
        const run = g.runningConfig();
        const cur = run.interfaces.find((i) => i.name === req.ifname);
        if (!cur) throw new RequestError('EUNKIF', 'not a physical interface or not in an IPMP group');
        const tests = run.interfaces.filter((i) => i.name !== req.ifname).flatMap((i) => [i.testAddress?.address, i.testAddress6?.address])
          .filter((x): x is string => typeof x === 'string');
        const ch = setTestAddress(cur, req.value, { data: run.addresses.map((x) => x.address), tests });
        if (!ch.ok) throw new RequestError('EINVAL', ch.error);
        await this.live(() => g.setTestAddresses(ch.config));
        return this.persisted(req.persist, () => ({
          op: 'set-ifprop', group: g.name, prop: 'test-address', interface: runningNic(g.runningConfig(), req.ifname),
        }));
      }
      case 'test-hook': {
        if (process.env.IPMPD_TEST_HOOKS !== '1') throw new RequestError('EINVAL', 'test hooks are off (start ipmpd with IPMPD_TEST_HOOKS=1)');
        const g = this.groupNamed(req.group);
        // The heap of every thread (main, forwarding and probe workers), to tell which one grows.
        if (req.hook === 'memory' || req.hook === 'memory-gc') {
          const gc = req.hook === 'memory-gc';
          return { pid: process.pid, main: { heap: heapReport(gc), ...process.memoryUsage() }, ...(await g.memoryReport(gc)) };
        }
        if (!g.testHook(req.hook)) throw new RequestError('EINVAL', `test hook ${req.hook}: unknown, or group ${req.group} runs nothing it applies to`);
        return { ok: true };
      }
      default:
        throw new RequestError('EBADREQ', `bad request: unknown op`);
    }
  }

  /**
   * After a live change: with `persist`, rewrites the configuration file to hold it and makes
   * the result the reload base, so a SIGHUP finds nothing to change. The live change stays
   * whatever happens here; a file left alone is reported in the reply and the log.
   */
  private persisted(persist: boolean | undefined, edit: () => ConfigEdit): LiveResult {
    if (persist !== true) return { ok: true };
    const e = edit();
    const what = describeEdit(e);
    const f = this.configFile;
    const r = persistEdit(f, this.config, e);
    if (!r.ok) {
      this.opts.log('err', `configuration: ${what} applied, but not persisted: ${r.reason}`);
      return { ok: true, persisted: false, warning: r.reason };
    }
    this.config = r.config;
    f!.text = r.text;
    this.opts.log('info', r.changed ? `configuration ${f!.path}: persisted ${what}` : `configuration ${f!.path}: nothing to change for ${what}`);
    return { ok: true, persisted: true, file: f!.path };
  }

  private groupNamed(name: string): GroupRuntime {
    const g = this.groups.find((x) => x.name === name || x.groupname === name);
    if (!g) throw new RequestError('EUNKGROUP', `unknown IPMP group ${name}`);
    return g;
  }

  private async live(fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (e instanceof LiveError) throw new RequestError(e.code, e.message);
      throw e;
    }
  }

  /**
   * SIGHUP: applies the difference between the running and the new
   * configuration live. Flows on NICs the change does not touch keep going.
   * Changes that need a restart of a group (test addresses, FDT, targets) are
   * logged and take effect at the next start.
   */
  async reload(next: DaemonConfig, text?: string): Promise<void> {
    const log = this.opts.log;
    const changes = diffConfig(this.config, next);
    if (changes.length === 0) log('info', 'SIGHUP: the configuration is unchanged');
    for (const c of changes) {
      const g = 'group' in c ? this.groups.find((x) => x.name === c.group) : undefined;
      try {
        switch (c.kind) {
          case 'failback': for (const x of this.groups) x.setFailback(c.to); break;
          case 'address-added': await g?.addAddress(c.address); break;
          case 'address-removed': await g?.removeAddress(c.address); break;
          case 'interface-added': await g?.addNic(c.config); break;
          case 'interface-removed': await g?.removeNic(c.name); break;
          case 'interface-changed':
            if (c.standby) g?.setStandby(c.name, c.to.standby);
            if (c.testAddress || c.testAddress6) await g?.setTestAddresses(c.to);
            break;
          case 'group-added': {
            const rt = new GroupRuntime(c.config, next, this.native, this.rtnl, log, this.opts.stateDir);
            rt.onProbe = (ev) => this.publishProbe(ev);
            this.groups.push(rt);
            await this.takeOverState(rt, false);
            await rt.start();
            break;
          }
          case 'group-removed': {
            const i = this.groups.findIndex((x) => x.name === c.group);
            if (i >= 0) { const [rt] = this.groups.splice(i, 1); await rt.stop(); }
            break;
          }
          default:
            log('info', `configuration change ${c.kind} takes effect at the next start`);
        }
      } catch (e) {
        log('err', `reload: ${c.kind}: ${(e as Error).message}`);
      }
    }
    this.config = next;
    if (this.configFile && text !== undefined) this.configFile.text = text;
  }

  /** Clean stop: everything this daemon created or changed is removed or restored. */
  async stop(): Promise<void> {
    for (const c of this.subscribers) c.close();
    await this.server?.close();
    this.events?.close();
    for (const g of this.groups) {
      try {
        await g.stop();
      } catch (e) {
        this.opts.log('err', `${g.name}: stop: ${(e as Error).message}`);
      }
    }
    this.rtnl.close();
  }
}

/** A NIC's running configuration within its group's. */
function runningNic(g: GroupConfig, name: string): InterfaceConfig {
  return g.interfaces.find((i) => i.name === name) ?? { name, standby: false, testAddress: null, testAddress6: null };
}
