/**
 * Exercises the native addon from inside a network namespace.
 *
 * Run as `ip netns exec NS node native-probe.js <scenario> [json-args]`; the
 * last stdout line is a JSON object of observations the test asserts on.
 * Failures of the probe itself go to stderr with a non-zero exit code.
 * Every interface it touches belongs to the namespace it runs in.
 */
import { execFileSync, execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { openSync, closeSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { loadNative, VNET_HDR_LEN, E, type NativeAddon } from '../../../src/io/native.js';

const n: NativeAddon = loadNative();

type Obs = Record<string, unknown>;

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function shOk(cmd: string, args: string[]): boolean {
  try {
    sh(cmd, args);
    return true;
  } catch {
    return false;
  }
}

function shAsync(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err) => (err ? reject(err) : resolve()));
  });
}

/** Polls pred every few ms until it holds or the deadline passes. */
async function waitFor(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return pred();
}

function ipChecksum(b: Uint8Array, off: number, len: number): number {
  let sum = 0;
  for (let i = 0; i < len; i += 2) sum += (b[off + i]! << 8) | b[off + i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ip4(s: string): number[] {
  return s.split('.').map(Number);
}

/** IPv4/UDP packet (UDP checksum 0: none) written at off; returns its length. */
function buildUdp4(buf: Uint8Array, off: number, src: string, dst: string, sport: number, dport: number,
  payload: Uint8Array): number {
  const total = 20 + 8 + payload.length;
  const dv = new DataView(buf.buffer, buf.byteOffset);
  buf.fill(0, off, off + total);
  buf[off] = 0x45;
  dv.setUint16(off + 2, total);
  buf[off + 8] = 64;
  buf[off + 9] = 17;
  buf.set(ip4(src), off + 12);
  buf.set(ip4(dst), off + 16);
  dv.setUint16(off + 10, ipChecksum(buf, off, 20));
  dv.setUint16(off + 20, sport);
  dv.setUint16(off + 22, dport);
  dv.setUint16(off + 24, 8 + payload.length);
  buf.set(payload, off + 28);
  return total;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

// ---------------------------------------------------------------- TUN

/** Opens a TUN, routes UDP into it, reads it back with tunReadBatch, writes replies with tunWriteBatch. */
async function tunRoundTrip(args: { name: string; vnetHdr: boolean }): Promise<Obs> {
  const { name, vnetHdr } = args;
  const h = n.tunOpen(name, { vnetHdr, multiQueue: false, persist: false });
  const obs: Obs = { handle: h, ifindexLookup: n.ifNameToIndex(name) };
  obs.linkShow = sh('ip', ['-o', 'link', 'show', name]);
  sh('ip', ['link', 'set', name, 'up']);
  sh('ip', ['addr', 'add', '198.18.0.1/24', 'dev', name]);

  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '198.18.0.1', () => r()));
  const myPort = sock.address().port;
  const got: string[] = [];
  sock.on('message', (m) => got.push(m.toString()));

  const probes = ['ipmp-probe-0', 'ipmp-probe-1', 'ipmp-probe-2'];
  for (const p of probes) await new Promise<void>((r, j) => sock.send(p, 4000, '198.18.0.2', (e) => (e ? j(e) : r())));

  const slot = 2048;
  const maxPkts = 8;
  // The vnet header and the data are placed apart to check both offsets are honoured.
  const vnetOff = vnetHdr ? 2 : -1;
  const dataOff = 16;
  const buf = new Uint8Array(slot * maxPkts);
  const lens = new Int32Array(maxPkts);
  const seen: { payload: string; len: number; vnet: number[]; gap: number[]; head: number[] }[] = [];
  const end = Date.now() + 3000;
  while (seen.length < probes.length && Date.now() < end) {
    buf.fill(0xaa);
    const c = n.tunReadBatch(h.fd, buf, slot, vnetOff, dataOff, maxPkts, lens, 200);
    if (c < 0) throw new Error(`tunReadBatch: ${n.errnoName(c)}`);
    for (let i = 0; i < c; i++) {
      const base = i * slot;
      const d = base + dataOff;
      if (buf[d]! >> 4 !== 4 || buf[d + 9] !== 17) continue; // not IPv4/UDP (e.g. IPv6 router solicitations)
      seen.push({
        payload: dec.decode(buf.subarray(d + 28, d + lens[i]!)),
        len: lens[i]!,
        vnet: vnetHdr ? Array.from(buf.subarray(base + vnetOff, base + vnetOff + VNET_HDR_LEN)) : [],
        gap: Array.from(buf.subarray(base + 12, base + 16)),
        head: Array.from(buf.subarray(base, base + 2)),
      });
    }
  }
  obs.read = seen;
  obs.emptyRead = n.tunReadBatch(h.fd, buf, slot, vnetOff, dataOff, maxPkts, lens, 0);

  // A packet larger than its slot is cut at the slot end, and lens says so.
  await new Promise<void>((r, j) => sock.send(Buffer.alloc(1000, 0x5a), 4000, '198.18.0.2', (e) => (e ? j(e) : r())));
  const small = 512;
  let bigLen = -1;
  const endBig = Date.now() + 3000;
  while (bigLen < 0 && Date.now() < endBig) {
    const c = n.tunReadBatch(h.fd, buf, small, vnetOff, dataOff, 2, lens, 200);
    for (let i = 0; i < c; i++) {
      const d = i * small + dataOff;
      if (buf[d]! >> 4 === 4 && buf[d + 9] === 17) bigLen = lens[i]!;
    }
  }
  obs.truncatedLen = bigLen;

  // Replies: two packets from 198.18.0.2 to our socket, written in one batch.
  const wbuf = new Uint8Array(4096);
  const vOffs = new Int32Array(2);
  const offs = new Int32Array(2);
  const wl = new Int32Array(2);
  for (let i = 0; i < 2; i++) {
    vOffs[i] = vnetHdr ? 1000 + i * 16 : -1; // zeroed virtio header: no offload requested
    offs[i] = 100 + i * 200;
    wl[i] = buildUdp4(wbuf, offs[i]!, '198.18.0.2', '198.18.0.1', 4000, myPort, enc.encode(`ipmp-reply-${i}`));
  }
  obs.written = n.tunWriteBatch(h.fd, wbuf, vOffs, offs, wl, 2);
  await waitFor(() => got.length >= 2, 3000);
  obs.replies = got.slice().sort();
  sock.close();

  // Bounds are checked before any write.
  try {
    n.tunWriteBatch(h.fd, wbuf, vOffs, new Int32Array([4090, 0]), wl, 2);
    obs.outOfBounds = 'no throw';
  } catch (e) {
    obs.outOfBounds = (e as Error).name;
  }

  obs.closeRc = n.close(h.fd);
  obs.goneAfterClose = await waitFor(() => !shOk('ip', ['link', 'show', name]), 3000);
  obs.closeAgain = n.close(h.fd);
  return obs;
}

function tunPersistCreate(args: { name: string }): Obs {
  const h = n.tunOpen(args.name, { vnetHdr: false, multiQueue: false, persist: true });
  return { handle: h, closeRc: n.close(h.fd) };
}

async function tunReattach(args: { name: string }): Promise<Obs> {
  const h = n.tunOpen(args.name, { vnetHdr: true, multiQueue: false, persist: true });
  const obs: Obs = { handle: h };
  sh('ip', ['link', 'set', args.name, 'up']);
  n.tunSetCarrier(h.fd, false);
  obs.noCarrier = sh('ip', ['-o', 'link', 'show', args.name]).includes('NO-CARRIER');
  n.tunSetCarrier(h.fd, true);
  obs.carrierBack = !sh('ip', ['-o', 'link', 'show', args.name]).includes('NO-CARRIER');
  n.tunSetOffload(h.fd, 0);
  n.tunSetPersist(h.fd, false);
  obs.closeRc = n.close(h.fd);
  obs.goneAfterClose = await waitFor(() => !shOk('ip', ['link', 'show', args.name]), 3000);
  return obs;
}

function tunMultiQueue(args: { name: string }): Obs {
  const a = n.tunOpen(args.name, { vnetHdr: false, multiQueue: true, persist: false });
  const b = n.tunOpen(args.name, { vnetHdr: false, multiQueue: true, persist: false });
  const obs = { a, b };
  n.close(a.fd);
  n.close(b.fd);
  return obs;
}

// ---------------------------------------------------------------- AF_PACKET

const ETH_OK = 0x88b5;
const ETH_OTHER = 0x88b6;

/** ldh [12]; jeq #ETH_OK, accept, drop — 8 bytes per instruction, host order. */
function etherTypeFilter(type: number): Uint8Array {
  const ins: [number, number, number, number][] = [
    [0x28, 0, 0, 12],
    [0x15, 0, 1, type],
    [0x06, 0, 0, 0x40000],
    [0x06, 0, 0, 0],
  ];
  const out = new Uint8Array(ins.length * 8);
  const dv = new DataView(out.buffer);
  ins.forEach(([code, jt, jf, k], i) => {
    dv.setUint16(i * 8, code, true);
    out[i * 8 + 2] = jt;
    out[i * 8 + 3] = jf;
    dv.setUint32(i * 8 + 4, k, true);
  });
  return out;
}

function frame(buf: Uint8Array, off: number, etherType: number, marker: number): number {
  const len = 60;
  buf.fill(0, off, off + len);
  buf.fill(0xff, off, off + 6);
  buf.set([0x02, 0, 0, 0, 0, 0x01], off + 6);
  buf[off + 12] = etherType >> 8;
  buf[off + 13] = etherType & 0xff;
  buf[off + 14] = marker;
  buf.set(enc.encode('ipmp-frame'), off + 15);
  return len;
}

async function packet(args: { a0: string; b0: string; a1: string; b1: string }): Promise<Obs> {
  const obs: Obs = {};
  const idx = (s: string) => n.ifNameToIndex(s);
  const filt = etherTypeFilter(ETH_OK);
  const base = { vnetHdr: false, rcvbuf: 1 << 20, sndbuf: 1 << 20, ignoreOutgoing: false, filter: filt, nonblock: true };
  const sa0 = n.packetOpen(idx(args.a0), { ...base, ignoreOutgoing: true });
  const seeOut = n.packetOpen(idx(args.a0), base);
  const sa1 = n.packetOpen(idx(args.a1), { ...base, filter: new Uint8Array(0) });
  const rb0 = n.packetOpen(idx(args.b0), base);
  const rb1 = n.packetOpen(idx(args.b1), { ...base, vnetHdr: true });
  const rbAll = n.packetOpen(idx(args.b0), { ...base, filter: new Uint8Array(0), rcvbuf: 0, sndbuf: 0 });
  n.setTimestamping(rbAll, true);

  // Multicast membership shows in the device's link-layer multicast list.
  const mac = new Uint8Array([0x01, 0x00, 0x5e, 0x7f, 0x00, 0x01]);
  n.packetMembership(rb0, idx(args.b0), mac, true);
  obs.maddrAfterAdd = sh('ip', ['maddr', 'show', 'dev', args.b0]).includes('01:00:5e:7f:00:01');
  n.packetMembership(rb0, idx(args.b0), mac, false);
  obs.maddrAfterDrop = sh('ip', ['maddr', 'show', 'dev', args.b0]).includes('01:00:5e:7f:00:01');
  try {
    n.packetMembership(rb0, idx(args.b0), new Uint8Array(5), true);
    obs.badMac = 'no throw';
  } catch (e) {
    obs.badMac = (e as Error).name;
  }

  // Nothing is queued yet, so a short wait times out with 0.
  const slot = 256;
  const dataOff = 4;
  const maxPkts = 16;
  const rbuf = new Uint8Array(slot * maxPkts);
  const lens = new Int32Array(maxPkts);
  const src = new Int32Array(maxPkts);
  const fds = new Int32Array([rb0, rb1]);
  const t0 = Date.now();
  obs.idleRecv = n.packetRecvBatch(fds, 2, rbuf, slot, dataOff, maxPkts, lens, src, 50);
  obs.idleMs = Date.now() - t0;

  // One batch: a frame the filter rejects, then three it accepts, on two sockets (two sendmmsg runs).
  const sbuf = new Uint8Array(1024);
  const sfds = new Int32Array([sa0, sa0, sa0, sa1]);
  const offs = new Int32Array([0, 100, 200, 300]);
  const slens = new Int32Array(4);
  slens[0] = frame(sbuf, 0, ETH_OTHER, 9);
  slens[1] = frame(sbuf, 100, ETH_OK, 0);
  slens[2] = frame(sbuf, 200, ETH_OK, 1);
  slens[3] = frame(sbuf, 300, ETH_OK, 2);
  obs.sent = n.packetSendBatch(sfds, sbuf, offs, slens, 4);

  const rx: { src: number; len: number; etherType: number; marker: number }[] = [];
  const end = Date.now() + 3000;
  while (rx.length < 3 && Date.now() < end) {
    const c = n.packetRecvBatch(fds, 2, rbuf, slot, dataOff, maxPkts, lens, src, 200);
    if (c < 0) throw new Error(`packetRecvBatch: ${n.errnoName(c)}`);
    for (let i = 0; i < c; i++) {
      // rb1 carries a virtio header in front of the frame.
      const f = i * slot + dataOff + (src[i] === 1 ? VNET_HDR_LEN : 0);
      rx.push({ src: src[i]!, len: lens[i]!, etherType: (rbuf[f + 12]! << 8) | rbuf[f + 13]!, marker: rbuf[f + 14]! });
    }
  }
  obs.received = rx;
  obs.afterDrain = n.packetRecvBatch(fds, 2, rbuf, slot, dataOff, maxPkts, lens, src, 50);

  // Outgoing copies: seen by the plain socket, not by the PACKET_IGNORE_OUTGOING one.
  const outFds = new Int32Array([seeOut, sa0]);
  const out: number[] = [];
  const end2 = Date.now() + 2000;
  while (out.length < 2 && Date.now() < end2) {
    const c = n.packetRecvBatch(outFds, 2, rbuf, slot, 0, maxPkts, lens, src, 100);
    for (let i = 0; i < c; i++) out.push(src[i]!);
  }
  obs.outgoingSrc = out;

  // The unfiltered socket gets the rejected frame too, with a kernel timestamp.
  const ts = new BigInt64Array(1);
  const one = new Uint8Array(2048);
  let other: { len: number; tsNs: string; marker: number } | null = null;
  const end3 = Date.now() + 3000;
  while (!other && Date.now() < end3) {
    if (n.pollIn(rbAll, 200) !== 1) continue;
    for (;;) {
      const r = n.recv(rbAll, one, 8, 1024, ts);
      if (r < 0) break;
      if (((one[8 + 12]! << 8) | one[8 + 13]!) === ETH_OTHER) {
        other = { len: r, tsNs: ts[0]!.toString(), marker: one[8 + 14]! };
        break;
      }
    }
  }
  obs.unfiltered = other;
  obs.nowNs = (BigInt(Date.now()) * 1000000n).toString();
  obs.recvEmpty = n.recv(rbAll, one, 0, 1024);
  while (obs.recvEmpty !== -E.EAGAIN && (obs.recvEmpty as number) > 0) obs.recvEmpty = n.recv(rbAll, one, 0, 1024);

  // A readiness mask from the caller's own poll: with timeout 0 only the marked sockets are read.
  slens[0] = frame(sbuf, 0, ETH_OK, 3);
  slens[1] = frame(sbuf, 100, ETH_OK, 4);
  obs.sentMasked = n.packetSendBatch(new Int32Array([sa0, sa1]), sbuf, new Int32Array([0, 100]), slens, 2);
  const pr = new Uint8Array(2);
  const end4 = Date.now() + 3000;
  while (Date.now() < end4 && !(n.pollFds(fds, 2, pr, 100) === 2)) { /* until both are readable */ }
  const masked = (mask: number[]): { src: number; marker: number }[] => {
    const c = n.packetRecvBatch(fds, 2, rbuf, slot, dataOff, maxPkts, lens, src, 0, new Uint8Array(mask));
    const got: { src: number; marker: number }[] = [];
    for (let i = 0; i < c; i++) got.push({ src: src[i]!, marker: rbuf[i * slot + dataOff + (src[i] === 1 ? VNET_HDR_LEN : 0) + 14]! });
    return got;
  };
  obs.maskedSecond = masked([0, 1]);
  obs.maskedFirst = masked([1, 0]);
  obs.maskedNone = masked([1, 1]);
  try {
    n.packetRecvBatch(fds, 2, rbuf, slot, dataOff, maxPkts, lens, src, 0, new Uint8Array(1));
    obs.shortMask = 'no throw';
  } catch (e) {
    obs.shortMask = (e as Error).name;
  }

  for (const fd of [sa0, seeOut, sa1, rb0, rb1, rbAll]) n.close(fd);
  // Hot path on a closed descriptor: a negative errno, no exception.
  obs.sendClosed = n.packetSendBatch(new Int32Array([sa0]), sbuf, new Int32Array([0]), new Int32Array([60]), 1);
  obs.recvClosed = n.packetRecvBatch(new Int32Array([sa0]), 1, rbuf, slot, 0, 1, lens, src, 0);
  return obs;
}

// ---------------------------------------------------------------- netlink

const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const NLMSG_DONE = 3;
const NLMSG_ERROR = 2;

interface NlMsg { type: number; seq: number; ifindex: number; ifname: string | null }

function parseNl(buf: Uint8Array, len: number): NlMsg[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, len);
  const out: NlMsg[] = [];
  let off = 0;
  while (off + 16 <= len) {
    const mlen = dv.getUint32(off, true);
    if (mlen < 16 || off + mlen > len) break;
    const type = dv.getUint16(off + 4, true);
    const seq = dv.getUint32(off + 8, true);
    let ifindex = 0;
    let ifname: string | null = null;
    if (type === RTM_NEWLINK && mlen >= 32) {
      ifindex = dv.getInt32(off + 20, true);
      let a = off + 32;
      while (a + 4 <= off + mlen) {
        const alen = dv.getUint16(a, true);
        const atype = dv.getUint16(a + 2, true);
        if (alen < 4) break;
        if (atype === 3) ifname = dec.decode(buf.subarray(a + 4, a + alen)).replace(/\0.*$/, '');
        a += (alen + 3) & ~3;
      }
    }
    out.push({ type, seq, ifindex, ifname });
    off += (mlen + 3) & ~3;
  }
  return out;
}

function getlinkRequest(seq: number): Uint8Array {
  const req = new Uint8Array(32);
  const dv = new DataView(req.buffer);
  dv.setUint32(0, 32, true);
  dv.setUint16(4, RTM_GETLINK, true);
  dv.setUint16(6, 0x1 | 0x300, true); // NLM_F_REQUEST | NLM_F_DUMP
  dv.setUint32(8, seq, true);
  req[16] = 0; // ifi_family AF_UNSPEC
  return req;
}

/** Dumps links over a fresh NETLINK_ROUTE socket. */
function linkDump(): { sent: number; links: NlMsg[]; done: boolean; errors: number } {
  const fd = n.netlinkOpen(0, 0);
  const req = getlinkRequest(4242);
  const sent = n.send(fd, req, 0, req.length);
  const buf = new Uint8Array(65536);
  const links: NlMsg[] = [];
  let done = false;
  let errors = 0;
  const end = Date.now() + 3000;
  while (!done && Date.now() < end) {
    if (n.pollIn(fd, 200) !== 1) continue;
    const r = n.recv(fd, buf, 0, buf.length);
    if (r < 0) continue;
    for (const m of parseNl(buf, r)) {
      if (m.seq !== 4242) continue;
      if (m.type === RTM_NEWLINK) links.push(m);
      else if (m.type === NLMSG_DONE) done = true;
      else if (m.type === NLMSG_ERROR) errors++;
    }
  }
  n.close(fd);
  return { sent, links, done, errors };
}

/** Watches a RTMGRP_LINK socket and waits for the creation of `ifname`. */
function watchForLink(fd: number, ifname: string, onCall: () => void): Promise<boolean> {
  const buf = new Uint8Array(65536);
  return new Promise((resolve) => {
    const id = n.watch(fd, () => {
      onCall();
      for (;;) {
        const r = n.recv(fd, buf, 0, buf.length);
        if (r < 0) break;
        if (parseNl(buf, r).some((m) => m.type === RTM_NEWLINK && m.ifname === ifname)) {
          n.unwatch(id);
          resolve(true);
          return;
        }
      }
    });
    setTimeout(() => { n.unwatch(id); resolve(false); }, 3000).unref();
  });
}

async function netlink(): Promise<Obs> {
  const obs: Obs = {};
  const dump = linkDump();
  obs.dumpSent = dump.sent;
  obs.dumpDone = dump.done;
  obs.dumpErrors = dump.errors;
  obs.links = dump.links.map((l) => ({ ifindex: l.ifindex, ifname: l.ifname }));

  const ev = n.netlinkOpen(0, 1 /* RTMGRP_LINK */);
  n.netlinkAddGroup(ev, 11 /* RTNLGRP_IPV6_ROUTE */);
  let calls = 0;
  const seen = watchForLink(ev, 'nlw0', () => calls++);
  await shAsync('ip', ['link', 'add', 'nlw0', 'type', 'veth', 'peer', 'name', 'nlw1']);
  obs.eventSeen = await seen;
  obs.callsAtEvent = calls;

  // After unwatch the callback stays quiet even though the socket becomes readable.
  await shAsync('ip', ['link', 'del', 'nlw0']);
  obs.readableAfterUnwatch = n.pollIn(ev, 3000);
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  obs.callsAfterUnwatch = calls;
  n.close(ev);

  // close() of a watched fd stops its watcher; a later socket that reuses the
  // descriptor number is watched independently, and unwatch of the stale id
  // does not disturb it.
  const old = n.netlinkOpen(0, 0);
  let oldCalls = 0;
  const oldId = n.watch(old, () => oldCalls++);
  n.close(old);
  const reused = n.netlinkOpen(0, 0);
  obs.fdReused = reused === old;
  const rbuf = new Uint8Array(65536);
  let newCalls = 0;
  const drain = () => { while (n.recv(reused, rbuf, 0, rbuf.length) > 0); };
  const newId = n.watch(reused, () => { newCalls++; drain(); });
  const req = getlinkRequest(7);
  n.send(reused, req, 0, req.length);
  await waitFor(() => newCalls >= 1, 3000);
  n.unwatch(oldId);
  const before = newCalls;
  n.send(reused, req, 0, req.length);
  await waitFor(() => newCalls > before, 3000);
  obs.reuse = { oldCalls, newCallsFirst: before, newCallsAfterStaleUnwatch: newCalls };
  n.unwatch(newId);
  n.close(reused);
  return obs;
}

// ---------------------------------------------------------------- worker threads

async function worker(): Promise<Obs> {
  const obs: Obs = {};
  // The main thread uses the addon too: two environments side by side.
  obs.mainDumpLinks = linkDump().links.length;
  const w = new Worker(fileURLToPath(import.meta.url), { workerData: { role: 'watcher' } });
  const msgs: Obs[] = [];
  w.on('message', (m: Obs) => msgs.push(m));
  let exitCode: number | null = null;
  w.on('exit', (c) => { exitCode = c; });
  w.on('error', (e) => msgs.push({ error: String(e) }));
  await waitFor(() => msgs.some((m) => m.ready !== undefined || m.error !== undefined), 5000);
  await shAsync('ip', ['link', 'add', 'wkr0', 'type', 'veth', 'peer', 'name', 'wkr1']);
  await waitFor(() => msgs.some((m) => m.event !== undefined || m.error !== undefined), 5000);
  obs.messages = msgs.slice();
  // Terminated with its watcher still active: the environment teardown closes it.
  await w.terminate();
  await waitFor(() => exitCode !== null, 3000);
  obs.exitCode = exitCode;
  obs.mainAfterWorker = linkDump().links.length;
  // Workers that exit on their own with watchers still active, several in a row.
  const exits: number[] = [];
  for (let i = 0; i < 3; i++) {
    const w2 = new Worker(fileURLToPath(import.meta.url), { workerData: { role: 'exiter' } });
    exits.push(await new Promise<number>((resolve) => w2.on('exit', resolve)));
  }
  obs.selfExits = exits;
  await shAsync('ip', ['link', 'del', 'wkr0']);
  return obs;
}

function workerMain(): void {
  const port = parentPort!;
  const dump = linkDump();
  const fd = n.netlinkOpen(0, 1);
  const buf = new Uint8Array(65536);
  n.watch(fd, () => {
    for (;;) {
      const r = n.recv(fd, buf, 0, buf.length);
      if (r < 0) break;
      if (parseNl(buf, r).some((m) => m.type === RTM_NEWLINK && m.ifname === 'wkr0')) port.postMessage({ event: 'wkr0' });
    }
  });
  port.postMessage({ ready: dump.links.length });
}

// ---------------------------------------------------------------- errors

function errors(): Obs {
  const obs: Obs = {};
  const capture = (f: () => unknown) => {
    try {
      f();
      return { threw: false };
    } catch (e) {
      const err = e as Error & { code?: string; errno?: number };
      return { threw: true, name: err.name, message: err.message, code: err.code, errno: err.errno };
    }
  };
  const opts = { vnetHdr: false, multiQueue: false, persist: false };
  obs.badName = capture(() => n.tunOpen('bad/name', opts));
  obs.longName = capture(() => n.tunOpen('ipmp-name-way-too-long', opts));
  obs.noDevice = capture(() => n.packetOpen(99999, {
    vnetHdr: false, rcvbuf: 0, sndbuf: 0, ignoreOutgoing: false, filter: new Uint8Array(0), nonblock: true,
  }));
  obs.badFilter = capture(() => n.packetOpen(1, {
    vnetHdr: false, rcvbuf: 0, sndbuf: 0, ignoreOutgoing: false, filter: new Uint8Array(7), nonblock: true,
  }));
  obs.addGroupBadFd = capture(() => n.netlinkAddGroup(987654, 11));
  const devNull = openSync('/dev/null', 'r');
  obs.peerCredNotSocket = capture(() => n.peerCred(devNull));
  closeSync(devNull);
  obs.tooBigBatch = capture(() => n.tunReadBatch(0, new Uint8Array(257 * 64), 64, -1, 0, 257, new Int32Array(257), 0));
  obs.slotOverflow = capture(() => n.packetRecvBatch(new Int32Array([0]), 1, new Uint8Array(100), 64, 0, 2,
    new Int32Array(2), new Int32Array(2), 0));
  obs.notTyped = capture(() => n.send(0, [1, 2, 3] as unknown as Uint8Array, 0, 3));
  obs.sendRange = capture(() => n.send(0, new Uint8Array(4), 2, 3));
  obs.sendBadFd = n.send(987654, new Uint8Array(4), 0, 4);
  obs.names = [n.errnoName(-E.EAGAIN), n.errnoName(-E.ENOBUFS), n.errnoName(-E.ENODEV), n.errnoName(-4000)];
  obs.strerror = n.strerror(-E.EPERM);
  obs.ifLo = n.ifNameToIndex('lo');
  obs.ifMissing = n.ifNameToIndex('nosuchif0');
  const a = n.monotonicNs();
  const b = n.monotonicNs();
  obs.monotonic = { type: typeof a, ordered: b >= a };
  return obs;
}

// ---------------------------------------------------------------- entry

async function main(): Promise<void> {
  const [scenario, raw] = process.argv.slice(2);
  const args = raw ? JSON.parse(raw) : {};
  const table: Record<string, (a: any) => Obs | Promise<Obs>> = {
    tun: tunRoundTrip,
    tunPersistCreate,
    tunReattach,
    tunMultiQueue,
    packet,
    netlink,
    worker,
    errors,
  };
  const f = table[scenario ?? ''];
  if (!f) throw new Error(`unknown scenario ${scenario}`);
  const obs = await f(args);
  process.stdout.write(`${JSON.stringify(obs)}\n`);
}

if (isMainThread) {
  main().then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
} else if ((workerData as { role?: string })?.role === 'watcher') {
  workerMain();
} else if ((workerData as { role?: string })?.role === 'exiter') {
  const fd = n.netlinkOpen(0, 0);
  n.watch(fd, () => {});
  setImmediate(() => process.exit(7));
}
