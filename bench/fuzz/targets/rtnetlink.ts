/**
 * wire, from the kernel: the rtnetlink codec (src/io/rtnetlink-codec.ts) on
 * generated and mutated datagrams (links, addresses, routes with multipath and
 * RTA_VIA, errors with extended acks, done), and the event reader
 * (RtnetlinkEvents.drain) on the same bytes through a fake addon.
 *
 * Properties: splitting never throws and every message lies inside the
 * datagram; a message parser returns a value or throws NetlinkParseError with
 * a one-line message, nothing else; a decoded link, address or route encodes
 * again and decodes to the same value (the round trip); the event reader
 * delivers exactly the messages the parsers accept and reports the rest as
 * one-line errors, without throwing.
 */
import fc from 'fast-check';
import {
  AF_INET, NetlinkParseError, NLM_F_ACK_TLVS, NLM_F_MULTI, NLMSG_DONE, NLMSG_ERROR, RTM_DELADDR, RTM_DELLINK, RTM_DELROUTE,
  RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, RTA_VIA, concatMessages, encodeAddrMsg, encodeAttr, encodeDoneMsg, encodeErrorMsg,
  encodeLinkMsg, encodeMessage, encodeRouteMsg, formatIPv4, formatIPv6, parseAddr, parseDone, parseError, parseLink, parseRoute,
  splitMessages, type NlMsg, type OperState,
} from '../../../src/io/rtnetlink-codec.js';
import { RtnetlinkEvents } from '../../../src/io/rtnetlink.js';
import type { NativeAddon } from '../../../src/io/native.js';
import { assertOneLine, check, PropertyViolation, Tally, type FuzzTarget } from '../harness.js';
import { anyText, mutated } from '../mutate.js';

const name = fc.oneof(fc.constantFrom('eth0', 'eth1', 'ipmp0', 'lo', 'veth-x'), anyText(20));
const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatIPv4(b));
const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIPv6(b));
const u32 = fc.nat(0xffffffff >>> 0);
const nlType = (a: number, b: number) => fc.constantFrom(a, b);
const OPER: OperState[] = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];

const linkMsg = fc.record({
  type: nlType(RTM_NEWLINK, RTM_DELLINK), flags: fc.nat(0xffff), seq: u32,
  l: fc.record({
    ifindex: fc.integer({ min: -5, max: 1 << 20 }), name, flags: u32, type: fc.constantFrom(1, 772, 65534, 0),
    mtu: fc.nat(65536), mac: fc.option(fc.uint8Array({ minLength: 1, maxLength: 20 })), link: fc.option(u32), master: fc.option(u32),
    operstate: fc.option(fc.constantFrom(...OPER)), carrier: fc.option(fc.boolean()), kind: fc.option(fc.constantFrom('tun', 'veth', 'dummy', '')),
  }, { requiredKeys: ['ifindex'] }),
}).map(({ type, flags, seq, l }) => encodeLinkMsg(type, flags, seq, {
  ...l, mac: l.mac ?? null, link: l.link ?? undefined, master: l.master ?? undefined,
  operstate: l.operstate ?? undefined, carrier: l.carrier ?? undefined, kind: l.kind ?? undefined,
}));

const addrMsg = fc.oneof(
  fc.record({ family: fc.constant(4 as const), address: v4, peer: fc.option(v4), broadcast: fc.option(v4) }),
  fc.record({ family: fc.constant(6 as const), address: v6, peer: fc.option(v6), broadcast: fc.constant(null) }),
).chain((a) => fc.record({
  type: nlType(RTM_NEWADDR, RTM_DELADDR), flags: fc.nat(0xffff), seq: u32,
  ifindex: u32, prefixlen: fc.nat(a.family === 4 ? 32 : 128), aflags: u32, scope: fc.nat(255), label: fc.option(name),
}).map((m) => encodeAddrMsg(m.type, m.flags, m.seq, {
  family: a.family, ifindex: m.ifindex, prefixlen: m.prefixlen, address: a.address, flags: m.aflags, scope: m.scope,
  ...(a.peer !== null ? { peer: a.peer } : {}), ...(a.broadcast !== null ? { broadcast: a.broadcast } : {}),
  ...(m.label !== null ? { label: m.label } : {}),
})));

const routeMsg = fc.constantFrom(4 as const, 6 as const).chain((family) => {
  const addr = family === 4 ? v4 : v6;
  return fc.record({
    type: nlType(RTM_NEWROUTE, RTM_DELROUTE), flags: fc.nat(0xffff), seq: u32,
    table: fc.oneof(fc.constantFrom(254, 255, 253, 0), u32), dst: addr, dstLen: fc.nat(family === 4 ? 32 : 128),
    gateway: fc.option(addr), oif: fc.nat(1 << 16), priority: fc.nat(1 << 20), rtype: fc.nat(12), scope: fc.nat(255),
    protocol: fc.nat(255), prefsrc: fc.option(addr),
    multipath: fc.option(fc.array(fc.record({ gateway: fc.option(addr), oif: fc.nat(1 << 16), weight: fc.integer({ min: 1, max: 256 }) }),
      { minLength: 1, maxLength: 4 })),
  }).map((r) => encodeRouteMsg(r.type, r.flags, r.seq, {
    family, table: r.table, dst: r.dst, dstLen: r.dstLen, gateway: r.gateway, oif: r.oif, priority: r.priority,
    type: r.rtype, scope: r.scope, protocol: r.protocol, ...(r.prefsrc !== null ? { prefsrc: r.prefsrc } : {}),
    ...(r.multipath !== null ? { multipath: r.multipath } : {}),
  }));
});

/** A route whose gateway is given as RTA_VIA (family + address), as the kernel does for IPv4 routes via IPv6 next hops. */
const viaRouteMsg = fc.tuple(fc.constantFrom(4, 6), fc.constantFrom(AF_INET, 10, 0), fc.uint8Array({ maxLength: 18 }), fc.nat(0xffff))
  .map(([family, af, addr, flags]) => {
    const body = new Uint8Array(12);
    body[0] = family === 4 ? AF_INET : 10;
    body[7] = 1;
    const via = new Uint8Array(2 + addr.length);
    via[0] = af;
    via.set(addr, 2);
    return encodeMessage(RTM_NEWROUTE, flags, 1, 0, body, [encodeAttr(RTA_VIA, via)]);
  });

const errorMsg = fc.record({ seq: u32, error: fc.integer({ min: -200, max: 0 }), ext: fc.option(anyText(40)), t: fc.nat(0xffff) })
  .map((e) => encodeErrorMsg(e.seq, e.error, { type: e.t, flags: 5, seq: e.seq, pid: 0 }, e.ext ?? undefined));

const doneMsg = fc.tuple(u32, fc.integer({ min: -200, max: 0 })).map(([seq, st]) => encodeDoneMsg(seq, st));

const message = fc.oneof(linkMsg, addrMsg, routeMsg, viaRouteMsg, errorMsg, doneMsg);
const datagram = fc.array(message, { minLength: 1, maxLength: 4 }).map((ms) => concatMessages(ms));

/** The message types the event reader parses. */
const EVENT_TYPES = new Set([RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_DELADDR, RTM_NEWROUTE, RTM_DELROUTE]);

function canon(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? `hex:${Buffer.from(x).toString('hex')}` : x));
}

type Decoded = { kind: 'link' | 'addr' | 'route' | 'error' | 'done' | 'other'; value: unknown };

/** Parses one message the way its type says; null for a NetlinkParseError (checked to be one line). */
function decode(m: NlMsg): Decoded | null {
  try {
    switch (m.type) {
      case RTM_NEWLINK: case RTM_DELLINK: return { kind: 'link', value: parseLink(m) };
      case RTM_NEWADDR: case RTM_DELADDR: return { kind: 'addr', value: parseAddr(m) };
      case RTM_NEWROUTE: case RTM_DELROUTE: return { kind: 'route', value: parseRoute(m) };
      case NLMSG_ERROR: return { kind: 'error', value: parseError(m) };
      case NLMSG_DONE: return { kind: 'done', value: parseDone(m) };
      default: return { kind: 'other', value: null };
    }
  } catch (e) {
    if (!(e instanceof NetlinkParseError)) throw e;
    assertOneLine('NetlinkParseError', e.message);
    return null;
  }
}

/** Encodes a decoded link/address/route again and checks it decodes to the same value. */
function roundTrip(m: NlMsg, d: Decoded): void {
  if (d.value === null || (d.kind !== 'link' && d.kind !== 'addr' && d.kind !== 'route')) return;
  let bytes: Uint8Array;
  try {
    if (d.kind === 'link') bytes = encodeLinkMsg(m.type, m.flags, m.seq, d.value as ReturnType<typeof parseLink>);
    else if (d.kind === 'addr') bytes = encodeAddrMsg(m.type, m.flags, m.seq, d.value as NonNullable<ReturnType<typeof parseAddr>>);
    else bytes = encodeRouteMsg(m.type, m.flags, m.seq, d.value as NonNullable<ReturnType<typeof parseRoute>>);
  } catch (e) {
    throw new PropertyViolation(`decoded ${d.kind} cannot be encoded again: ${(e as Error).message}: ${canon(d.value)}`);
  }
  const s = splitMessages(bytes);
  check(s.error === null && s.msgs.length === 1, `re-encoded ${d.kind} does not split into one message`);
  const m2 = s.msgs[0]!;
  check(m2.type === m.type && m2.flags === m.flags && m2.seq === m.seq, `re-encoded ${d.kind} header differs`);
  const d2 = decode(m2);
  check(d2 !== null, `re-encoded ${d.kind} does not parse`);
  const a = canon(d.value);
  const b = canon(d2.value);
  check(a === b, () => `${d.kind} round trip differs:\n  decoded   ${a}\n  re-decoded ${b}`);
}

class FakeNetlink {
  datagram: Uint8Array | null = null;
  netlinkOpen(): number { return 30; }
  watch(): number { return 1; }
  unwatch(): void {}
  close(): number { return 0; }
  errnoName(e: number): string { return `E${-e}`; }
  strerror(e: number): string { return `errno ${-e}`; }
  recv(_fd: number, buf: Uint8Array, off: number, len: number): number {
    const d = this.datagram;
    if (d === null) return -11;
    this.datagram = null;
    const n = Math.min(d.length, len);
    buf.set(d.subarray(0, n), off);
    return n;
  }
}

export function rtnetlinkTarget(): FuzzTarget {
  const tally = new Tally();
  const fake = new FakeNetlink();
  let delivered = 0;
  const errors: Error[] = [];
  let events: RtnetlinkEvents;

  return {
    name: 'rtnetlink',
    about: 'rtnetlink codec and event reader on mutated datagrams: bounded splits, declared one-line errors, encode/decode round trip',
    input: () => fc.oneof(
      { weight: 3, arbitrary: datagram },
      { weight: 6, arbitrary: mutated(datagram, 4096) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
    ),
    setup() {
      events = new RtnetlinkEvents({
        onLink: () => { delivered++; },
        onAddr: () => { delivered++; },
        onRoute: () => { delivered++; },
        onOverrun: () => {},
        onError: (e) => { errors.push(e); },
      }, { native: fake as unknown as NativeAddon, bufSize: 65536 }).open();
    },
    run(input) {
      const s = splitMessages(input);
      if (s.error !== null) { assertOneLine('split error', s.error); tally.add('split:error'); }
      let end = 0;
      let expectDelivered = 0;
      let expectErrors = s.error !== null ? 1 : 0;
      for (const m of s.msgs) {
        const start = m.payload.byteOffset - input.byteOffset;
        check(start >= 16 && start + m.payload.length <= input.length && start >= end, 'message outside the datagram or overlapping');
        end = start + m.payload.length;
        const d = decode(m);
        if (d === null) {
          tally.add('parse:error');
          if (EVENT_TYPES.has(m.type)) expectErrors++;
          continue;
        }
        tally.add(`parse:${d.kind}${d.value === null ? ':null' : ''}`);
        if ((d.kind === 'link' || d.kind === 'addr' || d.kind === 'route') && d.value !== null) expectDelivered++;
        roundTrip(m, d);
      }
      if (s.msgs.length > 0 && (s.msgs[0]!.flags & NLM_F_MULTI) !== 0) tally.add('multi');
      if (s.msgs.some((m) => m.type === NLMSG_ERROR && (m.flags & NLM_F_ACK_TLVS) !== 0)) tally.add('ext-ack');

      delivered = 0;
      errors.length = 0;
      fake.datagram = input;
      events.drain();
      for (const e of errors) assertOneLine('event reader error', e.message);
      check(delivered === expectDelivered, `event reader delivered ${delivered} messages, the parsers accept ${expectDelivered}`);
      check(errors.length === expectErrors, () => `event reader reported ${errors.length} errors, expected ${expectErrors}: ${errors.map((e) => e.message).join(' | ')}`);
    },
    teardown() { events.close(); },
    outcomes: () => tally.toJSON(),
  };
}
