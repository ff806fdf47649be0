/**
 * rtnetlink over the native addon: a request socket with synchronous,
 * time-bounded request/response (Rtnetlink), and a multicast listener for
 * link / address / route changes (RtnetlinkEvents).
 *
 * Nothing here assumes the main thread: the addon is loaded per isolate and
 * both classes work the same inside a worker_threads Worker.
 */
import { loadNative, E, type NativeAddon } from './native.js';
import {
  NETLINK_ROUTE, NLMSG_ERROR, NLMSG_DONE, NLMSG_NOOP, NLMSG_OVERRUN,
  NLM_F_REQUEST, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_DUMP_INTR,
  RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR,
  RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE,
  RTMGRP_LINK, RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_IFADDR, RTMGRP_IPV6_ROUTE,
  IFA_F_NODAD, IFA_F_NOPREFIXROUTE, LIFETIME_FOREVER,
  splitMessages, parseError, parseDone, parseLink, parseAddr, parseRoute,
  buildLinkSet, buildGetLink, buildAddr, buildDump,
  type NlMsg, type NlErrorInfo, type LinkInfo, type AddrInfo, type RouteInfo, type AddrOptions,
} from './rtnetlink-codec.js';

export type { LinkInfo, AddrInfo, RouteInfo, OperState, NextHop } from './rtnetlink-codec.js';

const EEXIST = 17;
const EADDRNOTAVAIL = 99;
const ETIMEDOUT = 110;

/** Error thrown by Rtnetlink requests; errno is positive (e.g. 17 for EEXIST). */
export class RtnetlinkError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly extAck?: string;
  constructor(message: string, errno: number, code: string, extAck?: string) {
    super(message);
    this.name = 'RtnetlinkError';
    this.errno = errno;
    this.code = code;
    if (extAck !== undefined) this.extAck = extAck;
  }
}

export interface RtnetlinkOptions {
  /** Addon to use (tests pass a fake); default loadNative(). */
  native?: NativeAddon;
  /** Bound on one request's wait for its answer, in ms. Default 2000. */
  timeoutMs?: number;
  /** Receive buffer size in bytes, allocated once. Default 64 KiB. */
  bufSize?: number;
}

export interface AddAddrOptions {
  /** Tolerate an existing address: NLM_F_REPLACE instead of NLM_F_EXCL, and EEXIST is ignored. */
  replace?: boolean;
  /** IFA_F_NODAD (IPv6: skip duplicate address detection). */
  nodad?: boolean;
  /** IFA_F_NOPREFIXROUTE (no automatic prefix route). */
  noprefixroute?: boolean;
  /** Extra raw IFA_F_* bits. */
  flags?: number;
  /** IPv4 broadcast: an address, or true for the subnet broadcast. */
  broadcast?: string | boolean;
  /** RT_SCOPE_*; default universe. */
  scope?: number;
  /** IPv4 label (must start with the interface name). */
  label?: string;
}

export interface DelAddrOptions {
  /** Tolerate an address that is not there (EADDRNOTAVAIL / ENOENT / ENODEV). */
  ignoreMissing?: boolean;
}

let seqBase = (Date.now() & 0x7fffffff) >>> 0;

function errnoName(n: NativeAddon, err: number): string {
  try { return n.errnoName(err); } catch { return `E${-err}`; }
}

function strerror(n: NativeAddon, err: number): string {
  try { return n.strerror(err); } catch { return `errno ${-err}`; }
}

function makeError(n: NativeAddon, op: string, what: string, err: number, extAck?: string): RtnetlinkError {
  const neg = err < 0 ? err : -err;
  const code = errnoName(n, neg);
  const text = `rtnetlink ${op} ${what}: ${strerror(n, neg)} (${code})${extAck ? `: ${extAck}` : ''}`;
  return new RtnetlinkError(text, -neg, code, extAck);
}

/** Request/response rtnetlink socket. All calls block for at most timeoutMs. */
export class Rtnetlink {
  private readonly n: NativeAddon;
  private readonly timeoutMs: number;
  private readonly buf: Uint8Array;
  private fd = -1;
  private seq: number;

  constructor(opts: RtnetlinkOptions = {}) {
    this.n = opts.native ?? loadNative();
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.buf = new Uint8Array(opts.bufSize ?? 65536);
    seqBase = (seqBase + 0x10000) >>> 0;
    this.seq = seqBase;
  }

  /** Opens the NETLINK_ROUTE request socket (no multicast groups). */
  open(): this {
    if (this.fd < 0) this.fd = this.n.netlinkOpen(NETLINK_ROUTE, 0);
    return this;
  }

  get isOpen(): boolean {
    return this.fd >= 0;
  }

  close(): void {
    if (this.fd >= 0) {
      this.n.close(this.fd);
      this.fd = -1;
    }
  }

  /** All links. */
  getLinks(): LinkInfo[] {
    return this.dump('getLinks', 'all', (s) => buildDump(s, RTM_GETLINK, 0), (m) =>
      (m.type === RTM_NEWLINK ? parseLink(m) : null));
  }

  /** One link by index or name; null when there is no such link. */
  getLink(ifindexOrName: number | string): LinkInfo | null {
    const what = typeof ifindexOrName === 'number' ? `ifindex ${ifindexOrName}` : `dev ${ifindexOrName}`;
    let found: LinkInfo | null = null;
    try {
      this.transact('getLink', what, (s) => buildGetLink(s, ifindexOrName), false, (m) => {
        if (m.type === RTM_NEWLINK && found === null) found = parseLink(m);
      });
    } catch (e) {
      if (e instanceof RtnetlinkError && (e.errno === E.ENODEV || e.errno === E.ENOENT)) return null;
      throw e;
    }
    return found;
  }

  /** Sets IFF_UP on or off. */
  setLinkUp(ifindex: number, up: boolean): void {
    this.transact('setLinkUp', `ifindex ${ifindex} ${up ? 'up' : 'down'}`,
      (s) => buildLinkSet(s, ifindex, { up }), false);
  }

  setMtu(ifindex: number, mtu: number): void {
    this.transact('setMtu', `ifindex ${ifindex} mtu ${mtu}`, (s) => buildLinkSet(s, ifindex, { mtu }), false);
  }

  /** Addresses of one family, or of both when family is omitted. */
  getAddrs(family?: 4 | 6): AddrInfo[] {
    return this.dump('getAddrs', family ? `IPv${family}` : 'all', (s) => buildDump(s, RTM_GETADDR, family ?? 0),
      (m) => (m.type === RTM_NEWADDR ? parseAddr(m) : null));
  }

  addAddr(ifindex: number, family: 4 | 6, address: string, prefixlen: number, opts: AddAddrOptions = {}): void {
    let flags = opts.flags ?? 0;
    if (opts.nodad) flags |= IFA_F_NODAD;
    if (opts.noprefixroute) flags |= IFA_F_NOPREFIXROUTE;
    const ao: AddrOptions = { flags };
    if (opts.broadcast !== undefined) ao.broadcast = opts.broadcast;
    if (opts.scope !== undefined) ao.scope = opts.scope;
    if (opts.label !== undefined) ao.label = opts.label;
    const nl = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (opts.replace ? NLM_F_REPLACE : NLM_F_EXCL);
    try {
      this.transact('addAddr', `${address}/${prefixlen} ifindex ${ifindex}`,
        (s) => buildAddr(s, 'add', ifindex, family, address, prefixlen, ao, nl), false);
    } catch (e) {
      if (opts.replace && e instanceof RtnetlinkError && e.errno === EEXIST) return;
      throw e;
    }
  }

  /**
   * Changes the lifetimes of an address the interface holds (RTM_NEWADDR with
   * NLM_F_REPLACE and IFA_CACHEINFO). IPv6 preferred 0 deprecates the address: the
   * kernel no longer picks it as the source of new connections, and it stays
   * assigned until its valid lifetime ends. The flags are set anew with the
   * lifetimes (as AddAddrOptions give them). Times in seconds, LIFETIME_FOREVER for
   * none. Fails with ENOENT (IPv4) when the address is not there.
   */
  setAddrLifetimes(ifindex: number, family: 4 | 6, address: string, prefixlen: number,
    preferred: number, valid: number = LIFETIME_FOREVER, opts: Pick<AddAddrOptions, 'nodad' | 'noprefixroute' | 'flags'> = {}): void {
    let flags = opts.flags ?? 0;
    if (opts.nodad) flags |= IFA_F_NODAD;
    if (opts.noprefixroute) flags |= IFA_F_NOPREFIXROUTE;
    const ao: AddrOptions = { flags, lifetimes: { preferred, valid } };
    this.transact('setAddrLifetimes', `${address}/${prefixlen} ifindex ${ifindex} preferred ${preferred} valid ${valid}`,
      (s) => buildAddr(s, 'add', ifindex, family, address, prefixlen, ao, NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE), false);
  }

  delAddr(ifindex: number, family: 4 | 6, address: string, prefixlen: number, opts: DelAddrOptions = {}): void {
    try {
      this.transact('delAddr', `${address}/${prefixlen} ifindex ${ifindex}`,
        (s) => buildAddr(s, 'del', ifindex, family, address, prefixlen), false);
    } catch (e) {
      if (opts.ignoreMissing && e instanceof RtnetlinkError
        && (e.errno === EADDRNOTAVAIL || e.errno === E.ENOENT || e.errno === E.ENODEV)) return;
      throw e;
    }
  }

  /** Routes of one family, all tables (RouteInfo.table tells which). */
  getRoutes(family: 4 | 6): RouteInfo[] {
    return this.dump('getRoutes', `IPv${family}`, (s) => buildDump(s, RTM_GETROUTE, family),
      (m) => (m.type === RTM_NEWROUTE ? parseRoute(m) : null));
  }

  // ---- internals

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1;
    return this.seq;
  }

  /** A dump, retried (up to 3 times) when the kernel flags it as interrupted. */
  private dump<T>(op: string, what: string, build: (seq: number) => Uint8Array, parse: (m: NlMsg) => T | null): T[] {
    for (let attempt = 0; ; attempt++) {
      const out: T[] = [];
      const intr = this.transact(op, what, build, true, (m) => {
        const v = parse(m);
        if (v !== null) out.push(v);
      });
      if (!intr || attempt >= 2) return out;
    }
  }

  /**
   * Sends one request and reads its answer: for a dump, messages until
   * NLMSG_DONE; otherwise messages until the NLMSG_ERROR ack. Messages of other
   * sequence numbers (late answers to timed-out requests) are dropped.
   * Returns true when any answer carried NLM_F_DUMP_INTR.
   */
  private transact(op: string, what: string, build: (seq: number) => Uint8Array, isDump: boolean,
    onMsg?: (m: NlMsg) => void): boolean {
    if (this.fd < 0) throw new Error(`rtnetlink ${op} ${what}: socket not open`);
    const n = this.n;
    const seq = this.nextSeq();
    const req = build(seq);
    const sent = n.send(this.fd, req, 0, req.length);
    if (sent < 0) throw makeError(n, op, what, sent);
    if (sent !== req.length) throw new Error(`rtnetlink ${op} ${what}: short send ${sent}/${req.length}`);
    const deadline = Date.now() + this.timeoutMs;
    let intr = false;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw makeTimeout(n, op, what, this.timeoutMs);
      const pr = n.pollIn(this.fd, Math.min(left, 2147483647));
      if (pr < 0) {
        if (pr === -E.EINTR) continue;
        throw makeError(n, op, what, pr);
      }
      if (pr === 0) continue;
      const got = n.recv(this.fd, this.buf, 0, this.buf.length);
      if (got < 0) {
        if (got === -E.EAGAIN || got === -E.EINTR) continue;
        throw makeError(n, op, what, got);
      }
      // A malformed tail is ignored: whatever of ours could not be read ends in the timeout.
      const { msgs } = splitMessages(this.buf, 0, got);
      for (const m of msgs) {
        if (m.seq !== seq) continue;
        if ((m.flags & NLM_F_DUMP_INTR) !== 0) intr = true;
        if (m.type === NLMSG_ERROR) {
          const e: NlErrorInfo = parseError(m);
          if (e.error !== 0) throw makeError(n, op, what, e.error, e.extAckMsg);
          if (!isDump) return intr;
          continue;
        }
        if (m.type === NLMSG_DONE) {
          const d = parseDone(m);
          if (d.error < 0) throw makeError(n, op, what, d.error, d.extAckMsg);
          return intr;
        }
        if (m.type === NLMSG_NOOP || m.type === NLMSG_OVERRUN) continue;
        if (onMsg) onMsg(m);
      }
    }
  }
}

function makeTimeout(n: NativeAddon, op: string, what: string, ms: number): RtnetlinkError {
  let code = 'ETIMEDOUT';
  try { code = n.errnoName(-ETIMEDOUT); } catch { /* keep the default */ }
  return new RtnetlinkError(`rtnetlink ${op} ${what}: no answer within ${ms} ms (${code})`, ETIMEDOUT, code);
}

// ---------------------------------------------------------------------------
// Events

export const RTNL_EVENT_GROUPS = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE
  | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE;

export interface RtnetlinkEventHandlers {
  onLink?(link: LinkInfo, deleted: boolean): void;
  onAddr?(addr: AddrInfo, deleted: boolean): void;
  onRoute?(route: RouteInfo, deleted: boolean): void;
  /** Events were lost (ENOBUFS): the owner should re-dump the state it tracks. */
  onOverrun?(): void;
  /** A message that could not be decoded, or a receive error other than EAGAIN/ENOBUFS. */
  onError?(err: Error): void;
}

export interface RtnetlinkEventsOptions {
  native?: NativeAddon;
  /** RTMGRP_* mask; default link, IPv4/IPv6 addresses and routes. */
  groups?: number;
  /** Receive buffer size in bytes, allocated once. Default 256 KiB. */
  bufSize?: number;
}

/** Multicast rtnetlink listener: decodes link, address and route notifications. */
export class RtnetlinkEvents {
  private readonly n: NativeAddon;
  private readonly groups: number;
  private readonly buf: Uint8Array;
  private fdNum = -1;
  private watchId = -1;
  private stopped = false;

  constructor(private readonly handlers: RtnetlinkEventHandlers, opts: RtnetlinkEventsOptions = {}) {
    this.n = opts.native ?? loadNative();
    this.groups = opts.groups ?? RTNL_EVENT_GROUPS;
    this.buf = new Uint8Array(opts.bufSize ?? 262144);
  }

  get fd(): number {
    return this.fdNum;
  }

  /** Opens the socket bound to the groups; nothing is read until start() or drain(). */
  open(): this {
    if (this.fdNum < 0) this.fdNum = this.n.netlinkOpen(NETLINK_ROUTE, this.groups);
    this.stopped = false;
    return this;
  }

  /** Opens (when needed) and reads on every readability notification of the event loop. */
  start(): this {
    this.open();
    if (this.watchId < 0) this.watchId = this.n.watch(this.fdNum, () => { this.drain(); });
    return this;
  }

  /**
   * Reads and dispatches everything queued, without blocking. Returns the number
   * of datagrams read. Usable directly (e.g. after pollIn) instead of start().
   */
  drain(): number {
    if (this.fdNum < 0 || this.stopped) return 0;
    const n = this.n;
    let count = 0;
    let overrun = false;
    // Bounded so one busy burst cannot starve the loop; the watcher fires again.
    for (let i = 0; i < 4096 && !this.stopped; i++) {
      const got = n.recv(this.fdNum, this.buf, 0, this.buf.length);
      if (got < 0) {
        if (got === -E.EAGAIN) break;
        if (got === -E.EINTR) continue;
        if (got === -E.ENOBUFS) { overrun = true; continue; }
        this.report(makeError(n, 'events', 'recv', got));
        break;
      }
      count++;
      if (got === 0) continue;
      this.dispatch(got);
    }
    if (overrun && !this.stopped) this.call(() => this.handlers.onOverrun?.());
    return count;
  }

  /** Stops reading and closes the socket. */
  close(): void {
    this.stopped = true;
    if (this.watchId >= 0) {
      this.n.unwatch(this.watchId);
      this.watchId = -1;
    }
    if (this.fdNum >= 0) {
      this.n.close(this.fdNum);
      this.fdNum = -1;
    }
  }

  private dispatch(len: number): void {
    const { msgs, error } = splitMessages(this.buf, 0, len);
    const h = this.handlers;
    for (const m of msgs) {
      if (this.stopped) return;
      try {
        switch (m.type) {
          case RTM_NEWLINK:
          case RTM_DELLINK:
            if (h.onLink) { const l = parseLink(m); h.onLink(l, m.type === RTM_DELLINK); }
            break;
          case RTM_NEWADDR:
          case RTM_DELADDR:
            if (h.onAddr) { const a = parseAddr(m); if (a) h.onAddr(a, m.type === RTM_DELADDR); }
            break;
          case RTM_NEWROUTE:
          case RTM_DELROUTE:
            if (h.onRoute) { const r = parseRoute(m); if (r) h.onRoute(r, m.type === RTM_DELROUTE); }
            break;
          case NLMSG_OVERRUN:
            this.call(() => h.onOverrun?.());
            break;
          default:
            break;
        }
      } catch (e) {
        this.report(e instanceof Error ? e : new Error(String(e)));
      }
    }
    if (error !== null) this.report(new Error(`rtnetlink events: ${error}`));
  }

  private call(f: () => void): void {
    try { f(); } catch (e) { this.report(e instanceof Error ? e : new Error(String(e))); }
  }

  private report(e: Error): void {
    if (this.handlers.onError) {
      try { this.handlers.onError(e); } catch { /* a failing error handler must not stop reading */ }
    }
  }
}
