// Rtnetlink / RtnetlinkEvents against a scripted fake of the native addon.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { NativeAddon } from '../../../src/io/native.js';
import { Rtnetlink, RtnetlinkEvents, RtnetlinkError, RTNL_EVENT_GROUPS } from '../../../src/io/rtnetlink.js';
import * as c from '../../../src/io/rtnetlink-codec.js';

const NAMES: Record<number, [string, string]> = {
  17: ['EEXIST', 'File exists'], 99: ['EADDRNOTAVAIL', 'Cannot assign requested address'],
  19: ['ENODEV', 'No such device'], 22: ['EINVAL', 'Invalid argument'], 11: ['EAGAIN', 'Resource temporarily unavailable'],
  105: ['ENOBUFS', 'No buffer space available'], 110: ['ETIMEDOUT', 'Connection timed out'], 1: ['EPERM', 'Operation not permitted'],
};

type Reply = (req: c.NlMsg) => Array<Uint8Array | number>;

/** Fake addon: each sent request is answered by `reply`; datagrams (or -errno) queue for recv. */
class FakeNative {
  queue: Array<Uint8Array | number> = [];
  sent: c.NlMsg[] = [];
  opened: Array<{ proto: number; groups: number }> = [];
  closed: number[] = [];
  watchers = new Map<number, () => void>();
  reply: Reply = (req) => [c.encodeErrorMsg(req.seq, 0, req)];

  netlinkOpen(proto: number, groups: number): number { this.opened.push({ proto, groups }); return 40 + this.opened.length; }
  send(_fd: number, buf: Uint8Array, off: number, len: number): number {
    const copy = buf.slice(off, off + len);
    const { msgs } = c.splitMessages(copy);
    this.sent.push(...msgs);
    for (const m of msgs) this.queue.push(...this.reply(m));
    return len;
  }
  recv(_fd: number, buf: Uint8Array, off: number, len: number): number {
    const d = this.queue.shift();
    if (d === undefined) return -11;
    if (typeof d === 'number') return d;
    const n = Math.min(len, d.length);
    buf.set(d.subarray(0, n), off);
    return n;
  }
  pollIn(): number { return this.queue.length > 0 ? 1 : 0; }
  watch(fd: number, cb: () => void): number { this.watchers.set(fd, cb); return fd; }
  unwatch(id: number): void { this.watchers.delete(id); }
  close(fd: number): number { this.closed.push(fd); return 0; }
  errnoName(e: number): string { return NAMES[-e]?.[0] ?? `E${-e}`; }
  strerror(e: number): string { return NAMES[-e]?.[1] ?? `errno ${-e}`; }
}

function make(timeoutMs = 200): { f: FakeNative; rt: Rtnetlink } {
  const f = new FakeNative();
  const rt = new Rtnetlink({ native: f as unknown as NativeAddon, timeoutMs }).open();
  return { f, rt };
}

const link = (ifindex: number, name: string) => ({ ifindex, name, flags: c.IFF_UP, mtu: 1500 });

describe('Rtnetlink (fake addon)', () => {
  test('opens a NETLINK_ROUTE socket without groups and closes it', () => {
    const { f, rt } = make();
    assert.deepEqual(f.opened, [{ proto: 0, groups: 0 }]);
    rt.close();
    rt.close();
    assert.deepEqual(f.closed, [41]);
    assert.throws(() => rt.getLinks(), /socket not open/);
  });

  test('dump across several datagrams, skipping other sequence numbers', () => {
    const { f, rt } = make();
    f.reply = (req) => [
      c.encodeLinkMsg(c.RTM_NEWLINK, c.NLM_F_MULTI, req.seq - 1, link(99, 'stale')),
      c.concatMessages([
        c.encodeLinkMsg(c.RTM_NEWLINK, c.NLM_F_MULTI, req.seq, link(1, 'lo')),
        c.encodeLinkMsg(c.RTM_NEWLINK, c.NLM_F_MULTI, req.seq, link(2, 'eth0')),
      ]),
      c.concatMessages([
        c.encodeLinkMsg(c.RTM_NEWLINK, c.NLM_F_MULTI, req.seq, link(3, 'eth1')),
        c.encodeDoneMsg(req.seq),
      ]),
    ];
    assert.deepEqual(rt.getLinks().map((l) => l.name), ['lo', 'eth0', 'eth1']);
    assert.equal(f.sent[0]!.type, c.RTM_GETLINK);
    assert.equal(f.sent[0]!.flags, c.NLM_F_REQUEST | c.NLM_F_DUMP);
  });

  test('interrupted dump is repeated', () => {
    const { f, rt } = make();
    let n = 0;
    f.reply = (req) => {
      n++;
      const flags = c.NLM_F_MULTI | (n === 1 ? c.NLM_F_DUMP_INTR : 0);
      return [c.concatMessages([
        c.encodeAddrMsg(c.RTM_NEWADDR, flags, req.seq, { family: 4, ifindex: 2, prefixlen: 24, address: `198.18.0.${n}`, flags: 0, scope: 0 }),
        c.encodeDoneMsg(req.seq),
      ])];
    };
    assert.deepEqual(rt.getAddrs(4).map((a) => a.address), ['198.18.0.2']);
    assert.equal(f.sent.length, 2);
    assert.equal(f.sent[0]!.payload[0], c.AF_INET);
  });

  test('errors carry op, object, strerror, errno name and ext-ack text', () => {
    const { f, rt } = make();
    f.reply = (req) => [c.encodeErrorMsg(req.seq, -17, req, 'ipv4: Address already assigned')];
    assert.throws(() => rt.addAddr(3, 4, '198.18.0.2', 24), (e: unknown) => {
      assert.ok(e instanceof RtnetlinkError);
      assert.equal(e.message, 'rtnetlink addAddr 198.18.0.2/24 ifindex 3: File exists (EEXIST): ipv4: Address already assigned');
      assert.equal(e.errno, 17);
      assert.equal(e.code, 'EEXIST');
      assert.equal(e.extAck, 'ipv4: Address already assigned');
      return true;
    });
    assert.equal(f.sent[0]!.flags & c.NLM_F_EXCL, c.NLM_F_EXCL);
  });

  test('replace uses NLM_F_REPLACE and tolerates EEXIST', () => {
    const { f, rt } = make();
    f.reply = (req) => [c.encodeErrorMsg(req.seq, -17, req)];
    rt.addAddr(3, 6, '2001:db8::2', 64, { replace: true, nodad: true, noprefixroute: true });
    const m = f.sent[0]!;
    assert.equal(m.flags, c.NLM_F_REQUEST | c.NLM_F_ACK | c.NLM_F_CREATE | c.NLM_F_REPLACE);
    assert.equal(c.parseAddr(m)!.flags, c.IFA_F_NODAD | c.IFA_F_NOPREFIXROUTE);
  });

  test('setAddrLifetimes: RTM_NEWADDR with NLM_F_REPLACE (no CREATE), IFA_CACHEINFO and the flags; errors name the request', () => {
    const { f, rt } = make();
    rt.setAddrLifetimes(3, 6, '2001:db8::2', 64, 0, c.LIFETIME_FOREVER, { nodad: true });
    const m = f.sent[0]!;
    assert.equal(m.type, c.RTM_NEWADDR);
    assert.equal(m.flags, c.NLM_F_REQUEST | c.NLM_F_ACK | c.NLM_F_REPLACE);
    assert.equal(c.parseAddr(m)!.flags, c.IFA_F_NODAD);
    const ci = c.attrMap(c.parseAttrs(m.payload, 8, m.payload.length)).get(c.IFA_CACHEINFO)!;
    const v = new DataView(ci.buffer, ci.byteOffset, ci.length);
    assert.deepEqual([v.getUint32(0, true), v.getUint32(4, true)], [0, 0xffffffff]);
    f.reply = (req) => [c.encodeErrorMsg(req.seq, -22, req)];
    assert.throws(() => rt.setAddrLifetimes(3, 6, '2001:db8::2', 64, c.LIFETIME_FOREVER),
      /^RtnetlinkError: rtnetlink setAddrLifetimes 2001:db8::2\/64 ifindex 3 preferred 4294967295 valid 4294967295: Invalid argument \(EINVAL\)$/);
  });

  test('delAddr tolerates a missing address only when asked', () => {
    const { f, rt } = make();
    f.reply = (req) => [c.encodeErrorMsg(req.seq, -99, req)];
    assert.throws(() => rt.delAddr(3, 4, '198.18.0.2', 24), /\(EADDRNOTAVAIL\)/);
    rt.delAddr(3, 4, '198.18.0.2', 24, { ignoreMissing: true });
    f.reply = (req) => [c.encodeErrorMsg(req.seq, -1, req)];
    assert.throws(() => rt.delAddr(3, 4, '198.18.0.2', 24, { ignoreMissing: true }), /\(EPERM\)/);
  });

  test('getLink returns null for ENODEV and the link otherwise', () => {
    const { f, rt } = make();
    f.reply = (req) => [c.encodeErrorMsg(req.seq, -19, req)];
    assert.equal(rt.getLink('nope'), null);
    f.reply = (req) => [c.encodeLinkMsg(c.RTM_NEWLINK, 0, req.seq, link(7, 'ipmp0')), c.encodeErrorMsg(req.seq, 0, req)];
    assert.equal(rt.getLink(7)?.name, 'ipmp0');
  });

  test('setLinkUp / setMtu send RTM_NEWLINK with the right change mask', () => {
    const { f, rt } = make();
    rt.setLinkUp(5, true);
    rt.setMtu(5, 1400);
    const v = (m: c.NlMsg) => new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
    assert.equal(v(f.sent[0]!).getUint32(8, true), c.IFF_UP);
    assert.equal(v(f.sent[0]!).getUint32(12, true), c.IFF_UP);
    assert.equal(v(f.sent[1]!).getUint32(12, true), 0);
    assert.equal(f.sent[0]!.flags, c.NLM_F_REQUEST | c.NLM_F_ACK);
  });

  test('a missing answer times out instead of hanging', () => {
    const { f, rt } = make(50);
    f.reply = () => [];
    const t0 = Date.now();
    assert.throws(() => rt.setMtu(1, 1500), /no answer within 50 ms \(ETIMEDOUT\)/);
    assert.ok(Date.now() - t0 < 1000);
  });

  test('a dump that fails in NLMSG_DONE throws', () => {
    const { f, rt } = make();
    f.reply = (req) => [c.encodeDoneMsg(req.seq, -22)];
    assert.throws(() => rt.getRoutes(6), /: rtnetlink getRoutes IPv6: Invalid argument \(EINVAL\)$/);
  });
});

describe('RtnetlinkEvents (fake addon)', () => {
  function events() {
    const f = new FakeNative();
    const seen: string[] = [];
    const ev = new RtnetlinkEvents({
      onLink: (l, d) => seen.push(`link ${l.name} ${d ? 'del' : 'new'}`),
      onAddr: (a, d) => seen.push(`addr ${a.address} ${d ? 'del' : 'new'}`),
      onRoute: (r, d) => seen.push(`route ${r.dst}/${r.dstLen} ${d ? 'del' : 'new'}`),
      onOverrun: () => seen.push('overrun'),
      onError: (e) => seen.push(`error ${e.message}`),
    }, { native: f as unknown as NativeAddon });
    return { f, ev, seen };
  }

  test('subscribes to link, address and route groups and dispatches each kind', () => {
    const { f, ev, seen } = events();
    ev.start();
    assert.deepEqual(f.opened, [{ proto: 0, groups: RTNL_EVENT_GROUPS }]);
    assert.equal(RTNL_EVENT_GROUPS, 0x551);
    f.queue.push(
      c.concatMessages([
        c.encodeLinkMsg(c.RTM_NEWLINK, 0, 0, link(2, 'eth0')),
        c.encodeAddrMsg(c.RTM_DELADDR, 0, 0, { family: 6, ifindex: 2, prefixlen: 64, address: '2001:db8::1', flags: 0, scope: 0 }),
      ]),
      c.encodeRouteMsg(c.RTM_NEWROUTE, 0, 0, {
        family: 4, table: 254, dst: '198.19.1.0', dstLen: 24, gateway: '198.18.0.1', oif: 2, priority: 0, type: 1, scope: 0, protocol: 3,
      }),
      c.encodeLinkMsg(c.RTM_DELLINK, 0, 0, link(3, 'eth1')),
    );
    f.watchers.get(ev.fd)!();
    assert.deepEqual(seen, ['link eth0 new', 'addr 2001:db8::1 del', 'route 198.19.1.0/24 new', 'link eth1 del']);
    const fd = ev.fd;
    ev.close();
    assert.equal(f.watchers.size, 0);
    assert.deepEqual(f.closed, [fd]);
    assert.equal(ev.drain(), 0);
  });

  test('ENOBUFS calls onOverrun once per drain and reading continues', () => {
    const { f, ev, seen } = events();
    ev.open();
    f.queue.push(-105, c.encodeLinkMsg(c.RTM_NEWLINK, 0, 0, link(2, 'eth0')), -105);
    assert.equal(ev.drain(), 1);
    assert.deepEqual(seen, ['link eth0 new', 'overrun']);
    f.queue.push(c.encodeLinkMsg(c.RTM_NEWLINK, 0, 0, link(4, 'eth2')));
    ev.drain();
    assert.deepEqual(seen, ['link eth0 new', 'overrun', 'link eth2 new']);
  });

  test('malformed messages are reported and do not stop later ones', () => {
    const { f, ev, seen } = events();
    ev.open();
    const short = c.encodeMessage(c.RTM_NEWLINK, 0, 0, 0, new Uint8Array(4));
    f.queue.push(short, c.encodeLinkMsg(c.RTM_NEWLINK, 0, 0, link(2, 'eth0')), new Uint8Array([1, 2, 3]));
    ev.drain();
    assert.equal(seen.length, 3);
    assert.match(seen[0]!, /^error ifinfomsg too short/);
    assert.equal(seen[1], 'link eth0 new');
    assert.match(seen[2]!, /^error rtnetlink events: truncated netlink header/);
  });

  test('a throwing handler is reported, not propagated', () => {
    const f = new FakeNative();
    const errs: string[] = [];
    const ev = new RtnetlinkEvents({ onLink: () => { throw new Error('boom'); }, onError: (e) => errs.push(e.message) },
      { native: f as unknown as NativeAddon }).open();
    f.queue.push(c.encodeLinkMsg(c.RTM_NEWLINK, 0, 0, link(2, 'eth0')));
    ev.drain();
    assert.deepEqual(errs, ['boom']);
  });
});
