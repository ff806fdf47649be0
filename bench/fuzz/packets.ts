/**
 * Structured generators of valid packets and frames (the seeds the mutator
 * starts from, and inputs in their own right): IPv4 with options and
 * fragments, IPv6 with extension-header chains, TCP/UDP/SCTP/ICMP/ICMPv6,
 * Neighbour Discovery with option chains, ARP, VLAN tags, other ethertypes.
 *
 * Addresses come from the fuzz group (fuzz-group.ts): data addresses, peers
 * on the link, hosts behind the gateway, multicast and broadcast, plus random
 * ones, so the paths behind the address checks are reached.
 */
import fc from 'fast-check';
import { wr16, wr32 } from '../../src/wire/bytes.js';
import { inetChecksum, l4Checksum4, l4Checksum6 } from '../../src/wire/checksum.js';
import { writeIpv4Header } from '../../src/wire/ipv4.js';
import { writeIpv6Header } from '../../src/wire/ipv6.js';
import { parseIpv6 } from '../../src/wire/ipv6-text.js';
import { parseIpv4 } from '../../src/wire/ipv4.js';

// ---------------------------------------------------------------------------
// Addresses

export const V4 = {
  data0: parseIpv4('198.18.0.10'), data1: parseIpv4('198.18.0.11'), gw: parseIpv4('198.18.0.1'),
  peer: parseIpv4('198.18.0.50'), far: parseIpv4('198.19.0.77'), subnetBcast: parseIpv4('198.18.0.255'),
  bcast: 0xffffffff, mcast: parseIpv4('224.0.0.1'), mcast2: parseIpv4('239.1.2.3'), zero: 0,
  noRoute: parseIpv4('203.0.113.9'),
};
export const V6 = {
  data0: parseIpv6('2001:db8::10'), data1: parseIpv6('2001:db8::11'), gw: parseIpv6('2001:db8::1'),
  peer: parseIpv6('2001:db8::50'), far: parseIpv6('2001:db8:1::77'), allNodes: parseIpv6('ff02::1'),
  solicited0: parseIpv6('ff02::1:ff00:10'), linkLocal: parseIpv6('fe80::1'), zero: new Uint8Array(16),
  noRoute: parseIpv6('2001:db8:ffff::9'),
};

const v4Addr = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...Object.values(V4)) },
  { weight: 1, arbitrary: fc.nat(0xffffffff >>> 0) },
);
const v6Addr = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...Object.values(V6)) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 16, maxLength: 16 }) },
);

// ---------------------------------------------------------------------------
// Layer 4

const PROTOS = [6, 17, 1, 132, 136, 47, 58, 0, 255];

interface L4 { proto: number; bytes: Uint8Array; csumAt: number }

/** A TCP/UDP/SCTP/ICMP/ICMPv6/other transport header and payload (checksum filled in later). */
function l4(v6: boolean): fc.Arbitrary<L4> {
  return fc.record({
    proto: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...PROTOS) }, { weight: 1, arbitrary: fc.nat(255) }),
    sport: fc.nat(0xffff), dport: fc.nat(0xffff),
    icmpType: fc.oneof(fc.constantFrom(0, 8, 3, 11, 128, 129, 130, 133, 134, 135, 136, 137, 143), fc.nat(255)),
    payload: fc.oneof({ weight: 5, arbitrary: fc.nat(64) }, { weight: 2, arbitrary: fc.nat(1600) }),
    fill: fc.nat(255),
  }).map(({ proto, sport, dport, icmpType, payload, fill }) => {
    if (v6 && proto === 1) proto = 58;
    if (!v6 && proto === 58) proto = 1;
    const hlen = proto === 6 ? 20 : proto === 17 || proto === 136 ? 8 : proto === 132 ? 12 : proto === 1 || proto === 58 ? 8 : 0;
    const b = new Uint8Array(hlen + payload);
    for (let i = hlen; i < b.length; i++) b[i] = (fill + i) & 0xff;
    let csumAt = -1;
    if (proto === 6) { wr16(b, 0, sport); wr16(b, 2, dport); b[12] = 0x50; b[13] = 0x10; csumAt = 16; }
    else if (proto === 17 || proto === 136) { wr16(b, 0, sport); wr16(b, 2, dport); wr16(b, 4, b.length); csumAt = 6; }
    else if (proto === 132) { wr16(b, 0, sport); wr16(b, 2, dport); }
    else if (proto === 1 || proto === 58) { b[0] = icmpType; wr16(b, 4, sport); wr16(b, 6, dport); csumAt = 2; }
    return { proto, bytes: b, csumAt };
  });
}

// ---------------------------------------------------------------------------
// IPv4

export const ipv4Packet: fc.Arbitrary<Uint8Array> = fc.record({
  src: v4Addr, dst: v4Addr, l4: l4(false),
  options: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(10) }),
  frag: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(0xffff) }),
  ttl: fc.nat(255), id: fc.nat(0xffff),
}).map(({ src, dst, l4: t, options, frag, ttl, id }) => {
  const hlen = 20 + options * 4;
  const b = new Uint8Array(hlen + t.bytes.length);
  writeIpv4Header(b, 0, b.length, id, ttl, t.proto, src >>> 0, dst >>> 0);
  b[0] = 0x40 | (hlen >> 2);
  b.fill(1, 20, hlen); // NOP options
  wr16(b, 6, frag);
  b.set(t.bytes, hlen);
  if (t.csumAt >= 0) {
    const c = t.proto === 1 ? inetChecksum(b, hlen, t.bytes.length) : l4Checksum4(b, 0, hlen, t.bytes.length, t.proto);
    wr16(b, hlen + t.csumAt, c);
  }
  wr16(b, 10, 0);
  wr16(b, 10, inetChecksum(b, 0, hlen));
  return b;
});

// ---------------------------------------------------------------------------
// IPv6

const EXT = [0, 43, 44, 60, 51, 50, 59];

interface Ext { nh: number; len: number; fragOff: number; more: boolean }

const ext: fc.Arbitrary<Ext> = fc.record({
  nh: fc.constantFrom(...EXT), len: fc.nat(3), fragOff: fc.oneof(fc.constant(0), fc.nat(0x1fff)), more: fc.boolean(),
});

export const ipv6Packet: fc.Arbitrary<Uint8Array> = fc.record({
  src: v6Addr, dst: v6Addr, l4: l4(true),
  exts: fc.oneof({ weight: 3, arbitrary: fc.constant([] as Ext[]) }, { weight: 2, arbitrary: fc.array(ext, { maxLength: 10 }) }),
  hop: fc.nat(255), flow: fc.nat(0xfffff),
}).map(({ src, dst, l4: t, exts, hop, flow }) => {
  const sizes = exts.map((e) => (e.nh === 44 ? 8 : e.nh === 51 ? (e.len + 2) * 4 : e.nh === 50 || e.nh === 59 ? 0 : (e.len + 1) * 8));
  const extLen = sizes.reduce((a, x) => a + x, 0);
  const b = new Uint8Array(40 + extLen + t.bytes.length);
  const first = exts.length > 0 ? exts[0]!.nh : t.proto;
  writeIpv6Header(b, 0, b.length - 40, first, hop, src, 0, dst, 0);
  wr32(b, 0, (0x60000000 | flow) >>> 0);
  let p = 40;
  for (let i = 0; i < exts.length; i++) {
    const e = exts[i]!;
    const next = i + 1 < exts.length ? exts[i + 1]!.nh : t.proto;
    if (sizes[i] === 0) continue;
    b[p] = next;
    if (e.nh === 44) wr16(b, p + 2, (e.fragOff << 3) | (e.more ? 1 : 0));
    else b[p + 1] = e.len;
    p += sizes[i]!;
  }
  b.set(t.bytes, p);
  if (t.csumAt >= 0) wr16(b, p + t.csumAt, l4Checksum6(b, 0, p, t.bytes.length, t.proto));
  return b;
});

export const ipPacket = fc.oneof(ipv4Packet, ipv6Packet);

// ---------------------------------------------------------------------------
// Ethernet frames

export const MACS = {
  bcast: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
  allNodes: new Uint8Array([0x33, 0x33, 0, 0, 0, 1]),
  mcast4: new Uint8Array([0x01, 0x00, 0x5e, 0, 0, 1]),
  peer: new Uint8Array([0x52, 0x54, 0, 0, 0, 0x50]),
  gw: new Uint8Array([0x52, 0x54, 0, 0, 0, 0x01]),
};

function ethHeader(dst: Uint8Array, src: Uint8Array, type: number, vlans: number[], body: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + vlans.length * 4 + body.length);
  f.set(dst, 0);
  f.set(src, 6);
  let p = 12;
  for (const tag of vlans) { wr16(f, p, tag === 0 ? 0x8100 : 0x88a8); wr16(f, p + 2, tag & 0xfff); p += 4; }
  wr16(f, p, type);
  f.set(body, p + 2);
  return f;
}

const anyMac = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...Object.values(MACS)) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 6, maxLength: 6 }) },
);

/** ARP requests, replies, gratuitous ARP and probes about the group's addresses. */
export const arpBody: fc.Arbitrary<Uint8Array> = fc.record({
  op: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(1, 2) }, { weight: 1, arbitrary: fc.nat(0xffff) }),
  sha: anyMac, spa: v4Addr, tha: anyMac, tpa: v4Addr,
  htype: fc.oneof({ weight: 8, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.nat(0xffff) }),
  hlen: fc.oneof({ weight: 8, arbitrary: fc.constant(6) }, { weight: 1, arbitrary: fc.nat(255) }),
  plen: fc.oneof({ weight: 8, arbitrary: fc.constant(4) }, { weight: 1, arbitrary: fc.nat(255) }),
  pad: fc.nat(20),
}).map((a) => {
  const b = new Uint8Array(28 + a.pad);
  wr16(b, 0, a.htype); wr16(b, 2, 0x0800); b[4] = a.hlen; b[5] = a.plen; wr16(b, 6, a.op);
  b.set(a.sha, 8); wr32(b, 14, a.spa >>> 0); b.set(a.tha, 18); wr32(b, 24, a.tpa >>> 0);
  return b;
});

/** NS/NA with a chain of options (link-layer, prefix, nonce-like, zero-length). */
export const ndPacket: fc.Arbitrary<Uint8Array> = fc.record({
  type: fc.constantFrom(135, 136), src: v6Addr, dst: v6Addr, target: v6Addr,
  opts: fc.array(fc.record({ type: fc.oneof(fc.constantFrom(1, 2), fc.nat(255)), len: fc.oneof(fc.constant(1), fc.nat(4)), mac: anyMac }),
    { maxLength: 4 }),
  flags: fc.nat(255), hop: fc.oneof(fc.constant(255), fc.nat(255)),
}).map(({ type, src, dst, target, opts, flags, hop }) => {
  const optLen = opts.reduce((a, o) => a + Math.max(o.len, 0) * 8, 0);
  const icmpLen = 24 + optLen;
  const b = new Uint8Array(40 + icmpLen);
  writeIpv6Header(b, 0, icmpLen, 58, hop, src, 0, dst, 0);
  b[40] = type;
  b[44] = flags;
  b.set(target, 48);
  let p = 64;
  for (const o of opts) {
    if (o.len === 0) { b[p] = o.type; b[p + 1] = 0; continue; }
    b[p] = o.type; b[p + 1] = o.len; b.set(o.mac, p + 2); p += o.len * 8;
  }
  wr16(b, 42, l4Checksum6(b, 0, 40, icmpLen, 58));
  return b;
});

const ETHERTYPES = [0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8, 0x88cc, 0x8035, 0x0842, 0x05dc, 0xffff];

/** Ethernet frames: IPv4, IPv6, ND, ARP, VLAN-tagged, other ethertypes; to us, to a group, or to others. */
export const ethFrame: fc.Arbitrary<Uint8Array> = fc.record({
  dst: anyMac, src: anyMac,
  vlans: fc.oneof({ weight: 6, arbitrary: fc.constant([] as number[]) }, { weight: 1, arbitrary: fc.array(fc.nat(0x1fff), { maxLength: 3 }) }),
  body: fc.oneof(
    { weight: 3, arbitrary: ipv4Packet.map((b): [number, Uint8Array] => [0x0800, b]) },
    { weight: 2, arbitrary: ipv6Packet.map((b): [number, Uint8Array] => [0x86dd, b]) },
    { weight: 2, arbitrary: ndPacket.map((b): [number, Uint8Array] => [0x86dd, b]) },
    { weight: 2, arbitrary: arpBody.map((b): [number, Uint8Array] => [0x0806, b]) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...ETHERTYPES), fc.uint8Array({ maxLength: 80 })) },
  ),
  pad: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(40) }),
}).map((f) => {
  let [type, body] = f.body;
  if (f.pad > 0) { const p = new Uint8Array(body.length + f.pad); p.set(body); body = p; }
  return ethHeader(f.dst, f.src, type, f.vlans, body);
});

/** A virtio_net_hdr: mostly zero, sometimes checksum offload or GSO with plausible or random fields. */
export const vnetHeader: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(new Uint8Array(10)) },
  {
    weight: 2,
    arbitrary: fc.record({
      flags: fc.constantFrom(0, 1, 2, 3), gso: fc.constantFrom(0, 1, 3, 4, 5, 0x80, 0x81), hdrLen: fc.oneof(fc.constant(0), fc.nat(0xffff)),
      gsoSize: fc.oneof(fc.constant(1448), fc.nat(0xffff)), csumStart: fc.oneof(fc.constantFrom(20, 40, 34, 54), fc.nat(0xffff)),
      csumOffset: fc.constantFrom(6, 16, 0, 0xffff),
    }).map((v) => {
      const b = new Uint8Array(10);
      b[0] = v.flags; b[1] = v.gso;
      b[2] = v.hdrLen & 0xff; b[3] = v.hdrLen >> 8; b[4] = v.gsoSize & 0xff; b[5] = v.gsoSize >> 8;
      b[6] = v.csumStart & 0xff; b[7] = v.csumStart >> 8; b[8] = v.csumOffset & 0xff; b[9] = v.csumOffset >> 8;
      return b;
    }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 10, maxLength: 10 }) },
);

/** Concatenates byte arrays. */
export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
