/**
 * rtnetlink wire codec: netlink headers, attributes, and the link / address /
 * route messages the daemon uses. Pure functions, no I/O.
 *
 * Layout is host order, which on every supported target is little-endian; all
 * reads and writes go through DataView with the little-endian flag set.
 *
 * Decoding never reads outside the given bounds. A malformed outer message
 * stream ends splitting with an error text; a malformed attribute ends the
 * attribute walk of its message; a message body shorter than its fixed header
 * makes the per-message parser throw NetlinkParseError.
 */
import { parseIpv4 } from '../wire/ipv4.js';
import { ipv6ToString, parseIpv6 } from '../wire/ipv6-text.js';

// ---------------------------------------------------------------------------
// Constants

export const NETLINK_ROUTE = 0;

export const NLMSG_HDRLEN = 16;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
/** Flags on an NLMSG_ERROR message. */
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

export const RTMGRP_LINK = 0x1;
export const RTMGRP_IPV4_IFADDR = 0x10;
export const RTMGRP_IPV4_ROUTE = 0x40;
export const RTMGRP_IPV6_IFADDR = 0x100;
export const RTMGRP_IPV6_ROUTE = 0x400;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

export const IFF_UP = 0x1;
export const IFF_BROADCAST = 0x2;
export const IFF_LOOPBACK = 0x8;
export const IFF_POINTOPOINT = 0x10;
export const IFF_RUNNING = 0x40;
export const IFF_NOARP = 0x80;
export const IFF_MULTICAST = 0x1000;
export const IFF_LOWER_UP = 0x10000;
export const IFF_DORMANT = 0x20000;

export const IFLA_ADDRESS = 1;
export const IFLA_BROADCAST = 2;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINK = 5;
export const IFLA_MASTER = 10;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKINFO = 18;
export const IFLA_EXT_MASK = 29;
export const IFLA_CARRIER = 33;
export const IFLA_INFO_KIND = 1;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_BROADCAST = 4;
export const IFA_CACHEINFO = 6;
export const IFA_FLAGS = 8;

export const IFA_F_SECONDARY = 0x01;
export const IFA_F_NODAD = 0x02;
export const IFA_F_OPTIMISTIC = 0x04;
export const IFA_F_DADFAILED = 0x08;
export const IFA_F_HOMEADDRESS = 0x10;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_TENTATIVE = 0x40;
export const IFA_F_PERMANENT = 0x80;
export const IFA_F_MANAGETEMPADDR = 0x100;
export const IFA_F_NOPREFIXROUTE = 0x200;

export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;

export const RTA_DST = 1;
export const RTA_SRC = 2;
export const RTA_IIF = 3;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_PREFSRC = 7;
export const RTA_MULTIPATH = 9;
export const RTA_TABLE = 15;
export const RTA_VIA = 18;

export const RTN_UNSPEC = 0;
export const RTN_UNICAST = 1;
export const RTN_LOCAL = 2;
export const RTN_BROADCAST = 3;
export const RTN_ANYCAST = 4;
export const RTN_MULTICAST = 5;
export const RTN_BLACKHOLE = 6;
export const RTN_UNREACHABLE = 7;
export const RTN_PROHIBIT = 8;

export const RT_TABLE_UNSPEC = 0;
export const RT_TABLE_DEFAULT = 253;
export const RT_TABLE_MAIN = 254;
export const RT_TABLE_LOCAL = 255;

/** Attribute type bits that are not part of the type number. */
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = 0x3fff;

const IFINFOMSG_LEN = 16;
const IFADDRMSG_LEN = 8;
const RTMSG_LEN = 12;
const RTNEXTHOP_LEN = 8;
const RTA_HDRLEN = 4;

// ---------------------------------------------------------------------------
// Errors and small helpers

/** Raised for a message body that cannot be decoded (too short, bad field). */
export class NetlinkParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetlinkParseError';
  }
}

/** Rounds up to the 4-byte netlink alignment. */
export function nlAlign(n: number): number {
  // arithmetic, not bitwise: lengths read from u32 fields may exceed 2^31
  return n + ((4 - (n % 4)) % 4);
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

const textDecoder = new TextDecoder('utf-8', { fatal: false });
const textEncoder = new TextEncoder();

/** Decodes a NUL-terminated (or unterminated) string attribute. */
export function decodeCString(b: Uint8Array): string {
  let end = b.indexOf(0);
  if (end < 0) end = b.length;
  return textDecoder.decode(b.subarray(0, end));
}

// ---------------------------------------------------------------------------
// IP address text <-> bytes

/** Parses dotted-quad IPv4 text into 4 bytes; null when not valid. */
export function parseIPv4(s: string): Uint8Array | null {
  try {
    const v = parseIpv4(s);
    return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
  } catch {
    return null;
  }
}

/** Parses IPv6 text (with "::" and an optional trailing dotted quad) into 16 bytes; null when not valid. */
export function parseIPv6(s: string): Uint8Array | null {
  if (s !== s.trim()) return null;
  try {
    return parseIpv6(s);
  } catch {
    return null;
  }
}

/** Formats 4 bytes as dotted-quad text. */
export function formatIPv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** Formats 16 bytes as RFC 5952 IPv6 text. */
export function formatIPv6(b: Uint8Array, off = 0): string {
  return ipv6ToString(b, off);
}

/** Formats an address of the given length (4 or 16 bytes); other lengths as hex. */
export function formatIP(b: Uint8Array): string {
  if (b.length === 4) return formatIPv4(b);
  if (b.length === 16) return formatIPv6(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Parses an address of the given family (4 or 6); throws on bad text. */
export function ipToBytes(family: 4 | 6, s: string): Uint8Array {
  const b = family === 4 ? parseIPv4(s) : parseIPv6(s);
  if (!b) throw new Error(`invalid IPv${family} address: ${JSON.stringify(s)}`);
  return b;
}

export function familyToAf(family: 0 | 4 | 6): number {
  return family === 4 ? AF_INET : family === 6 ? AF_INET6 : AF_UNSPEC;
}

export function afToFamily(af: number): 4 | 6 | null {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : null;
}

// ---------------------------------------------------------------------------
// Attributes

export interface NlAttr {
  /** Type with the NESTED / NET_BYTEORDER bits masked off. */
  type: number;
  nested: boolean;
  /** Payload view into the original buffer (not copied). */
  data: Uint8Array;
}

/**
 * Walks attributes in b[start, end). Stops at the first attribute whose length
 * is below the header size or runs past end.
 */
export function parseAttrs(b: Uint8Array, start: number, end: number): NlAttr[] {
  const out: NlAttr[] = [];
  if (end > b.length) end = b.length;
  const v = dv(b);
  let off = Math.max(0, start);
  while (off + RTA_HDRLEN <= end) {
    const len = v.getUint16(off, true);
    const rawType = v.getUint16(off + 2, true);
    if (len < RTA_HDRLEN || off + len > end) break;
    out.push({
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      data: b.subarray(off + RTA_HDRLEN, off + len),
    });
    off += nlAlign(len);
  }
  return out;
}

/** First attribute of each type. */
export function attrMap(attrs: NlAttr[]): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  for (const a of attrs) if (!m.has(a.type)) m.set(a.type, a.data);
  return m;
}

function u32Attr(d: Uint8Array | undefined): number | undefined {
  if (!d || d.length < 4) return undefined;
  return dv(d).getUint32(0, true);
}

function u8Attr(d: Uint8Array | undefined): number | undefined {
  if (!d || d.length < 1) return undefined;
  return d[0];
}

/** One attribute, header included, padded to 4 bytes. */
export function encodeAttr(type: number, value: Uint8Array): Uint8Array {
  const len = RTA_HDRLEN + value.length;
  const out = new Uint8Array(nlAlign(len));
  const v = dv(out);
  v.setUint16(0, len, true);
  v.setUint16(2, type, true);
  out.set(value, RTA_HDRLEN);
  return out;
}

export function attrU32(type: number, value: number): Uint8Array {
  const b = new Uint8Array(4);
  dv(b).setUint32(0, value >>> 0, true);
  return encodeAttr(type, b);
}

export function attrU8(type: number, value: number): Uint8Array {
  return encodeAttr(type, Uint8Array.of(value & 0xff));
}

/** NUL-terminated string attribute. */
export function attrString(type: number, s: string): Uint8Array {
  const t = textEncoder.encode(s);
  const b = new Uint8Array(t.length + 1);
  b.set(t, 0);
  return encodeAttr(type, b);
}

export function attrNested(type: number, children: Uint8Array[]): Uint8Array {
  return encodeAttr(type | NLA_F_NESTED, concat(children));
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

// ---------------------------------------------------------------------------
// Messages

export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Body after the 16-byte header (view, not copied). */
  payload: Uint8Array;
}

/** A full netlink message: header + fixed body + attributes, aligned. */
export function encodeMessage(type: number, flags: number, seq: number, pid: number,
  body: Uint8Array, attrs: Uint8Array[] = []): Uint8Array {
  const bodyLen = nlAlign(body.length);
  let attrLen = 0;
  for (const a of attrs) attrLen += nlAlign(a.length);
  const len = NLMSG_HDRLEN + bodyLen + attrLen;
  const out = new Uint8Array(len);
  const v = dv(out);
  v.setUint32(0, len, true);
  v.setUint16(4, type, true);
  v.setUint16(6, flags, true);
  v.setUint32(8, seq >>> 0, true);
  v.setUint32(12, pid >>> 0, true);
  out.set(body, NLMSG_HDRLEN);
  let off = NLMSG_HDRLEN + bodyLen;
  for (const a of attrs) { out.set(a, off); off += nlAlign(a.length); }
  return out;
}

export interface SplitResult {
  msgs: NlMsg[];
  /** Why splitting stopped before the end of the data, or null. */
  error: string | null;
}

/**
 * Splits a received datagram into messages. Never throws; stops at the first
 * header whose length is below 16 or beyond the data, and reports why.
 */
export function splitMessages(b: Uint8Array, off = 0, len = b.length - off): SplitResult {
  const msgs: NlMsg[] = [];
  const end = Math.min(b.length, off + Math.max(0, len));
  const v = dv(b);
  let p = Math.max(0, off);
  while (p < end) {
    if (end - p < NLMSG_HDRLEN) {
      return { msgs, error: `truncated netlink header: ${end - p} bytes at offset ${p}` };
    }
    const mlen = v.getUint32(p, true);
    if (mlen < NLMSG_HDRLEN) {
      return { msgs, error: `bad netlink message length ${mlen} at offset ${p}` };
    }
    if (mlen > end - p) {
      return { msgs, error: `netlink message length ${mlen} exceeds ${end - p} remaining bytes at offset ${p}` };
    }
    msgs.push({
      type: v.getUint16(p + 4, true),
      flags: v.getUint16(p + 6, true),
      seq: v.getUint32(p + 8, true),
      pid: v.getUint32(p + 12, true),
      payload: b.subarray(p + NLMSG_HDRLEN, p + mlen),
    });
    p += nlAlign(mlen);
  }
  return { msgs, error: null };
}

// ---------------------------------------------------------------------------
// NLMSG_ERROR / NLMSG_DONE

export interface NlErrorInfo {
  /** 0 for an ACK, else a negative errno. */
  error: number;
  /** Extended ack text (NLMSGERR_ATTR_MSG), when the kernel sent one. */
  extAckMsg?: string;
  /** Offset of the offending attribute in the request (NLMSGERR_ATTR_OFFS). */
  extAckOffset?: number;
  /** Header of the request the error answers, when present. */
  origType?: number;
  origSeq?: number;
}

/** Decodes an NLMSG_ERROR body (struct nlmsgerr, then the request or its header, then ack TLVs). */
export function parseError(m: NlMsg): NlErrorInfo {
  const p = m.payload;
  if (p.length < 4) throw new NetlinkParseError(`NLMSG_ERROR body too short (${p.length} bytes)`);
  const v = dv(p);
  const out: NlErrorInfo = { error: v.getInt32(0, true) };
  if (p.length < 4 + NLMSG_HDRLEN) return out;
  const origLen = v.getUint32(4, true);
  out.origType = v.getUint16(8, true);
  out.origSeq = v.getUint32(12, true);
  if ((m.flags & NLM_F_ACK_TLVS) === 0) return out;
  // With CAPPED (or for ACKs) only the request header is echoed; else the whole request.
  const echoed = (m.flags & NLM_F_CAPPED) !== 0 || out.error === 0 ? NLMSG_HDRLEN : origLen;
  if (echoed < NLMSG_HDRLEN) return out;
  const tlvStart = 4 + nlAlign(echoed);
  if (tlvStart > p.length) return out;
  applyExtAck(out, parseAttrs(p, tlvStart, p.length));
  return out;
}

function applyExtAck(out: NlErrorInfo, attrs: NlAttr[]): void {
  for (const a of attrs) {
    if (a.type === NLMSGERR_ATTR_MSG && out.extAckMsg === undefined) out.extAckMsg = decodeCString(a.data);
    else if (a.type === NLMSGERR_ATTR_OFFS && out.extAckOffset === undefined) out.extAckOffset = u32Attr(a.data);
  }
}

/** Decodes an NLMSG_DONE body: an int status (0 or negative errno), then ack TLVs. Empty body → 0. */
export function parseDone(m: NlMsg): NlErrorInfo {
  const p = m.payload;
  if (p.length < 4) return { error: 0 };
  const out: NlErrorInfo = { error: dv(p).getInt32(0, true) };
  if ((m.flags & NLM_F_ACK_TLVS) !== 0) applyExtAck(out, parseAttrs(p, 4, p.length));
  return out;
}

// ---------------------------------------------------------------------------
// Links

export type OperState = 'unknown' | 'notpresent' | 'down' | 'lowerlayerdown' | 'testing' | 'dormant' | 'up';
const OPERSTATES: OperState[] = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];

export interface LinkInfo {
  ifindex: number;
  name: string;
  /** ARPHRD_* (1 Ethernet, 65534 none e.g. TUN, 772 loopback). */
  type: number;
  flags: number;
  up: boolean;
  running: boolean;
  lowerUp: boolean;
  carrier?: boolean;
  operstate?: OperState;
  /** 0 when the kernel did not send IFLA_MTU. */
  mtu: number;
  mac: Uint8Array | null;
  /** IFLA_LINKINFO / IFLA_INFO_KIND, e.g. "tun", "veth", "dummy". */
  kind?: string;
  /** IFLA_LINK (peer / lower device index), when present. */
  link?: number;
  /** IFLA_MASTER, when enslaved. */
  master?: number;
}

/** Decodes an RTM_NEWLINK / RTM_DELLINK body. */
export function parseLink(m: NlMsg): LinkInfo {
  const p = m.payload;
  if (p.length < IFINFOMSG_LEN) throw new NetlinkParseError(`ifinfomsg too short (${p.length} bytes)`);
  const v = dv(p);
  const type = v.getUint16(2, true);
  const ifindex = v.getInt32(4, true);
  const flags = v.getUint32(8, true);
  const a = attrMap(parseAttrs(p, IFINFOMSG_LEN, p.length));
  const name = a.has(IFLA_IFNAME) ? decodeCString(a.get(IFLA_IFNAME)!) : '';
  const macAttr = a.get(IFLA_ADDRESS);
  const out: LinkInfo = {
    ifindex,
    name,
    type,
    flags,
    up: (flags & IFF_UP) !== 0,
    running: (flags & IFF_RUNNING) !== 0,
    lowerUp: (flags & IFF_LOWER_UP) !== 0,
    mtu: u32Attr(a.get(IFLA_MTU)) ?? 0,
    mac: macAttr && macAttr.length > 0 ? macAttr.slice() : null,
  };
  const carrier = u8Attr(a.get(IFLA_CARRIER));
  if (carrier !== undefined) out.carrier = carrier !== 0;
  const op = u8Attr(a.get(IFLA_OPERSTATE));
  if (op !== undefined) out.operstate = OPERSTATES[op] ?? 'unknown';
  const li = a.get(IFLA_LINKINFO);
  if (li) {
    const kind = attrMap(parseAttrs(li, 0, li.length)).get(IFLA_INFO_KIND);
    if (kind) out.kind = decodeCString(kind);
  }
  const link = u32Attr(a.get(IFLA_LINK));
  if (link !== undefined) out.link = link;
  const master = u32Attr(a.get(IFLA_MASTER));
  if (master !== undefined) out.master = master;
  return out;
}

function ifinfomsg(family: number, ifindex: number, flags: number, change: number): Uint8Array {
  const b = new Uint8Array(IFINFOMSG_LEN);
  const v = dv(b);
  v.setUint8(0, family);
  v.setInt32(4, ifindex, true);
  v.setUint32(8, flags >>> 0, true);
  v.setUint32(12, change >>> 0, true);
  return b;
}

export interface LinkSetOptions {
  up?: boolean;
  mtu?: number;
}

/** RTM_NEWLINK changing admin state and/or MTU of an existing link. */
export function buildLinkSet(seq: number, ifindex: number, o: LinkSetOptions,
  flags = NLM_F_REQUEST | NLM_F_ACK): Uint8Array {
  const attrs: Uint8Array[] = [];
  if (o.mtu !== undefined) attrs.push(attrU32(IFLA_MTU, o.mtu));
  const body = o.up === undefined ? ifinfomsg(AF_UNSPEC, ifindex, 0, 0)
    : ifinfomsg(AF_UNSPEC, ifindex, o.up ? IFF_UP : 0, IFF_UP);
  return encodeMessage(RTM_NEWLINK, flags, seq, 0, body, attrs);
}

/** RTM_GETLINK for one link, by index or by name. */
export function buildGetLink(seq: number, ifindexOrName: number | string,
  flags = NLM_F_REQUEST | NLM_F_ACK): Uint8Array {
  if (typeof ifindexOrName === 'number') {
    return encodeMessage(RTM_GETLINK, flags, seq, 0, ifinfomsg(AF_UNSPEC, ifindexOrName, 0, 0));
  }
  return encodeMessage(RTM_GETLINK, flags, seq, 0, ifinfomsg(AF_UNSPEC, 0, 0, 0),
    [attrString(IFLA_IFNAME, ifindexOrName)]);
}

// ---------------------------------------------------------------------------
// Addresses

export interface AddrInfo {
  family: 4 | 6;
  ifindex: number;
  prefixlen: number;
  /** IFA_LOCAL for IPv4 (falls back to IFA_ADDRESS), IFA_ADDRESS for IPv6. */
  address: string;
  /** IFA_FLAGS when present (32 bits), else the 8-bit ifa_flags. */
  flags: number;
  scope: number;
  /** Point-to-point peer, when IFA_ADDRESS differs from IFA_LOCAL. */
  peer?: string;
  broadcast?: string;
  label?: string;
}

/** Decodes an RTM_NEWADDR / RTM_DELADDR body. Returns null for families other than IPv4/IPv6. */
export function parseAddr(m: NlMsg): AddrInfo | null {
  const p = m.payload;
  if (p.length < IFADDRMSG_LEN) throw new NetlinkParseError(`ifaddrmsg too short (${p.length} bytes)`);
  const v = dv(p);
  const family = afToFamily(p[0]!);
  if (family === null) return null;
  const alen = family === 4 ? 4 : 16;
  const a = attrMap(parseAttrs(p, IFADDRMSG_LEN, p.length));
  const addrOf = (t: number): string | undefined => {
    const d = a.get(t);
    return d && d.length === alen ? formatIP(d) : undefined;
  };
  const local = addrOf(IFA_LOCAL);
  const address = addrOf(IFA_ADDRESS);
  const main = local ?? address;
  if (main === undefined) throw new NetlinkParseError('address message without IFA_LOCAL/IFA_ADDRESS');
  const out: AddrInfo = {
    family,
    ifindex: v.getUint32(4, true),
    prefixlen: p[1]!,
    address: main,
    flags: u32Attr(a.get(IFA_FLAGS)) ?? p[2]!,
    scope: p[3]!,
  };
  if (local !== undefined && address !== undefined && local !== address) out.peer = address;
  const brd = addrOf(IFA_BROADCAST);
  if (brd !== undefined) out.broadcast = brd;
  const label = a.get(IFA_LABEL);
  if (label) out.label = decodeCString(label);
  return out;
}

export interface AddrOptions {
  /** IFA_F_* flags; bits above 0xff go in IFA_FLAGS. */
  flags?: number;
  /** RT_SCOPE_*; default universe. */
  scope?: number;
  /** IPv4 broadcast: an address, true for the subnet's, false/absent for none. */
  broadcast?: string | boolean;
  /** IPv4 point-to-point peer (IFA_ADDRESS differs from IFA_LOCAL). */
  peer?: string;
  label?: string;
  /** IFA_CACHEINFO lifetimes in seconds (0xffffffff = forever); absent: the kernel's default, forever. */
  lifetimes?: { preferred: number; valid: number };
}

/** Lifetime value meaning forever (INFINITY_LIFE_TIME). */
export const LIFETIME_FOREVER = 0xffffffff;
const IFA_CACHEINFO_LEN = 16;

/** Subnet broadcast of an IPv4 address and prefix length. */
export function ipv4Broadcast(addr: Uint8Array, prefixlen: number): Uint8Array {
  const out = addr.slice(0, 4);
  for (let bit = prefixlen; bit < 32; bit++) out[bit >> 3]! |= 0x80 >> (bit & 7);
  return out;
}

/**
 * RTM_NEWADDR / RTM_DELADDR. IPv4 carries IFA_LOCAL and IFA_ADDRESS (and
 * IFA_BROADCAST when asked); IPv6 carries IFA_ADDRESS. Flags above 8 bits
 * go in IFA_FLAGS, which is always sent.
 */
export function buildAddr(seq: number, op: 'add' | 'del', ifindex: number, family: 4 | 6,
  address: string, prefixlen: number, o: AddrOptions = {}, nlFlags?: number): Uint8Array {
  const maxLen = family === 4 ? 32 : 128;
  if (!Number.isInteger(prefixlen) || prefixlen < 0 || prefixlen > maxLen) {
    throw new Error(`invalid IPv${family} prefix length ${prefixlen}`);
  }
  const bytes = ipToBytes(family, address);
  const flags = (o.flags ?? 0) >>> 0;
  const body = new Uint8Array(IFADDRMSG_LEN);
  const v = dv(body);
  body[0] = familyToAf(family);
  body[1] = prefixlen;
  body[2] = flags & 0xff;
  body[3] = o.scope ?? RT_SCOPE_UNIVERSE;
  v.setUint32(4, ifindex >>> 0, true);
  const attrs: Uint8Array[] = [];
  if (family === 4) {
    attrs.push(encodeAttr(IFA_LOCAL, bytes));
    attrs.push(encodeAttr(IFA_ADDRESS, o.peer !== undefined ? ipToBytes(4, o.peer) : bytes));
    if (op === 'add' && o.broadcast !== undefined && o.broadcast !== false) {
      const brd = o.broadcast === true ? ipv4Broadcast(bytes, prefixlen) : ipToBytes(4, o.broadcast);
      attrs.push(encodeAttr(IFA_BROADCAST, brd));
    }
  } else {
    if (o.peer !== undefined) {
      attrs.push(encodeAttr(IFA_LOCAL, bytes));
      attrs.push(encodeAttr(IFA_ADDRESS, ipToBytes(6, o.peer)));
    } else {
      attrs.push(encodeAttr(IFA_ADDRESS, bytes));
    }
  }
  if (o.label !== undefined) attrs.push(attrString(IFA_LABEL, o.label));
  if (op === 'add' && o.lifetimes !== undefined) {
    const { preferred, valid } = o.lifetimes;
    for (const [k, x] of [['preferred', preferred], ['valid', valid]] as const) {
      if (!Number.isInteger(x) || x < 0 || x > LIFETIME_FOREVER) throw new Error(`invalid ${k} lifetime ${x}`);
    }
    if (valid === 0 || preferred > valid) throw new Error(`invalid lifetimes: preferred ${preferred}, valid ${valid}`);
    // struct ifa_cacheinfo: ifa_prefered, ifa_valid, cstamp, tstamp (the last two are ignored on input).
    const ci = new Uint8Array(IFA_CACHEINFO_LEN);
    const cv = dv(ci);
    cv.setUint32(0, preferred, true);
    cv.setUint32(4, valid, true);
    attrs.push(encodeAttr(IFA_CACHEINFO, ci));
  }
  if (op === 'add') attrs.push(attrU32(IFA_FLAGS, flags));
  const type = op === 'add' ? RTM_NEWADDR : RTM_DELADDR;
  const f = nlFlags ?? (op === 'add' ? NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    : NLM_F_REQUEST | NLM_F_ACK);
  return encodeMessage(type, f, seq, 0, body, attrs);
}

// ---------------------------------------------------------------------------
// Routes

export interface NextHop {
  gateway: string | null;
  oif: number;
  /** rtnh_hops + 1. */
  weight: number;
}

export interface RouteInfo {
  family: 4 | 6;
  /** RTA_TABLE when present, else rtm_table. */
  table: number;
  /** Destination prefix text; "0.0.0.0" / "::" for a default route. */
  dst: string;
  dstLen: number;
  /** RTA_GATEWAY (or RTA_VIA); for a multipath route, that of the first nexthop. */
  gateway: string | null;
  /** RTA_OIF; for a multipath route, that of the first nexthop; 0 when absent. */
  oif: number;
  /** RTA_PRIORITY (metric); 0 when absent. */
  priority: number;
  /** RTN_*. */
  type: number;
  scope: number;
  protocol: number;
  prefsrc?: string;
  multipath?: NextHop[];
}

function decodeVia(d: Uint8Array): string | null {
  if (d.length < 2) return null;
  const af = dv(d).getUint16(0, true);
  const addr = d.subarray(2);
  if (af === AF_INET && addr.length === 4) return formatIPv4(addr);
  if (af === AF_INET6 && addr.length === 16) return formatIPv6(addr);
  return null;
}

function parseMultipath(d: Uint8Array, alen: number): NextHop[] {
  const out: NextHop[] = [];
  const v = dv(d);
  let off = 0;
  while (off + RTNEXTHOP_LEN <= d.length) {
    const len = v.getUint16(off, true);
    if (len < RTNEXTHOP_LEN || off + len > d.length) break;
    const hops = d[off + 3]!;
    const oif = v.getInt32(off + 4, true);
    const a = attrMap(parseAttrs(d, off + RTNEXTHOP_LEN, off + len));
    const gw = a.get(RTA_GATEWAY);
    const via = a.get(RTA_VIA);
    let gateway: string | null = null;
    if (gw && gw.length === alen) gateway = formatIP(gw);
    else if (via) gateway = decodeVia(via);
    out.push({ gateway, oif, weight: hops + 1 });
    off += nlAlign(len);
  }
  return out;
}

/** Decodes an RTM_NEWROUTE / RTM_DELROUTE body. Returns null for families other than IPv4/IPv6. */
export function parseRoute(m: NlMsg): RouteInfo | null {
  const p = m.payload;
  if (p.length < RTMSG_LEN) throw new NetlinkParseError(`rtmsg too short (${p.length} bytes)`);
  const family = afToFamily(p[0]!);
  if (family === null) return null;
  const alen = family === 4 ? 4 : 16;
  const dstLen = p[1]!;
  if (dstLen > alen * 8) throw new NetlinkParseError(`route prefix length ${dstLen} too long for IPv${family}`);
  const a = attrMap(parseAttrs(p, RTMSG_LEN, p.length));
  const addrOf = (t: number): string | null => {
    const d = a.get(t);
    return d && d.length === alen ? formatIP(d) : null;
  };
  const dst = addrOf(RTA_DST) ?? (family === 4 ? '0.0.0.0' : '::');
  let gateway = addrOf(RTA_GATEWAY);
  if (gateway === null && a.has(RTA_VIA)) gateway = decodeVia(a.get(RTA_VIA)!);
  let oif = u32Attr(a.get(RTA_OIF)) ?? 0;
  const out: RouteInfo = {
    family,
    table: u32Attr(a.get(RTA_TABLE)) ?? p[4]!,
    dst,
    dstLen,
    gateway,
    oif,
    priority: u32Attr(a.get(RTA_PRIORITY)) ?? 0,
    type: p[7]!,
    scope: p[6]!,
    protocol: p[5]!,
  };
  const prefsrc = addrOf(RTA_PREFSRC);
  if (prefsrc !== null) out.prefsrc = prefsrc;
  const mp = a.get(RTA_MULTIPATH);
  if (mp) {
    const hops = parseMultipath(mp, alen);
    out.multipath = hops;
    const first = hops[0];
    if (first) {
      if (out.gateway === null) out.gateway = first.gateway;
      if (oif === 0) { oif = first.oif; out.oif = oif; }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Dumps

/** RTM_GETLINK / RTM_GETADDR / RTM_GETROUTE dump request for a family (AF_UNSPEC for all). */
export function buildDump(seq: number, type: typeof RTM_GETLINK | typeof RTM_GETADDR | typeof RTM_GETROUTE,
  family: 0 | 4 | 6 = 0): Uint8Array {
  const af = familyToAf(family);
  let body: Uint8Array;
  if (type === RTM_GETLINK) body = ifinfomsg(af, 0, 0, 0);
  else if (type === RTM_GETADDR) { body = new Uint8Array(IFADDRMSG_LEN); body[0] = af; }
  else if (type === RTM_GETROUTE) { body = new Uint8Array(RTMSG_LEN); body[0] = af; }
  else throw new Error(`not a dump request type: ${type}`);
  return encodeMessage(type, NLM_F_REQUEST | NLM_F_DUMP, seq, 0, body);
}

// ---------------------------------------------------------------------------
// Encoders of kernel-side messages (fixtures, fakes and round-trip tests)

/** RTM_NEWLINK / RTM_DELLINK as the kernel would send it. */
export function encodeLinkMsg(type: number, flags: number, seq: number, l: Partial<LinkInfo> & { ifindex: number }): Uint8Array {
  const attrs: Uint8Array[] = [];
  if (l.name !== undefined) attrs.push(attrString(IFLA_IFNAME, l.name));
  if (l.mac) attrs.push(encodeAttr(IFLA_ADDRESS, l.mac));
  if (l.mtu !== undefined) attrs.push(attrU32(IFLA_MTU, l.mtu));
  if (l.link !== undefined) attrs.push(attrU32(IFLA_LINK, l.link));
  if (l.master !== undefined) attrs.push(attrU32(IFLA_MASTER, l.master));
  if (l.operstate !== undefined) attrs.push(attrU8(IFLA_OPERSTATE, Math.max(0, OPERSTATES.indexOf(l.operstate))));
  if (l.carrier !== undefined) attrs.push(attrU8(IFLA_CARRIER, l.carrier ? 1 : 0));
  if (l.kind !== undefined) attrs.push(attrNested(IFLA_LINKINFO, [attrString(IFLA_INFO_KIND, l.kind)]));
  const body = ifinfomsg(AF_UNSPEC, l.ifindex, l.flags ?? 0, 0);
  new DataView(body.buffer).setUint16(2, l.type ?? 1, true);
  return encodeMessage(type, flags, seq, 0, body, attrs);
}

/** RTM_NEWADDR / RTM_DELADDR as the kernel would send it. */
export function encodeAddrMsg(type: number, flags: number, seq: number, a: AddrInfo): Uint8Array {
  const body = new Uint8Array(IFADDRMSG_LEN);
  body[0] = familyToAf(a.family);
  body[1] = a.prefixlen;
  body[2] = a.flags & 0xff;
  body[3] = a.scope;
  dv(body).setUint32(4, a.ifindex >>> 0, true);
  const bytes = ipToBytes(a.family, a.address);
  const attrs: Uint8Array[] = [];
  attrs.push(encodeAttr(IFA_ADDRESS, a.peer !== undefined ? ipToBytes(a.family, a.peer) : bytes));
  if (a.family === 4 || a.peer !== undefined) attrs.push(encodeAttr(IFA_LOCAL, bytes));
  if (a.label !== undefined) attrs.push(attrString(IFA_LABEL, a.label));
  if (a.broadcast !== undefined) attrs.push(encodeAttr(IFA_BROADCAST, ipToBytes(a.family, a.broadcast)));
  attrs.push(attrU32(IFA_FLAGS, a.flags));
  return encodeMessage(type, flags, seq, 0, body, attrs);
}

/** RTA_GATEWAY for a next hop of the route's family, else RTA_VIA (address family + address, RFC 5549). */
function gatewayAttr(family: 4 | 6, gw: string): Uint8Array {
  const own = family === 4 ? parseIPv4(gw) : parseIPv6(gw);
  if (own) return encodeAttr(RTA_GATEWAY, own);
  const other = family === 4 ? parseIPv6(gw) : parseIPv4(gw);
  if (!other) throw new Error(`invalid gateway address: ${JSON.stringify(gw)}`);
  const via = new Uint8Array(2 + other.length);
  dv(via).setUint16(0, family === 4 ? AF_INET6 : AF_INET, true);
  via.set(other, 2);
  return encodeAttr(RTA_VIA, via);
}

/** RTM_NEWROUTE / RTM_DELROUTE as the kernel would send it. */
export function encodeRouteMsg(type: number, flags: number, seq: number, r: RouteInfo): Uint8Array {
  const body = new Uint8Array(RTMSG_LEN);
  body[0] = familyToAf(r.family);
  body[1] = r.dstLen;
  body[4] = r.table < 256 ? r.table : RT_TABLE_UNSPEC;
  body[5] = r.protocol;
  body[6] = r.scope;
  body[7] = r.type;
  const attrs: Uint8Array[] = [attrU32(RTA_TABLE, r.table)];
  const dst = ipToBytes(r.family, r.dst);
  if (r.dstLen > 0 || dst.some((x) => x !== 0)) attrs.push(encodeAttr(RTA_DST, dst));
  if (r.priority) attrs.push(attrU32(RTA_PRIORITY, r.priority));
  if (r.prefsrc !== undefined) attrs.push(encodeAttr(RTA_PREFSRC, ipToBytes(r.family, r.prefsrc)));
  // A multipath route carries its next hops in RTA_MULTIPATH; a top-level gateway or oif
  // is added only where it differs from what the first next hop gives the decoder.
  const first = r.multipath?.[0];
  if (r.multipath) {
    const hops = r.multipath.map((h) => {
      const gw = h.gateway !== null ? gatewayAttr(r.family, h.gateway) : new Uint8Array(0);
      const nh = new Uint8Array(RTNEXTHOP_LEN + gw.length);
      const v = dv(nh);
      v.setUint16(0, nh.length, true);
      nh[3] = Math.max(0, h.weight - 1);
      v.setInt32(4, h.oif, true);
      nh.set(gw, RTNEXTHOP_LEN);
      return nh;
    });
    attrs.push(encodeAttr(RTA_MULTIPATH, concat(hops)));
  }
  if (r.gateway !== null && r.gateway !== first?.gateway) attrs.push(gatewayAttr(r.family, r.gateway));
  if (r.oif && r.oif !== first?.oif) attrs.push(attrU32(RTA_OIF, r.oif));
  return encodeMessage(type, flags, seq, 0, body, attrs);
}

/** NLMSG_ERROR answering a request header, optionally with an ext-ack message (capped form). */
export function encodeErrorMsg(seq: number, error: number, orig: { type: number; flags: number; seq: number; pid: number },
  extAckMsg?: string): Uint8Array {
  const body = new Uint8Array(4 + NLMSG_HDRLEN);
  const v = dv(body);
  v.setInt32(0, error, true);
  v.setUint32(4, NLMSG_HDRLEN, true);
  v.setUint16(8, orig.type, true);
  v.setUint16(10, orig.flags, true);
  v.setUint32(12, orig.seq >>> 0, true);
  v.setUint32(16, orig.pid >>> 0, true);
  let flags = NLM_F_CAPPED;
  const attrs: Uint8Array[] = [];
  if (extAckMsg !== undefined) { flags |= NLM_F_ACK_TLVS; attrs.push(attrString(NLMSGERR_ATTR_MSG, extAckMsg)); }
  return encodeMessage(NLMSG_ERROR, flags, seq, 0, body, attrs);
}

/** NLMSG_DONE ending a dump. */
export function encodeDoneMsg(seq: number, status = 0): Uint8Array {
  const body = new Uint8Array(4);
  dv(body).setInt32(0, status, true);
  return encodeMessage(NLMSG_DONE, NLM_F_MULTI, seq, 0, body);
}

/** Concatenates messages into one datagram. */
export function concatMessages(msgs: Uint8Array[]): Uint8Array {
  return concat(msgs.map((m) => (m.length % 4 === 0 ? m : concat([m, new Uint8Array(nlAlign(m.length) - m.length)]))));
}
