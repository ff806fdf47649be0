// The forwarding path end to end in a lab: ipmpd in <P>-host with two NICs and two data
// addresses, traffic to and from <P>-peer. Checks reachability both ways and through a
// gateway, ARP bindings (only the daemon answers, with the bound NIC's MAC), the spread of
// many TCP flows over both NICs, in-order delivery inside each flow, byte-identical bulk
// transfers, and that a clean stop (also after a kill -9 and a re-attach) leaves the host as
// it was. Two daemons in two namespaces with the same TUN name must keep separate
// crash-recovery state.
//
// The TUN gets a name unique to this process (ipf<n>) unless IPMP_TEST_TUN is set: the
// daemon's recovery state under /run/ipmp is named after the TUN, so a daemon that another
// process runs in another namespace with the TUN name ipmp0 would otherwise meet this one's.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, closeSync, writeSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { labUp, labDown, labDownSync, execIn, spawnIn, hostNs, peerNs, waitFor } from '../../src/lab/lab.js';
import { uniquePrefix } from '../../src/lab/fixture.js';
import { startDaemon, snapshot, type RunningDaemon, withLog } from './helpers/daemon.js';
import { tcpdump } from './helpers/tcpdump.js';
import type { Snapshot } from '../../src/daemon/protocol.js';

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const TUN = process.env.IPMP_TEST_TUN || `ipf${process.pid % 100000}`;
const NFT_TABLE = `ipmp_${TUN}`;
/** Any state file of this TUN, whatever namespace it was written for. */
function stateFiles(): string[] {
  return existsSync('/run/ipmp') ? readdirSync('/run/ipmp').filter((f) => f.startsWith(`${TUN}.`) && f.endsWith('.isolation.json')) : [];
}
const FWD_TCP = join(dirname(fileURLToPath(import.meta.url)), 'helpers', 'fwd-tcp.js');
const DATA = ['198.18.0.10', '198.18.0.11'];
const PEER = '198.18.0.1';
const REMOTE = '198.19.0.1';
const NICS = ['eth0', 'eth1'];

const used: string[] = [];

function config(): string {
  return [
    'groups:',
    `  ${TUN}:`,
    '    interfaces: { eth0: {}, eth1: {} }',
    `    addresses: [${DATA.map((a) => `${a}/24`).join(', ')}]`,
    '',
  ].join('\n');
}

/** Runs fn; on failure appends the daemon's log tail to the error message. */

async function ping(ns: string, target: string, extra: string[] = [], count = 3): Promise<void> {
  await execIn(ns, ['ping', '-n', '-q', '-c', String(count), '-i', '0.2', '-W', '1', ...extra, target],
    { timeoutMs: 10_000 });
}

async function tryPing(ns: string, target: string): Promise<boolean> {
  try {
    await ping(ns, target, [], 1);
    return true;
  } catch {
    return false;
  }
}

async function readNum(ns: string, path: string): Promise<number> {
  return Number((await execIn(ns, ['cat', path])).stdout.trim());
}

async function txBytes(p: string): Promise<number[]> {
  return Promise.all(NICS.map((n) => readNum(hostNs(p), `/sys/class/net/${n}/statistics/tx_bytes`)));
}

async function disableIpv6(p: string): Promise<string[]> {
  return Promise.all(NICS.map(async (n) =>
    (await execIn(hostNs(p), ['cat', `/proc/sys/net/ipv6/conf/${n}/disable_ipv6`])).stdout.trim()));
}

/** TcpExt counters of a namespace (/proc/net/netstat). */
async function tcpExt(ns: string): Promise<Record<string, number>> {
  const lines = (await execIn(ns, ['cat', '/proc/net/netstat'])).stdout.split('\n');
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i].split(/\s+/);
    const vals = lines[i + 1].split(/\s+/);
    if (names[0] !== 'TcpExt:') continue;
    for (let k = 1; k < names.length; k++) out[names[k]] = Number(vals[k]);
  }
  return out;
}

async function tcpSnmp(ns: string): Promise<Record<string, number>> {
  const lines = (await execIn(ns, ['cat', '/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = lines[0].split(/\s+/);
  const vals = lines[1].split(/\s+/);
  const out: Record<string, number> = {};
  for (let k = 1; k < names.length; k++) out[names[k]] = Number(vals[k]);
  return out;
}

interface Links { ifname: string; address?: string; addr_info?: { local: string; prefixlen: number }[] }

async function links(p: string): Promise<Links[]> {
  return JSON.parse((await execIn(hostNs(p), ['ip', '-j', 'addr', 'show'])).stdout) as Links[];
}

/** What a clean stop must leave: no TUN, no nft table, sysctls as before, no state file. */
async function assertRestored(p: string, origIpv6: string[]): Promise<void> {
  const names = (await links(p)).map((l) => l.ifname);
  assert.ok(!names.includes(TUN), `${TUN} still exists after a clean stop (links: ${names.join(' ')})`);
  const tables = (await execIn(hostNs(p), ['nft', 'list', 'tables'])).stdout;
  assert.ok(!tables.split('\n').some((l) => l.trim() === `table netdev ${NFT_TABLE}`),
    `nft table ${NFT_TABLE} still exists:\n${tables}`);
  assert.deepEqual(await disableIpv6(p), origIpv6, 'disable_ipv6 on eth0/eth1 back to the original values');
  assert.deepEqual(stateFiles(), [], 'state file left behind');
}

/** A helper program in a namespace: its stdout, a promise for "listening", one for the JSON result. */
interface Helper {
  child: ChildProcess;
  listening: Promise<void>;
  result: Promise<Record<string, unknown>>;
}

function helper(ns: string, args: string[], timeoutMs: number): Helper {
  const child = spawnIn(ns, [process.execPath, FWD_TCP, ...args, '--timeout', String(timeoutMs)]);
  let out = '';
  let err = '';
  let onListen: () => void = () => undefined;
  const listening = new Promise<void>((res) => { onListen = res; });
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('listening\n')) onListen();
  });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  const result = new Promise<Record<string, unknown>>((res, rej) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 5_000);
    child.once('exit', (code) => {
      clearTimeout(killer);
      const line = out.split('\n').filter((l) => l.startsWith('{')).pop();
      if (!line) return rej(new Error(`fwd-tcp ${args[0]} exited ${code} without a result: ${err.trim()}`));
      res(JSON.parse(line) as Record<string, unknown>);
    });
  });
  result.catch(() => undefined);
  // A receiver that exits before listening must not leave a waiter hanging.
  child.once('exit', () => onListen());
  return { child, listening, result };
}

/** Waits for a TCP listener on port in ns. */
async function waitListen(ns: string, port: number): Promise<void> {
  await waitFor(`a listener on port ${port} in ${ns}`, async () =>
    (await execIn(ns, ['ss', '-Hltn', `sport = :${port}`])).stdout.trim() !== '', 5_000, 50);
}

/** Waits until every data address is bound and every NIC is active. */
async function waitBound(d: RunningDaemon, wantDistinct: boolean): Promise<Snapshot> {
  let last: Snapshot | undefined;
  await waitFor('every data address bound and both NICs active', async () => {
    last = await snapshot(d.socket);
    const addrs = last.addresses.filter((a) => DATA.includes(a.address));
    const active = last.interfaces.filter((i) => NICS.includes(i.name) && i.active);
    const inb = new Set(addrs.map((a) => a.inbound));
    return addrs.length === DATA.length && addrs.every((a) => a.inbound !== '') && active.length === NICS.length
      && (!wantDistinct || inb.size === DATA.length);
  }, 10_000, 100).catch((e: Error) => {
    e.message += `\nlast snapshot: ${JSON.stringify(last)}`;
    throw e;
  });
  return last!;
}

interface ArpLine { ethSrc: string; kind: 'reply' | 'request'; ip: string; mac: string }

/** tcpdump of ARP on the peer's eth0 until stop() (bounded by a hard kill). */
function arpCapture(p: string): { ready: Promise<void>; stop: () => Promise<ArpLine[]>; raw: () => string } {
  const cap = tcpdump(peerNs(p), ['-i', 'eth0', '-nn', '-e', '-l', '--immediate-mode', 'arp']);
  const stop = async (): Promise<ArpLine[]> => {
    await cap.stop();
    const lines: ArpLine[] = [];
    for (const l of cap.out().split('\n')) {
      let m = /^\S+ ([0-9a-f:]{17}) > [0-9a-f:]{17}, ethertype ARP .*Reply (\S+) is-at ([0-9a-f:]{17})/.exec(l);
      if (m) { lines.push({ ethSrc: m[1], kind: 'reply', ip: m[2], mac: m[3] }); continue; }
      m = /^\S+ ([0-9a-f:]{17}) > [0-9a-f:]{17}, ethertype ARP .*Request who-has (\S+) tell (\S+)/.exec(l);
      if (m) lines.push({ ethSrc: m[1], kind: 'request', ip: m[2], mac: m[3] });
    }
    return lines;
  };
  return { ready: cap.ready, stop, raw: cap.out };
}

function macOf(s: Snapshot, nic: string): string {
  const i = s.interfaces.find((x) => x.name === nic);
  assert.ok(i && i.mac, `snapshot has a MAC for ${nic}`);
  return i.mac.toLowerCase();
}

describe('forwarding through ipmpd', { skip }, () => {
  after(() => {
    for (const p of used) labDownSync(p);
  });

  describe('two NICs, two data addresses', () => {
    let p = '';
    let d: RunningDaemon | undefined;
    let snap: Snapshot;

    before(async () => {
      p = uniquePrefix();
      used.push(p);
      await labUp({ prefix: p, nics: 2 });
      d = await startDaemon(p, config());
      snap = await withLog(d, () => waitBound(d!, true));
    });

    after(async () => {
      try {
        if (d) await d.stop();
      } finally {
        await labDown(p).catch(() => labDownSync(p));
      }
    });

    it('pings both ways, and through a gateway', async () => {
      await withLog(d, async () => {
        for (const a of DATA) await ping(peerNs(p), a);
        await ping(hostNs(p), PEER, ['-I', DATA[0]]);
        await ping(hostNs(p), PEER, ['-I', DATA[1]]);
        await execIn(hostNs(p), ['ip', 'route', 'add', '198.19.0.0/24', 'via', PEER, 'dev', TUN]);
        await ping(hostNs(p), REMOTE);
      });
    });

    it('peer ARP cache: each data address at the MAC of its bound NIC, on different NICs', async () => {
      await withLog(d, async () => {
        snap = await snapshot(d!.socket);
        const bound = DATA.map((a) => snap.addresses.find((x) => x.address === a)?.inbound ?? '');
        assert.ok(bound.every((b) => NICS.includes(b)), `bindings ${JSON.stringify(bound)}`);
        assert.notEqual(bound[0], bound[1], 'the two data addresses are bound to different NICs');
        await execIn(peerNs(p), ['ip', 'neigh', 'flush', 'all']);
        for (const a of DATA) await ping(peerNs(p), a, [], 1);
        const neigh = JSON.parse((await execIn(peerNs(p), ['ip', '-j', 'neigh', 'show', 'dev', 'eth0'])).stdout) as
          { dst: string; lladdr?: string; state?: string[] }[];
        DATA.forEach((a, i) => {
          const n = neigh.find((x) => x.dst === a);
          assert.ok(n?.lladdr, `peer has a neighbour entry for ${a}: ${JSON.stringify(neigh)}`);
          assert.equal(n.lladdr.toLowerCase(), macOf(snap, bound[i]), `${a} at the MAC of ${bound[i]}`);
        });
      });
    });

    it('only the daemon answers ARP for data addresses, always with the bound MAC', async () => {
      await withLog(d, async () => {
        snap = await snapshot(d!.socket);
        const boundMac = new Map(DATA.map((a) => {
          const nic = snap.addresses.find((x) => x.address === a)?.inbound ?? '';
          return [a, macOf(snap, nic)] as const;
        }));
        const nicMacs = NICS.map((n) => macOf(snap, n));

        // Daemon running: the peer re-resolves both addresses.
        let cap = arpCapture(p);
        await cap.ready;
        await execIn(peerNs(p), ['ip', 'neigh', 'flush', 'all']);
        await Promise.all(DATA.map((a) => ping(peerNs(p), a, [], 2)));
        let lines = await cap.stop();
        const replies = lines.filter((l) => l.kind === 'reply' && DATA.includes(l.ip));
        for (const a of DATA) {
          assert.ok(replies.some((r) => r.ip === a), `an ARP reply for ${a} reached the peer:\n${cap.raw()}`);
        }
        for (const r of replies) {
          assert.equal(r.mac, boundMac.get(r.ip), `ARP sender MAC for ${r.ip}:\n${cap.raw()}`);
          // The Ethernet source is the NIC the reply leaves from: one of the group's own MACs.
          assert.ok(nicMacs.includes(r.ethSrc), `Ethernet source of the ARP reply for ${r.ip} is a group NIC:\n${cap.raw()}`);
        }

        // Daemon stopped: requests go unanswered (the host stack never replies on a NIC).
        cap = arpCapture(p);
        await cap.ready;
        process.kill(d!.pid, 'SIGSTOP');
        try {
          await execIn(peerNs(p), ['ip', 'neigh', 'flush', 'all']);
          const ok = await Promise.all(DATA.map(async (a) => {
            try { await ping(peerNs(p), a, [], 2); return true; } catch { return false; }
          }));
          lines = await cap.stop();
          assert.deepEqual(ok, DATA.map(() => false), 'no data address answers while the daemon is stopped');
        } finally {
          process.kill(d!.pid, 'SIGCONT');
        }
        const requests = lines.filter((l) => l.kind === 'request' && DATA.includes(l.ip));
        assert.ok(requests.length > 0, `the capture saw the peer's ARP requests:\n${cap.raw()}`);
        const stray = lines.filter((l) => l.kind === 'reply' && DATA.includes(l.ip));
        assert.deepEqual(stray, [], `no ARP reply for a data address while the daemon is stopped:\n${cap.raw()}`);

        await waitFor('data addresses answer again after SIGCONT', async () =>
          (await Promise.all(DATA.map((a) => tryPing(peerNs(p), a)))).every(Boolean), 10_000, 100);
      });
    });

    it('16 TCP connections put at least 15% of the bytes on each NIC', async (t) => {
      await withLog(d, async () => {
        const port = 5201;
        const server = spawnIn(peerNs(p), ['iperf3', '-s', '-1', '-B', PEER, '-p', String(port)]);
        const killer = setTimeout(() => server.kill('SIGKILL'), 30_000);
        try {
          await waitListen(peerNs(p), port);
          const before = await txBytes(p);
          const { stdout } = await execIn(hostNs(p),
            ['iperf3', '-c', PEER, '-B', DATA[0], '-p', String(port), '-P', '16', '-t', '4', '-J'], { timeoutMs: 25_000 });
          const after = await txBytes(p);
          const delta = after.map((a, i) => a - before[i]);
          const total = delta.reduce((s, x) => s + x, 0);
          const rep = JSON.parse(stdout) as { end?: { sum_received?: { bytes: number } } };
          const sent = rep.end?.sum_received?.bytes ?? 0;
          const shares = delta.map((x) => x / total);
          const msg = `tx bytes eth0/eth1 ${delta.join('/')} (shares ${shares.map((s) => s.toFixed(3)).join('/')}), iperf3 received ${sent}`;
          t.diagnostic(msg);
          assert.ok(sent > 0 && total >= sent, `NIC counters cover the iperf3 bytes: ${msg}`);
          for (const [i, s] of shares.entries()) assert.ok(s >= 0.15, `${NICS[i]} carries at least 15%: ${msg}`);
        } finally {
          clearTimeout(killer);
          if (server.exitCode === null) server.kill('SIGKILL');
        }
      });
    });

    it('16 connections of numbered records arrive complete and in order, without reordering on the wire', async (t) => {
      await withLog(d, async () => {
        const port = 5301;
        const conns = 16;
        const records = 4000;
        const size = 1000;
        const recv = helper(peerNs(p), ['recv-seq', '--bind', PEER, '--port', String(port), '--conns', String(conns),
          '--records', String(records), '--size', String(size)], 40_000);
        await recv.listening;
        const ext0 = await tcpExt(peerNs(p));
        const snmp0 = await tcpSnmp(peerNs(p));
        const hostExt0 = await tcpExt(hostNs(p));
        const hostSnmp0 = await tcpSnmp(hostNs(p));
        const before = await txBytes(p);
        const send = helper(hostNs(p), ['send-seq', '--host', PEER, '--port', String(port), '--local', DATA[0],
          '--conns', String(conns), '--records', String(records), '--size', String(size)], 40_000);
        const [s, r] = await Promise.all([send.result, recv.result]);
        const after = await txBytes(p);
        const ext1 = await tcpExt(peerNs(p));
        const snmp1 = await tcpSnmp(peerNs(p));
        const hostExt1 = await tcpExt(hostNs(p));
        const hostSnmp1 = await tcpSnmp(hostNs(p));
        assert.equal(s.ok, true, `sender: ${JSON.stringify(s)}`);
        assert.equal(r.ok, true, `receiver: ${JSON.stringify(r)}`);
        const diff = (a: Record<string, number>, b: Record<string, number>, k: string): number => (b[k] ?? 0) - (a[k] ?? 0);
        const ofo = diff(ext0, ext1, 'TCPOFOQueue');
        const inSegs = diff(snmp0, snmp1, 'InSegs');
        const reorder = ['TCPSACKReorder', 'TCPTSReorder', 'TCPRenoReorder', 'TCPLossProbes', 'TCPSpuriousRTOs'].map((k) => `${k}=${diff(hostExt0, hostExt1, k)}`);
        const delta = after.map((a, i) => a - before[i]);
        const info = `receiver TCPOFOQueue +${ofo}, TCPOFODrop +${diff(ext0, ext1, 'TCPOFODrop')}, InSegs +${inSegs}; ` +
          `sender ${reorder.join(' ')}, RetransSegs +${diff(hostSnmp0, hostSnmp1, 'RetransSegs')}; tx bytes eth0/eth1 ${delta.join('/')}`;
        t.diagnostic(info);
        // Out-of-order segments at the receiver: reordering inside a flow (or a loss) on the path.
        const bound = Math.max(5, Math.ceil(inSegs * 0.001));
        assert.ok(ofo <= bound, `out-of-order segments at the receiver within ${bound}: ${info}`);
        assert.ok(delta.every((x) => x > 0), `both NICs carried traffic of the 16 connections: ${info}`);
      });
    });

    describe('50 MB transfers', () => {
      let dir = '';
      let file = '';
      let sha = '';
      const SIZE = 50 * 1024 * 1024;

      before(() => {
        dir = mkdtempSync(join(tmpdir(), 'ipmp-fwd-data-'));
        file = join(dir, 'random.bin');
        const h = createHash('sha256');
        const fd = openSync(file, 'w', 0o644);
        try {
          for (let off = 0; off < SIZE; off += 1 << 20) {
            const chunk = randomBytes(Math.min(1 << 20, SIZE - off));
            h.update(chunk);
            writeSync(fd, chunk);
          }
        } finally {
          closeSync(fd);
        }
        sha = h.digest('hex');
      });

      after(() => rmSync(dir, { recursive: true, force: true }));

      async function transfer(fromNs: string, toNs: string, to: string, local: string, port: number): Promise<void> {
        const recv = helper(toNs, ['recv-file', '--bind', to, '--port', String(port)], 60_000);
        await recv.listening;
        const send = helper(fromNs, ['send-file', '--host', to, '--port', String(port), '--local', local, '--file', file], 60_000);
        const [s, r] = await Promise.all([send.result, recv.result]);
        assert.equal(s.ok, true, `sender: ${JSON.stringify(s)}`);
        assert.equal(r.ok, true, `receiver: ${JSON.stringify(r)}`);
        assert.equal(s.sha256, sha, 'sender read the whole file');
        assert.equal(r.bytes, SIZE, 'bytes received');
        assert.equal(r.sha256, sha, 'sha256 at the receiver equals the source');
      }

      it('host → peer arrives byte-identical', async () => {
        await withLog(d, () => transfer(hostNs(p), peerNs(p), PEER, DATA[0], 5401));
      });

      it('peer → host (to 198.18.0.11) arrives byte-identical', async () => {
        await withLog(d, () => transfer(peerNs(p), hostNs(p), DATA[1], PEER, 5402));
      });
    });
  });

  describe('stopping', () => {
    let p = '';
    let d: RunningDaemon | undefined;
    let origIpv6: string[] = [];

    before(async () => {
      p = uniquePrefix();
      used.push(p);
      await labUp({ prefix: p, nics: 2 });
      origIpv6 = await disableIpv6(p);
    });

    after(async () => {
      try {
        if (d?.alive()) await d.stop();
      } finally {
        await labDown(p).catch(() => labDownSync(p));
      }
    });

    it('a clean stop (SIGTERM) removes the TUN and restores the host', async () => {
      d = await startDaemon(p, config());
      await withLog(d, async () => {
        await waitBound(d!, false);
        assert.deepEqual(await disableIpv6(p), NICS.map(() => '1'), 'disable_ipv6 set on the NICs while running');
        await ping(peerNs(p), DATA[0], [], 1);
        const code = await d!.stop('SIGTERM');
        assert.equal(code, 0, 'exit code after SIGTERM');
        await assertRestored(p, origIpv6);
      });
    });

    it('after kill -9 the TUN persists; a new start re-attaches; a clean stop restores the host', async () => {
      d = await startDaemon(p, config());
      await withLog(d, async () => {
        await waitBound(d!, false);
        await ping(peerNs(p), DATA[1], [], 1);
        await d!.kill9();
        const tun = (await links(p)).find((l) => l.ifname === TUN);
        assert.ok(tun, `${TUN} exists after kill -9`);
        const addrs = (tun.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`).filter((a) => a.startsWith('198.'));
        assert.deepEqual(addrs.sort(), DATA.map((a) => `${a}/24`).sort(), `${TUN} keeps its addresses`);
      });
      d = await startDaemon(p, config());
      await withLog(d, async () => {
        assert.match(d!.log(), /recovered state left by a previous instance/, 'the new instance finds the crashed one\'s state');
        await waitBound(d!, false);
        for (const a of DATA) await ping(peerNs(p), a);
        await ping(hostNs(p), PEER, ['-I', DATA[0]]);
        const code = await d!.stop('SIGTERM');
        assert.equal(code, 0, 'exit code after SIGTERM');
        await assertRestored(p, origIpv6);
      });
    });
  });
  describe('two daemons with the same TUN name in different namespaces', () => {
    const ps: string[] = [];
    const ds: RunningDaemon[] = [];

    before(async () => {
      for (let i = 0; i < 2; i++) {
        const p = uniquePrefix();
        used.push(p);
        ps.push(p);
        await labUp({ prefix: p, nics: 2 });
      }
    });

    after(async () => {
      try {
        for (const d of ds) if (d.alive()) await d.stop().catch(() => undefined);
      } finally {
        for (const p of ps) await labDown(p).catch(() => labDownSync(p));
      }
    });

    it('keep separate crash-recovery state: a crash and restart in one still restores its host', async () => {
      const [a, b] = ps;
      const origA = await disableIpv6(a);
      // Every deviation is collected, so one run shows all consequences of shared state.
      const problems: string[] = [];
      let da = await startDaemon(a, config());
      ds.push(da);
      await withLog(da, () => waitBound(da, false));
      const db = await startDaemon(b, config());
      ds.push(db);
      await withLog(db, async () => {
        if (/recovered state left by a previous instance/.test(db.log())) {
          problems.push('the daemon started second (other namespace) "recovered" the running one\'s state');
        }
        await waitBound(db, false);
        assert.equal(await db.stop('SIGTERM'), 0, 'exit code after SIGTERM');
      });
      await da.kill9();
      da = await startDaemon(a, config());
      ds.push(da);
      await withLog(da, async () => {
        if (!/recovered state left by a previous instance/.test(da.log())) {
          problems.push('the restarted daemon found no state of its own crashed instance');
        }
        await waitBound(da, false);
        assert.equal(await da.stop('SIGTERM'), 0, 'exit code after SIGTERM');
        try {
          await assertRestored(a, origA);
        } catch (e) {
          problems.push(`after the clean stop: ${(e as Error).message.split('\n')[0]}`);
        }
        assert.deepEqual(problems, []);
      });
    });
  });
});
