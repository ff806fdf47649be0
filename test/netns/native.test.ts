/**
 * Native addon against the real kernel: TUN, AF_PACKET, netlink, uv_poll
 * watchers in the main thread and in workers, SO_PEERCRED and error shapes.
 *
 * Everything that touches interfaces runs in a child process inside a network
 * namespace created here (helpers/native-probe.js); the namespace is removed
 * afterwards whatever happens. Needs root.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { loadNative } from '../../src/io/native.js';

const isRoot = process.getuid?.() === 0;
const skip: string | false = isRoot ? false : 'needs root (network namespaces)';
const PREFIX = 'ipmpt-nat-';
const NS = `${PREFIX}${process.pid}`;
const HELPER = fileURLToPath(new URL('./helpers/native-probe.js', import.meta.url));

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function ipOk(args: string[]): boolean {
  try {
    ip(args);
    return true;
  } catch {
    return false;
  }
}

/** Runs one probe scenario inside the namespace and returns its observations. */
function probe(scenario: string, args: object = {}): any {
  const r = spawnSync('ip', ['netns', 'exec', NS, process.execPath, HELPER, scenario, JSON.stringify(args)], {
    encoding: 'utf8',
    timeout: 15000,
  });
  if (r.status !== 0) {
    assert.fail(`probe ${scenario} failed (status ${r.status}, signal ${r.signal}): ${r.stderr || r.error}`);
  }
  const line = r.stdout.trim().split('\n').pop() ?? '';
  assert.ok(line.startsWith('{'), `probe ${scenario} printed no result: ${JSON.stringify(r.stdout)} ${r.stderr}`);
  return JSON.parse(line);
}

/** Removes namespaces of this test left behind by runs whose process is gone. */
function removeStaleNamespaces(): void {
  for (const line of ip(['netns', 'list']).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (!name.startsWith(PREFIX)) continue;
    const pid = Number(name.slice(PREFIX.length));
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      alive = false;
    }
    if (!alive || pid === process.pid) ipOk(['netns', 'del', name]);
  }
}

before(() => {
  if (!isRoot) return;
  removeStaleNamespaces();
  ip(['netns', 'add', NS]);
  ip(['-n', NS, 'link', 'set', 'lo', 'up']);
  // Two veth pairs without IPv6 link-local chatter.
  for (const p of ['0', '1']) {
    ip(['-n', NS, 'link', 'add', `va${p}`, 'type', 'veth', 'peer', 'name', `vb${p}`]);
    for (const d of [`va${p}`, `vb${p}`]) {
      ip(['-n', NS, 'link', 'set', d, 'addrgenmode', 'none']);
      ip(['-n', NS, 'link', 'set', d, 'up']);
    }
  }
});

after(() => {
  if (!isRoot) return;
  ipOk(['netns', 'del', NS]);
});

test('tunOpen creates the interface; plain tunReadBatch/tunWriteBatch round trip', { skip }, () => {
  const o = probe('tun', { name: 'ipmpt0', vnetHdr: false });
  assert.equal(o.handle.name, 'ipmpt0');
  assert.ok(o.handle.fd > 2);
  assert.ok(o.handle.ifindex > 0);
  assert.equal(o.ifindexLookup, o.handle.ifindex);
  assert.match(o.linkShow, new RegExp(`^${o.handle.ifindex}: ipmpt0: `));
  assert.deepEqual(o.read.map((r: any) => r.payload).sort(), ['ipmp-probe-0', 'ipmp-probe-1', 'ipmp-probe-2']);
  for (const r of o.read) {
    assert.equal(r.len, 20 + 8 + 12, 'IPv4 + UDP + payload');
    assert.deepEqual(r.head, [0xaa, 0xaa], 'nothing written before dataOff');
    assert.deepEqual(r.gap, [0xaa, 0xaa, 0xaa, 0xaa], 'nothing written before dataOff');
  }
  assert.equal(o.emptyRead, 0);
  assert.equal(o.truncatedLen, 512 - 16, 'oversized packet: lens clamped to the slot');
  assert.equal(o.written, 2);
  assert.deepEqual(o.replies, ['ipmp-reply-0', 'ipmp-reply-1']);
  assert.equal(o.outOfBounds, 'RangeError');
  assert.equal(o.closeRc, 0);
  assert.equal(o.goneAfterClose, true, 'non-persistent TUN disappears with its fd');
  assert.equal(o.closeAgain, -9, 'close of a closed fd is -EBADF');
});

test('vnet header mode reads a 10-byte virtio header in front of each packet', { skip }, () => {
  const o = probe('tun', { name: 'ipmpv0', vnetHdr: true });
  assert.equal(o.read.length, 3);
  for (const r of o.read) {
    assert.equal(r.len, 40, 'lens excludes the vnet header');
    assert.equal(r.vnet.length, 10);
    const [flags, gsoType] = r.vnet;
    const csumStart = r.vnet[6] | (r.vnet[7] << 8);
    const csumOffset = r.vnet[8] | (r.vnet[9] << 8);
    assert.equal(gsoType, 0, 'VIRTIO_NET_HDR_GSO_NONE');
    // TUN_F_CSUM is on, so the UDP checksum is left to us: NEEDS_CSUM at the UDP header.
    assert.equal(flags, 1, 'VIRTIO_NET_HDR_F_NEEDS_CSUM');
    assert.equal(csumStart, 20);
    assert.equal(csumOffset, 6);
    assert.deepEqual(r.head, [0xaa, 0xaa], 'nothing written before vnetOff');
    assert.deepEqual(r.gap, [0xaa, 0xaa, 0xaa, 0xaa], 'header and data are placed at their own offsets');
  }
  assert.equal(o.written, 2);
  assert.deepEqual(o.replies, ['ipmp-reply-0', 'ipmp-reply-1']);
  assert.equal(o.goneAfterClose, true);
});

test('persist keeps the TUN after close; re-attach gets the same device', { skip }, () => {
  const c = probe('tunPersistCreate', { name: 'ipmpp0' });
  assert.equal(c.closeRc, 0);
  const shown = ip(['-n', NS, '-o', 'link', 'show', 'ipmpp0']);
  assert.match(shown, new RegExp(`^${c.handle.ifindex}: ipmpp0: `));

  const r = probe('tunReattach', { name: 'ipmpp0' });
  assert.equal(r.handle.ifindex, c.handle.ifindex);
  assert.equal(r.noCarrier, true, 'tunSetCarrier(false) shows NO-CARRIER');
  assert.equal(r.carrierBack, true);
  assert.equal(r.goneAfterClose, true, 'tunSetPersist(false) lets the device go');
  assert.equal(ipOk(['-n', NS, 'link', 'show', 'ipmpp0']), false);
});

test('multi-queue TUN: two queues attach to one device', { skip }, () => {
  const o = probe('tunMultiQueue', { name: 'ipmpq0' });
  assert.equal(o.a.ifindex, o.b.ifindex);
  assert.notEqual(o.a.fd, o.b.fd);
});

test('AF_PACKET: filter, batched send and receive across two sockets, membership, timestamps', { skip }, () => {
  const o = probe('packet', { a0: 'va0', b0: 'vb0', a1: 'va1', b1: 'vb1' });
  assert.equal(o.maddrAfterAdd, true, 'PACKET_ADD_MEMBERSHIP adds the MAC to the device');
  assert.equal(o.maddrAfterDrop, false, 'PACKET_DROP_MEMBERSHIP removes it');
  assert.equal(o.badMac, 'RangeError');
  assert.equal(o.idleRecv, 0, 'timeout with nothing queued returns 0');
  assert.ok(o.idleMs >= 40 && o.idleMs < 2000, `idle wait took ${o.idleMs} ms`);
  assert.equal(o.sent, 4);
  const rx = [...o.received].sort((a: any, b: any) => a.marker - b.marker);
  assert.deepEqual(rx, [
    { src: 0, len: 60, etherType: 0x88b5, marker: 0 },
    { src: 0, len: 60, etherType: 0x88b5, marker: 1 },
    { src: 1, len: 70, etherType: 0x88b5, marker: 2 }, // vnet header counted in lens
  ]);
  assert.equal(o.afterDrain, 0, 'the frame the filter rejects never arrives');
  assert.deepEqual(o.outgoingSrc, [0, 0], 'only the socket without PACKET_IGNORE_OUTGOING sees our own frames');
  assert.ok(o.unfiltered, 'unfiltered socket got the rejected frame');
  assert.equal(o.unfiltered.marker, 9);
  assert.equal(o.unfiltered.len, 60);
  const skew = BigInt(o.nowNs) - BigInt(o.unfiltered.tsNs);
  assert.ok(BigInt(o.unfiltered.tsNs) > 0n && skew > -5_000_000_000n && skew < 10_000_000_000n,
    `SO_TIMESTAMPNS ${o.unfiltered.tsNs} vs now ${o.nowNs}`);
  assert.equal(o.recvEmpty, -11, 'recv on an empty socket is -EAGAIN');
  assert.equal(o.sentMasked, 2);
  assert.deepEqual(o.maskedSecond, [{ src: 1, marker: 4 }], 'only the socket marked ready is read');
  assert.deepEqual(o.maskedFirst, [{ src: 0, marker: 3 }], 'the other one kept its frame for the next call');
  assert.deepEqual(o.maskedNone, []);
  assert.equal(o.shortMask, 'RangeError', 'a mask shorter than nfds is refused');
  assert.equal(o.sendClosed, -9);
  assert.equal(o.recvClosed, -9);
});

test('netlink: hand-built RTM_GETLINK dump, group events through watch, unwatch', { skip }, () => {
  const o = probe('netlink');
  assert.equal(o.dumpSent, 32);
  assert.equal(o.dumpDone, true);
  assert.equal(o.dumpErrors, 0);
  const names = o.links.map((l: any) => l.ifname);
  assert.ok(o.links.some((l: any) => l.ifindex === 1 && l.ifname === 'lo'), `links: ${names}`);
  for (const v of ['va0', 'vb0', 'va1', 'vb1']) assert.ok(names.includes(v), `${v} in ${names}`);
  assert.equal(o.eventSeen, true, 'RTM_NEWLINK for the new veth reached the watch callback');
  assert.ok(o.callsAtEvent >= 1);
  assert.equal(o.readableAfterUnwatch, 1);
  assert.equal(o.callsAfterUnwatch, o.callsAtEvent, 'no callback after unwatch');
  assert.equal(o.fdReused, true, 'the descriptor number was reused');
  assert.equal(o.reuse.oldCalls, 0, 'a closed fd\'s watcher never fires');
  assert.ok(o.reuse.newCallsFirst >= 1);
  assert.ok(o.reuse.newCallsAfterStaleUnwatch > o.reuse.newCallsFirst, 'stale unwatch leaves the new watcher alone');
});

test('addon loads in a worker thread; watch works there and survives terminate()', { skip }, () => {
  const o = probe('worker');
  assert.ok(o.mainDumpLinks >= 5);
  const ready = o.messages.find((m: any) => m.ready !== undefined);
  assert.ok(ready, `messages: ${JSON.stringify(o.messages)}`);
  assert.equal(ready.ready, o.mainDumpLinks, 'worker sees the same links as the main thread');
  assert.ok(o.messages.some((m: any) => m.event === 'wkr0'), `messages: ${JSON.stringify(o.messages)}`);
  assert.equal(o.exitCode, 1, 'terminated worker');
  assert.ok(o.mainAfterWorker > o.mainDumpLinks, 'main thread still uses the addon after the worker is gone');
  assert.deepEqual(o.selfExits, [7, 7, 7], 'workers exiting with active watchers tear down cleanly');
});

test('workers with active watchers exit cleanly when only they loaded the addon', { skip }, () => {
  // The addon is unloaded with the last environment using it; handle close
  // callbacks run after that and must not point into it.
  const addon = fileURLToPath(new URL('../../../native-bindings/build/Release/ipmp_native.node', import.meta.url));
  const code = `
    const { Worker } = require('node:worker_threads');
    const body = 'const n = require(' + JSON.stringify(${JSON.stringify(addon)}) + ');' +
      'const fd = n.netlinkOpen(0, 0); n.watch(fd, () => {}); setImmediate(() => process.exit(3));';
    (async () => {
      const codes = [];
      for (let i = 0; i < 5; i++) {
        codes.push(await new Promise((res) => new Worker(body, { eval: true }).on('exit', res)));
      }
      console.log(JSON.stringify(codes));
    })();`;
  const r = spawnSync('ip', ['netns', 'exec', NS, process.execPath, '-e', code], { encoding: 'utf8', timeout: 15000 });
  assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '[3,3,3,3,3]');
});

test('errors: one-line messages naming the call; programming errors are TypeError/RangeError', { skip }, () => {
  const o = probe('errors');
  const oneLine = (e: any, re: RegExp, code: string) => {
    assert.equal(e.threw, true);
    assert.equal(e.name, 'Error');
    assert.ok(!e.message.includes('\n'));
    assert.match(e.message, re);
    assert.equal(e.code, code);
  };
  oneLine(o.badName, /^tunOpen\(bad\/name\): Invalid argument \(EINVAL\)$/, 'EINVAL');
  assert.equal(o.badName.errno, -22);
  oneLine(o.longName, /^tunOpen\(ipmp-name-way-too-long\): .+ \(EINVAL\)$/, 'EINVAL');
  oneLine(o.noDevice, /^packetOpen\(99999\).*: No such device \(ENODEV\)$/, 'ENODEV');
  oneLine(o.addGroupBadFd, /^netlinkAddGroup.*: Bad file descriptor \(EBADF\)$/, 'EBADF');
  oneLine(o.peerCredNotSocket, /^peerCred.*\(ENOTSOCK\)$/, 'ENOTSOCK');
  assert.equal(o.badFilter.name, 'RangeError');
  assert.equal(o.tooBigBatch.name, 'RangeError');
  assert.equal(o.slotOverflow.name, 'RangeError');
  assert.equal(o.notTyped.name, 'TypeError');
  assert.equal(o.sendRange.name, 'RangeError');
  assert.equal(o.sendBadFd, -9);
  assert.deepEqual(o.names, ['EAGAIN', 'ENOBUFS', 'ENODEV', 'E4000']);
  assert.equal(o.strerror, 'Operation not permitted');
  assert.equal(o.ifLo, 1);
  assert.equal(o.ifMissing, 0);
  assert.deepEqual(o.monotonic, { type: 'bigint', ordered: true });
});

test('peerCred reports the connecting process on a UNIX socket', { skip }, async () => {
  const n = loadNative();
  const path = join(tmpdir(), `${NS}.sock`);
  rmSync(path, { force: true });
  const server = net.createServer();
  try {
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const client = net.connect(path);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    const conn = await accepted;
    const fd = (conn as any)._handle.fd as number;
    assert.ok(fd > 2);
    const cred = n.peerCred(fd);
    assert.deepEqual(cred, { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
    const clientCred = n.peerCred((client as any)._handle.fd);
    assert.equal(clientCred.pid, process.pid);
    client.destroy();
    conn.destroy();
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(path, { force: true });
  }
});
