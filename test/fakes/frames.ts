/**
 * Frame builders for tests: IPv4 TCP/UDP/ICMP packets, Ethernet framing, vnet
 * headers and ARP frames, built on the src/wire writers.
 */
import { buildArpReply, buildArpRequest } from '../../src/wire/arp.js';
import { wr16, wr32 } from '../../src/wire/bytes.js';
import { inetChecksum, l4Checksum4 } from '../../src/wire/checksum.js';
import { ETH_HLEN, parseMac, writeEthHeader } from '../../src/wire/ethernet.js';
import { parseIpv4, setIpv4Checksum, writeIpv4Header } from '../../src/wire/ipv4.js';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from '../../src/wire/l4.js';
import { setVnetCsumOffset, setVnetCsumStart, setVnetFlags, setVnetGsoSize, setVnetGsoType, setVnetHdrLen, VNET_HDR_LEN } from '../../src/wire/vnet.js';

export const ip4 = parseIpv4;
export const mac = parseMac;

export interface Ipv4Opts {
  src: string | number;
  dst: string | number;
  sport?: number;
  dport?: number;
  /** Payload bytes after the L4 header. */
  payload?: number;
  id?: number;
  ttl?: number;
}

function addr(a: string | number): number {
  return typeof a === 'number' ? a >>> 0 : parseIpv4(a);
}

function ipv4(proto: number, l4Len: number, o: Ipv4Opts): Uint8Array {
  const payload = o.payload ?? 0;
  const total = 20 + l4Len + payload;
  const b = new Uint8Array(total);
  writeIpv4Header(b, 0, total, o.id ?? 1, o.ttl ?? 64, proto, addr(o.src), addr(o.dst));
  for (let i = 20 + l4Len; i < total; i++) b[i] = i & 0xff;
  return b;
}

/** IPv4 TCP segment (20-byte header, ACK set) with a correct checksum. */
export function tcp4(o: Ipv4Opts): Uint8Array {
  const b = ipv4(IPPROTO_TCP, 20, o);
  wr16(b, 20, o.sport ?? 40000);
  wr16(b, 22, o.dport ?? 80);
  wr32(b, 24, 1);
  b[32] = 0x50;
  b[33] = 0x10;
  wr16(b, 34, 65535);
  wr16(b, 36, l4Checksum4(b, 0, 20, b.length - 20, IPPROTO_TCP));
  return b;
}

/** IPv4 UDP datagram with a correct checksum. */
export function udp4(o: Ipv4Opts): Uint8Array {
  const b = ipv4(IPPROTO_UDP, 8, o);
  wr16(b, 20, o.sport ?? 40000);
  wr16(b, 22, o.dport ?? 53);
  wr16(b, 24, b.length - 20);
  wr16(b, 26, l4Checksum4(b, 0, 20, b.length - 20, IPPROTO_UDP) || 0xffff);
  return b;
}

/** IPv4 ICMP echo request with the given identifier (sport) and sequence (dport). */
export function icmpEcho4(o: Ipv4Opts): Uint8Array {
  const b = ipv4(IPPROTO_ICMP, 8, o);
  b[20] = 8;
  wr16(b, 24, o.sport ?? 1);
  wr16(b, 26, o.dport ?? 1);
  wr16(b, 22, inetChecksum(b, 20, b.length - 20));
  return b;
}

/** A minimal IPv6 header (version 6, no payload) for paths that do not forward IPv6. */
export function ipv6Stub(): Uint8Array {
  const b = new Uint8Array(40);
  b[0] = 0x60;
  b[6] = 59;
  b[7] = 64;
  b[23] = 1;
  b[39] = 2;
  return b;
}

export interface VnetOpts {
  flags?: number;
  gsoType?: number;
  hdrLen?: number;
  gsoSize?: number;
  csumStart?: number;
  csumOffset?: number;
}

/** A 10-byte virtio_net_hdr. */
export function vnet(o: VnetOpts = {}): Uint8Array {
  const b = new Uint8Array(VNET_HDR_LEN);
  setVnetFlags(b, 0, o.flags ?? 0);
  setVnetGsoType(b, 0, o.gsoType ?? 0);
  setVnetHdrLen(b, 0, o.hdrLen ?? 0);
  setVnetGsoSize(b, 0, o.gsoSize ?? 0);
  setVnetCsumStart(b, 0, o.csumStart ?? 0);
  setVnetCsumOffset(b, 0, o.csumOffset ?? 0);
  return b;
}

/** Ethernet frame: dst, src, ethertype, payload. */
export function eth(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(ETH_HLEN + payload.length);
  writeEthHeader(f, 0, dst, 0, src, 0, type);
  f.set(payload, ETH_HLEN);
  return f;
}

/** Broadcast ARP request: who has target, tell sender (senderMac). */
export function arpRequestFrame(senderMac: Uint8Array, sender: string | number, target: string | number): Uint8Array {
  return buildArpRequest(senderMac, addr(sender), addr(target));
}

/** Unicast ARP reply: sender is at senderMac, to targetMac/target. */
export function arpReplyFrame(senderMac: Uint8Array, sender: string | number, targetMac: Uint8Array, target: string | number): Uint8Array {
  return buildArpReply(senderMac, addr(sender), targetMac, addr(target));
}

/** The 4 key bytes of an IPv4 address, as the neighbour table takes them. */
export function key4(a: string | number): Uint8Array {
  const v = addr(a);
  return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}

/** A copy of an IPv4 packet (20-byte header) with a 4-byte router alert option inserted: IHL 6. */
export function withRouterAlert(base: Uint8Array): Uint8Array {
  const p = new Uint8Array(base.length + 4);
  p.set(base.subarray(0, 20));
  p.set([0x94, 0x04, 0x00, 0x00], 20);
  p.set(base.subarray(20), 24);
  p[0] = 0x46;
  wr16(p, 2, p.length);
  setIpv4Checksum(p, 0);
  return p;
}
