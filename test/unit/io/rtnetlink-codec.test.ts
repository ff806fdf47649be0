import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as c from '../../../src/io/rtnetlink-codec.js';

/** Bytes from hex text; spaces, newlines and `# comments` are ignored. */
function hex(s: string): Uint8Array {
  const clean = s.replace(/#[^\n]*/g, '').replace(/\s+/g, '');
  assert.equal(clean.length % 2, 0, 'odd hex fixture');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function ascii(s: string): string {
  return Array.from(s, (ch) => ch.charCodeAt(0).toString(16).padStart(2, '0')).join('');
}

function one(b: Uint8Array): c.NlMsg {
  const r = c.splitMessages(b);
  assert.equal(r.error, null);
  assert.equal(r.msgs.length, 1);
  return r.msgs[0]!;
}

// RTM_NEWLINK: veth0, ifindex 5, UP|BROADCAST|RUNNING|MULTICAST|LOWER_UP, mtu 1500, kind veth
const NEWLINK = hex(`
  60000000 1000 0200 04030201 00000000     # nlmsghdr len 96, RTM_NEWLINK, NLM_F_MULTI, seq 0x01020304
  00 00 0100 05000000 43100100 00000000    # ifinfomsg: AF_UNSPEC, ARPHRD_ETHER, index 5, flags 0x11043, change 0
  0a00 0300 ${ascii('veth0')} 00 0000      # IFLA_IFNAME "veth0"
  0800 0400 dc050000                       # IFLA_MTU 1500
  0a00 0100 020000000001 0000              # IFLA_ADDRESS 02:00:00:00:00:01
  0500 1000 06 000000                      # IFLA_OPERSTATE up
  0500 2100 01 000000                      # IFLA_CARRIER 1
  1000 1280 0900 0100 ${ascii('veth')} 00 000000  # IFLA_LINKINFO (nested) { IFLA_INFO_KIND "veth" }
`);

// RTM_NEWADDR IPv4: 198.18.0.2/24 brd 198.18.0.255 on ifindex 5, permanent
const NEWADDR4 = hex(`
  44000000 1400 0000 07000000 00000000
  02 18 80 00 05000000                     # ifaddrmsg: AF_INET, /24, IFA_F_PERMANENT, scope universe, index 5
  0800 0100 c6120002                       # IFA_ADDRESS
  0800 0200 c6120002                       # IFA_LOCAL
  0800 0400 c61200ff                       # IFA_BROADCAST
  0a00 0300 ${ascii('veth0')} 00 0000      # IFA_LABEL
  0800 0800 80000000                       # IFA_FLAGS
`);

// RTM_NEWADDR IPv6: 2001:db8::2/64, IFA_FLAGS = PERMANENT|NOPREFIXROUTE
const NEWADDR6 = hex(`
  48000000 1400 0000 08000000 00000000
  0a 40 80 00 05000000
  1400 0100 20010db8000000000000000000000002  # IFA_ADDRESS
  1400 0600 ffffffff ffffffff 01000000 02000000 # IFA_CACHEINFO
  0800 0800 80020000                        # IFA_FLAGS 0x280
`);

// RTM_NEWROUTE: 198.19.1.0/24 via 198.18.0.1 dev 5, table main, proto boot, unicast
const NEWROUTE4 = hex(`
  3c000000 1800 0200 09000000 00000000
  02 18 00 00 fe 03 00 01 00000000         # rtmsg: AF_INET, /24, table 254, proto 3, scope 0, RTN_UNICAST
  0800 0f00 fe000000                       # RTA_TABLE 254
  0800 0100 c6130100                       # RTA_DST
  0800 0500 c6120001                       # RTA_GATEWAY
  0800 0400 05000000                       # RTA_OIF 5
`);

// RTM_NEWROUTE IPv6 default, metric 1024, multipath via fe80::1 dev 5 and fe80::2 dev 6 (weight 2)
const NEWROUTE6MP = hex(`
  68000000 1800 0200 0a000000 00000000
  0a 00 00 00 fe 03 00 01 00000000
  0800 0f00 fe000000                       # RTA_TABLE
  0800 0600 00040000                       # RTA_PRIORITY 1024
  3c00 0900                                # RTA_MULTIPATH
    1c00 00 00 05000000 1400 0500 fe800000000000000000000000000001
    1c00 00 01 06000000 1400 0500 fe800000000000000000000000000002
`);

const EXTACK_TEXT = 'Nexthop has invalid gateway';
// NLMSG_ERROR -EEXIST, capped, with NLMSGERR_ATTR_MSG and NLMSGERR_ATTR_OFFS
const ERROR_EXTACK = hex(`
  4c000000 0200 0003 07000000 00000000     # NLMSG_ERROR, flags CAPPED|ACK_TLVS, seq 7
  efffffff                                 # error -17
  2c000000 1400 0506 07000000 00000000     # echoed request header: len 44, RTM_NEWADDR, seq 7
  2000 0100 ${ascii(EXTACK_TEXT)} 00       # NLMSGERR_ATTR_MSG (len 32)
  0800 0200 18000000                       # NLMSGERR_ATTR_OFFS 24
`);

// NLMSG_ERROR -EINVAL, not capped: the whole 24-byte request echoed, then TLVs
const ERROR_FULL = hex(`
  3c000000 0200 0002 08000000 00000000
  eaffffff
  18000000 1000 0500 08000000 00000000 0000010005000000   # echoed request (len 24)
  1000 0100 ${ascii('bad mtu')} 00 0000 0000  # NLMSGERR_ATTR_MSG "bad mtu" (len 12), padded
`);

const ACK = hex(`
  24000000 0200 0001 09000000 00000000     # NLMSG_ERROR, CAPPED, error 0
  00000000 1c000000 1300 0500 09000000 00000000
`);

const DONE = hex(`14000000 0300 0200 0a000000 00000000 00000000`);

describe('rtnetlink codec fixtures', () => {
  test('RTM_NEWLINK', () => {
    const m = one(NEWLINK);
    assert.equal(m.type, c.RTM_NEWLINK);
    assert.equal(m.flags, c.NLM_F_MULTI);
    assert.equal(m.seq, 0x01020304);
    const l = c.parseLink(m);
    assert.deepEqual({ ...l, mac: Array.from(l.mac!) }, {
      ifindex: 5, name: 'veth0', type: 1, flags: 0x11043, up: true, running: true, lowerUp: true,
      carrier: true, operstate: 'up', mtu: 1500, mac: [2, 0, 0, 0, 0, 1], kind: 'veth',
    });
  });

  test('RTM_NEWADDR IPv4', () => {
    const a = c.parseAddr(one(NEWADDR4));
    assert.deepEqual(a, {
      family: 4, ifindex: 5, prefixlen: 24, address: '198.18.0.2', flags: 0x80, scope: 0,
      broadcast: '198.18.0.255', label: 'veth0',
    });
  });

  test('RTM_NEWADDR IPv6', () => {
    const a = c.parseAddr(one(NEWADDR6));
    assert.deepEqual(a, { family: 6, ifindex: 5, prefixlen: 64, address: '2001:db8::2', flags: 0x280, scope: 0 });
    assert.ok(a!.flags & c.IFA_F_NOPREFIXROUTE);
  });

  test('RTM_NEWROUTE with gateway', () => {
    const r = c.parseRoute(one(NEWROUTE4));
    assert.deepEqual(r, {
      family: 4, table: 254, dst: '198.19.1.0', dstLen: 24, gateway: '198.18.0.1', oif: 5,
      priority: 0, type: c.RTN_UNICAST, scope: 0, protocol: 3,
    });
  });

  test('RTM_NEWROUTE IPv6 multipath: first nexthop surfaces as gateway/oif', () => {
    const r = c.parseRoute(one(NEWROUTE6MP))!;
    assert.equal(r.dst, '::');
    assert.equal(r.dstLen, 0);
    assert.equal(r.priority, 1024);
    assert.equal(r.gateway, 'fe80::1');
    assert.equal(r.oif, 5);
    assert.deepEqual(r.multipath, [
      { gateway: 'fe80::1', oif: 5, weight: 1 },
      { gateway: 'fe80::2', oif: 6, weight: 2 },
    ]);
  });

  test('NLMSG_ERROR with ext-ack (capped)', () => {
    const m = one(ERROR_EXTACK);
    const e = c.parseError(m);
    assert.deepEqual(e, { error: -17, origType: c.RTM_NEWADDR, origSeq: 7, extAckMsg: EXTACK_TEXT, extAckOffset: 24 });
  });

  test('NLMSG_ERROR with ext-ack after the full echoed request', () => {
    const e = c.parseError(one(ERROR_FULL));
    assert.equal(e.error, -22);
    assert.equal(e.origType, c.RTM_NEWLINK);
    assert.equal(e.extAckMsg, 'bad mtu');
  });

  test('ACK and DONE', () => {
    assert.deepEqual(c.parseError(one(ACK)), { error: 0, origType: c.RTM_SETLINK, origSeq: 9 });
    const d = one(DONE);
    assert.equal(d.type, c.NLMSG_DONE);
    assert.deepEqual(c.parseDone(d), { error: 0 });
  });

  test('several messages in one datagram', () => {
    const r = c.splitMessages(c.concatMessages([NEWLINK, NEWADDR4, NEWROUTE4, DONE]));
    assert.equal(r.error, null);
    assert.deepEqual(r.msgs.map((m) => m.type), [c.RTM_NEWLINK, c.RTM_NEWADDR, c.RTM_NEWROUTE, c.NLMSG_DONE]);
  });

  test('split honours offset and length', () => {
    const buf = new Uint8Array(8 + NEWADDR4.length + 8);
    buf.set(NEWADDR4, 8);
    const r = c.splitMessages(buf, 8, NEWADDR4.length);
    assert.equal(r.error, null);
    assert.equal(c.parseAddr(r.msgs[0]!)!.address, '198.18.0.2');
  });
});

describe('rtnetlink codec builders', () => {
  test('link set up / mtu', () => {
    const b = c.buildLinkSet(42, 7, { up: true, mtu: 1400 });
    assert.deepEqual(b, hex(`
      28000000 1000 0500 2a000000 00000000
      00 00 0000 07000000 01000000 01000000
      0800 0400 78050000
    `));
    const down = c.buildLinkSet(43, 7, { up: false });
    const m = one(down);
    const v = new DataView(m.payload.buffer, m.payload.byteOffset);
    assert.equal(v.getUint32(8, true), 0);        // flags
    assert.equal(v.getUint32(12, true), c.IFF_UP); // change mask
    const mtuOnly = one(c.buildLinkSet(44, 7, { mtu: 9000 }));
    assert.equal(new DataView(mtuOnly.payload.buffer, mtuOnly.payload.byteOffset).getUint32(12, true), 0);
  });

  test('get link by name', () => {
    const m = one(c.buildGetLink(3, 'rt0'));
    assert.equal(m.type, c.RTM_GETLINK);
    const attrs = c.parseAttrs(m.payload, 16, m.payload.length);
    assert.deepEqual(attrs.map((a) => [a.type, c.decodeCString(a.data)]), [[c.IFLA_IFNAME, 'rt0']]);
  });

  test('IPv4 address add: IFA_LOCAL, IFA_ADDRESS, IFA_BROADCAST, IFA_FLAGS', () => {
    const b = c.buildAddr(5, 'add', 9, 4, '198.18.0.2', 24, { broadcast: true, flags: c.IFA_F_NOPREFIXROUTE });
    const m = one(b);
    assert.equal(m.type, c.RTM_NEWADDR);
    assert.equal(m.flags, c.NLM_F_REQUEST | c.NLM_F_ACK | c.NLM_F_CREATE | c.NLM_F_EXCL);
    const a = c.parseAddr(m)!;
    assert.deepEqual(a, {
      family: 4, ifindex: 9, prefixlen: 24, address: '198.18.0.2', flags: c.IFA_F_NOPREFIXROUTE, scope: 0,
      broadcast: '198.18.0.255',
    });
    const types = c.parseAttrs(m.payload, 8, m.payload.length).map((x) => x.type);
    assert.deepEqual(types, [c.IFA_LOCAL, c.IFA_ADDRESS, c.IFA_BROADCAST, c.IFA_FLAGS]);
  });

  test('IPv6 address add with NODAD, and delete', () => {
    const m = one(c.buildAddr(6, 'add', 9, 6, '2001:db8::10', 64, { flags: c.IFA_F_NODAD }));
    assert.equal(m.payload[0], c.AF_INET6);
    assert.equal(m.payload[2], c.IFA_F_NODAD);
    assert.deepEqual(c.parseAddr(m), { family: 6, ifindex: 9, prefixlen: 64, address: '2001:db8::10', flags: c.IFA_F_NODAD, scope: 0 });
    const d = one(c.buildAddr(7, 'del', 9, 6, '2001:db8::10', 64));
    assert.equal(d.type, c.RTM_DELADDR);
    assert.equal(d.flags, c.NLM_F_REQUEST | c.NLM_F_ACK);
  });

  test('IPv6 address lifetimes: IFA_CACHEINFO with ifa_prefered and ifa_valid', () => {
    const m = one(c.buildAddr(8, 'add', 9, 6, '2001:db8::10', 64,
      { flags: c.IFA_F_NODAD, lifetimes: { preferred: 0, valid: c.LIFETIME_FOREVER } }, c.NLM_F_REQUEST | c.NLM_F_ACK | c.NLM_F_REPLACE));
    assert.equal(m.type, c.RTM_NEWADDR);
    const attrs = c.parseAttrs(m.payload, 8, m.payload.length);
    assert.deepEqual(attrs.map((x) => x.type), [c.IFA_ADDRESS, c.IFA_CACHEINFO, c.IFA_FLAGS]);
    const ci = attrs[1]!.data;
    assert.equal(ci.length, 16);
    const v = new DataView(ci.buffer, ci.byteOffset, ci.length);
    assert.deepEqual([v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true), v.getUint32(12, true)], [0, 0xffffffff, 0, 0]);
    assert.equal(c.LIFETIME_FOREVER, 0xffffffff);
    // Without lifetimes, no IFA_CACHEINFO (the kernel's default: forever).
    const plain = one(c.buildAddr(8, 'add', 9, 6, '2001:db8::10', 64, { flags: c.IFA_F_NODAD }));
    assert.ok(!c.parseAttrs(plain.payload, 8, plain.payload.length).some((x) => x.type === c.IFA_CACHEINFO));
    assert.throws(() => c.buildAddr(1, 'add', 1, 6, '2001:db8::1', 64, { lifetimes: { preferred: 0, valid: 0 } }), /invalid lifetimes: preferred 0, valid 0/);
    assert.throws(() => c.buildAddr(1, 'add', 1, 6, '2001:db8::1', 64, { lifetimes: { preferred: 20, valid: 10 } }), /invalid lifetimes/);
    assert.throws(() => c.buildAddr(1, 'add', 1, 6, '2001:db8::1', 64, { lifetimes: { preferred: -1, valid: 10 } }), /invalid preferred lifetime -1/);
  });

  test('address builder rejects bad input', () => {
    assert.throws(() => c.buildAddr(1, 'add', 1, 4, '198.18.0.256', 24), /invalid IPv4/);
    assert.throws(() => c.buildAddr(1, 'add', 1, 6, '2001:db8::1', 129), /prefix length/);
    assert.throws(() => c.buildAddr(1, 'add', 1, 6, '198.18.0.1', 64), /invalid IPv6/);
  });

  test('dump requests', () => {
    for (const [type, fam, bodyLen] of [[c.RTM_GETLINK, 0, 16], [c.RTM_GETADDR, 6, 8], [c.RTM_GETROUTE, 4, 12]] as const) {
      const m = one(c.buildDump(11, type, fam));
      assert.equal(m.type, type);
      assert.equal(m.flags, c.NLM_F_REQUEST | c.NLM_F_DUMP);
      assert.equal(m.payload.length, bodyLen);
      assert.equal(m.payload[0], c.familyToAf(fam));
    }
  });
});

describe('rtnetlink codec round trips', () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((t) => t.join('.'));
  const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => c.formatIPv6(b));

  test('IPv4/IPv6 text round trip', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (b) => {
      assert.deepEqual(c.parseIPv4(c.formatIPv4(b)), b);
    }));
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
      assert.deepEqual(c.parseIPv6(c.formatIPv6(b)), b);
    }));
    fc.assert(fc.property(fc.ipV6(), (s) => {
      const b = c.parseIPv6(s);
      assert.ok(b, s);
      assert.deepEqual(c.parseIPv6(c.formatIPv6(b)), b);
    }));
    assert.equal(c.formatIPv6(c.parseIPv6('2001:DB8:0:0:0:0:0:1')!), '2001:db8::1');
    assert.equal(c.formatIPv6(c.parseIPv6('2001:db8:0:1:0:0:1:1')!), '2001:db8:0:1::1:1');
    assert.equal(c.formatIPv6(c.parseIPv6('::ffff:198.18.0.1')!), '::ffff:198.18.0.1');
    for (const bad of ['', ':', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', 'g::1', '1:2:3:4:5:6:7', '::1.2.3', '12345::']) {
      assert.equal(c.parseIPv6(bad), null, bad);
    }
    for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', 'a.b.c.d', '']) {
      assert.equal(c.parseIPv4(bad), null, bad);
    }
  });

  test('links', () => {
    fc.assert(fc.property(
      fc.record({
        ifindex: fc.integer({ min: 1, max: 0x7fffffff }),
        name: fc.stringMatching(/^[a-z][a-z0-9]{0,14}$/),
        type: fc.constantFrom(1, 65534, 772),
        flags: fc.nat(0xfffff),
        mtu: fc.nat(0xffff),
        mac: fc.option(fc.uint8Array({ minLength: 6, maxLength: 6 }), { nil: null }),
        carrier: fc.boolean(),
        operstate: fc.constantFrom<c.OperState>('unknown', 'down', 'up', 'lowerlayerdown', 'dormant'),
        kind: fc.constantFrom('tun', 'veth', 'dummy'),
      }),
      (l) => {
        const got = c.parseLink(one(c.encodeLinkMsg(c.RTM_NEWLINK, 0, 1, l)));
        assert.deepEqual(got, {
          ...l, up: (l.flags & 1) !== 0, running: (l.flags & 0x40) !== 0, lowerUp: (l.flags & 0x10000) !== 0,
        });
      }));
  });

  test('addresses', () => {
    const addr = fc.oneof(
      fc.record({ family: fc.constant(4 as const), address: v4, prefixlen: fc.integer({ min: 0, max: 32 }) }),
      fc.record({ family: fc.constant(6 as const), address: v6, prefixlen: fc.integer({ min: 0, max: 128 }) }),
    );
    fc.assert(fc.property(addr, fc.integer({ min: 1, max: 0xffff }), fc.nat(0xfff), fc.constantFrom(0, 253, 254),
      (a, ifindex, flags, scope) => {
        const info: c.AddrInfo = { ...a, ifindex, flags, scope };
        assert.deepEqual(c.parseAddr(one(c.encodeAddrMsg(c.RTM_NEWADDR, 0, 1, info))), info);
        // the request builder carries the same fields
        const req = c.parseAddr(one(c.buildAddr(1, 'add', ifindex, a.family, a.address, a.prefixlen, { flags, scope })));
        assert.deepEqual(req, info);
      }));
  });

  test('routes', () => {
    const route = fc.oneof(
      fc.record({ family: fc.constant(4 as const), dst: v4, dstLen: fc.integer({ min: 1, max: 32 }), gateway: fc.option(v4, { nil: null }) }),
      fc.record({ family: fc.constant(6 as const), dst: v6, dstLen: fc.integer({ min: 1, max: 128 }), gateway: fc.option(v6, { nil: null }) }),
    );
    fc.assert(fc.property(route, fc.integer({ min: 1, max: 0xffff }), fc.nat(0xffffffff), fc.nat(0xffffffff),
      fc.constantFrom(1, 2, 3, 6), fc.constantFrom(0, 253, 254), fc.nat(255),
      (r, oif, table, priority, type, scope, protocol) => {
        const info: c.RouteInfo = { ...r, oif, table: table || 254, priority, type, scope, protocol };
        assert.deepEqual(c.parseRoute(one(c.encodeRouteMsg(c.RTM_NEWROUTE, 0, 1, info))), info);
      }));
  });

  test('error with ext-ack', () => {
    fc.assert(fc.property(fc.integer({ min: -4095, max: -1 }), fc.stringMatching(/^[ -~]{0,80}$/), fc.nat(0xffffffff),
      (err, text, seq) => {
        const b = c.encodeErrorMsg(seq, err, { type: c.RTM_NEWADDR, flags: 5, seq, pid: 0 }, text);
        const e = c.parseError(one(b));
        assert.deepEqual(e, { error: err, origType: c.RTM_NEWADDR, origSeq: seq, extAckMsg: text });
      }));
  });
});

describe('rtnetlink codec robustness', () => {
  const fixtures = [NEWLINK, NEWADDR4, NEWADDR6, NEWROUTE4, NEWROUTE6MP, ERROR_EXTACK, ERROR_FULL, ACK, DONE];

  /** Decodes everything in b the way the socket code does; only NetlinkParseError may escape a parser. */
  function decodeAll(b: Uint8Array, off = 0, len = b.length): void {
    const r = c.splitMessages(b, off, len);
    assert.ok(r.msgs.length <= b.length / 16 + 1);
    for (const m of r.msgs) {
      for (const f of [c.parseLink, c.parseAddr, c.parseRoute, c.parseError, c.parseDone]) {
        try {
          f(m);
        } catch (e) {
          if (!(e instanceof c.NetlinkParseError)) throw e;
        }
      }
    }
  }

  test('truncated fixtures split with an error and never read out of range', () => {
    for (const fx of fixtures) {
      for (let n = 0; n < fx.length; n++) {
        const r = c.splitMessages(fx.subarray(0, n));
        assert.equal(r.msgs.length, 0);
        if (n > 0) assert.match(r.error!, /truncated|exceeds|bad netlink/);
        decodeAll(fx.subarray(0, n));
      }
    }
  });

  test('short bodies raise NetlinkParseError', () => {
    const m: c.NlMsg = { type: c.RTM_NEWLINK, flags: 0, seq: 0, pid: 0, payload: new Uint8Array(3) };
    assert.throws(() => c.parseLink(m), c.NetlinkParseError);
    assert.throws(() => c.parseAddr(m), c.NetlinkParseError);
    assert.throws(() => c.parseRoute(m), c.NetlinkParseError);
    assert.throws(() => c.parseError(m), c.NetlinkParseError);
  });

  test('zero-length header does not loop', () => {
    const r = c.splitMessages(new Uint8Array(64));
    assert.equal(r.msgs.length, 0);
    assert.match(r.error!, /bad netlink message length 0/);
    // a zero-length attribute ends the walk
    const attrs = c.parseAttrs(hex('0000 0100 0800 0400 01000000'), 0, 12);
    assert.equal(attrs.length, 0);
  });

  test('random garbage', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(700), fc.nat(700), (b, off, len) => {
      decodeAll(b, off, len);
    }), { numRuns: 2000 });
  });

  test('mutated fixtures (random bytes overwritten, length fields kept plausible)', () => {
    fc.assert(fc.property(fc.constantFrom(...fixtures), fc.array(fc.tuple(fc.nat(200), fc.nat(255)), { maxLength: 8 }),
      fc.nat(200), (fx, edits, cut) => {
        const b = fx.slice(0, Math.max(16, fx.length - (cut % 8)));
        for (const [i, v] of edits) if (i < b.length && (i < 0 || i >= 4)) b[i] = v;
        // keep the outer length consistent so the inner walkers see the damage
        new DataView(b.buffer).setUint32(0, b.length, true);
        decodeAll(b);
      }), { numRuns: 5000 });
  });
});
