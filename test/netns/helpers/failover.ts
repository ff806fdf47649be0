/**
 * Tools for the failover tests: a timed ping that reports its longest gap, paced and verified
 * TCP streams (paced-tcp.js) between the lab's namespaces, per-flow packet counters on the
 * switch ports (an nftables bridge table in <P>-sw), TCP counters, ipmpstat, and snapshot
 * polling. Every process has a hard deadline; the nft table lives in the lab's switch
 * namespace and goes with it.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execIn, hostNs, labFail, peerNs, spawnIn, swNs, waitFor } from '../../../src/lab/lab.js';
import type { Snapshot, SnapshotInterface } from '../../../src/daemon/protocol.js';
import { REPO, snapshot, type RunningDaemon } from './daemon.js';
import { flowBucket } from '../../../src/dataplane/flowhash.js';
import { BucketTable } from '../../../src/control/buckets.js';
import { parseIpv4 } from '../../../src/wire/ipv4.js';

const PACED_TCP = join(dirname(fileURLToPath(import.meta.url)), 'paced-tcp.js');
const IPMPSTAT = join(REPO, 'bin', 'ipmpstat');

export const skipUnlessRoot = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;

export { withLog } from './daemon.js';

// ---- ping ----

export interface PingResult {
  sent: number;
  received: number;
  /** Longest time between two consecutive replies (ms). */
  maxGapMs: number;
  /** Receive time (ms since the epoch) of the reply that ended the longest gap. */
  maxGapEndMs: number;
  /** Receive times of the replies (ms since the epoch), their sequence numbers and round-trip times (ms). */
  times: number[];
  seqs: number[];
  rtts: number[];
  output: string;
}

export interface PingRun {
  /** Resolves once the first reply arrived (rejects when ping exits without one). */
  firstReply: Promise<void>;
  result: Promise<PingResult>;
  child: ChildProcess;
  /** Replies received so far. */
  replies(): number;
}

/**
 * `ping -D` from `ns` to `target`, `count` echo requests `intervalMs` apart, each reply
 * timestamped; the whole run is bounded by count × interval + 5 s.
 */
export function pingRun(ns: string, target: string, count: number, intervalMs: number): PingRun {
  const deadlineS = Math.ceil((count * intervalMs) / 1000) + 5;
  const child = spawnIn(ns, ['ping', '-D', '-n', '-i', (intervalMs / 1000).toFixed(3), '-c', String(count),
    '-w', String(deadlineS), '-W', '1', target]);
  let out = '';
  let replies = 0;
  let onFirst: () => void = () => undefined;
  let onNone: (e: Error) => void = () => undefined;
  const firstReply = new Promise<void>((res, rej) => { onFirst = res; onNone = rej; });
  firstReply.catch(() => undefined);
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
    replies = out.split(' bytes from ').length - 1;
    if (replies > 0) onFirst();
  });
  child.stderr?.on('data', (b: Buffer) => { out += b.toString(); });
  const result = new Promise<PingResult>((res) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), (deadlineS + 5) * 1000);
    child.once('exit', () => {
      clearTimeout(hard);
      onNone(new Error(`ping ${target} from ${ns} got no reply:\n${out}`));
      const times: number[] = [];
      const seqs: number[] = [];
      const rtts: number[] = [];
      for (const m of out.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(\d+) .*time=([\d.]+) ms/gm)) {
        times.push(Number(m[1]) * 1000);
        seqs.push(Number(m[2]));
        rtts.push(Number(m[3]));
      }
      let maxGapMs = 0;
      let maxGapEndMs = 0;
      for (let i = 1; i < times.length; i++) {
        if (times[i] - times[i - 1] > maxGapMs) { maxGapMs = times[i] - times[i - 1]; maxGapEndMs = times[i]; }
      }
      const sent = Number(/(\d+) packets transmitted/.exec(out)?.[1] ?? 0);
      res({ sent, received: times.length, maxGapMs, maxGapEndMs, times, seqs, rtts, output: out });
    });
  });
  return { firstReply, result, child, replies: () => replies };
}

/** One interval between two consecutive replies. */
export interface PingGap {
  /** Time between the two replies (ms). */
  raw: number;
  /**
   * The part of it the path is responsible for: between two consecutive sequence numbers,
   * raw minus the time ping itself sent late (send times, receive time − RTT, more than one
   * interval apart), so a ping process that was not scheduled for a while does not count; a
   * delayed reply counts in full. Across lost packets it is raw (ping slows down while
   * replies are missing, so its send times say nothing about the path).
   */
  path: number;
  /** Receive time of the reply that ends the gap (ms since the epoch). */
  endMs: number;
  seqFrom: number;
  seqTo: number;
  /** RTT of the reply that ends the gap (ms). */
  rtt: number;
}

export function pingGaps(r: PingResult, intervalMs: number): PingGap[] {
  const out: PingGap[] = [];
  for (let i = 1; i < r.times.length; i++) {
    const raw = r.times[i] - r.times[i - 1];
    const sendStep = (r.times[i] - r.rtts[i]) - (r.times[i - 1] - r.rtts[i - 1]);
    const late = r.seqs[i] - r.seqs[i - 1] === 1 ? Math.max(0, sendStep - intervalMs) : 0;
    out.push({ raw, path: Math.max(0, raw - late), endMs: r.times[i], seqFrom: r.seqs[i - 1], seqTo: r.seqs[i], rtt: r.rtts[i] });
  }
  return out;
}

/** The gap with the largest `key` among those ending within [fromMs, toMs] (epoch ms). */
export function longestGap(gaps: PingGap[], key: 'raw' | 'path', fromMs = -Infinity, toMs = Infinity): PingGap | null {
  let best: PingGap | null = null;
  for (const g of gaps) if (g.endMs >= fromMs && g.endMs <= toMs && (!best || g[key] > best[key])) best = g;
  return best;
}

/** A gap in words, timed from `originMs`. */
export function gapText(g: PingGap | null, originMs: number): string {
  if (!g) return 'none';
  return `${g.raw.toFixed(1)} ms (path ${g.path.toFixed(1)} ms) between icmp_seq ${g.seqFrom} and ${g.seqTo} ` +
    `(RTT ${g.rtt} ms), ending ${(g.endMs - originMs).toFixed(0)} ms after the fault`;
}

/** Three pings, 200 ms apart; true when at least one was answered. */
export async function reachable(ns: string, target: string): Promise<boolean> {
  try {
    await execIn(ns, ['ping', '-n', '-q', '-c', '3', '-i', '0.2', '-W', '1', target], { timeoutMs: 10_000 });
    return true;
  } catch {
    return false;
  }
}

// ---- paced TCP ----

export interface StreamConn { remotePort: number; records: number; clean: boolean; maxPauseMs: number; errors: string[] }
export interface StreamResult {
  sender: { ok: boolean; sent: number[]; ports: number[]; errors: string[]; error?: string };
  receiver: { ok: boolean; conns: StreamConn[]; error?: string };
}

function helperProc(ns: string, args: string[], timeoutMs: number): { listening: Promise<void>; result: Promise<Record<string, unknown>> } {
  const child = spawnIn(ns, [process.execPath, PACED_TCP, ...args, '--timeout', String(timeoutMs)]);
  let out = '';
  let err = '';
  let onListen: () => void = () => undefined;
  const listening = new Promise<void>((res) => { onListen = res; });
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('listening\n')) onListen(); });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  const result = new Promise<Record<string, unknown>>((res, rej) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 5_000);
    child.once('exit', (code) => {
      clearTimeout(killer);
      onListen();
      const line = out.split('\n').filter((l) => l.startsWith('{')).pop();
      if (!line) return rej(new Error(`paced-tcp ${args[0]} in ${ns} exited ${code} without a result: ${err.trim()}`));
      res(JSON.parse(line) as Record<string, unknown>);
    });
  });
  result.catch(() => undefined);
  return { listening, result };
}

export interface StreamSpec {
  fromNs: string;
  toNs: string;
  /** Address the receiver binds and the sender connects to. */
  to: string;
  /** Sender's local address. */
  local: string;
  port: number;
  conns: number;
  /** Bytes per second per connection. */
  rate: number;
  durationMs: number;
  /** Local ports of the sender's connections, one per connection. */
  lports?: number[];
}

/** Starts a paced stream; resolves once the receiver listens, with a promise for both reports. */
export async function startStream(s: StreamSpec): Promise<{ result: Promise<StreamResult> }> {
  const timeout = s.durationMs + 20_000;
  const recv = helperProc(s.toNs, ['recv', '--bind', s.to, '--port', String(s.port), '--conns', String(s.conns)], timeout);
  await recv.listening;
  const send = helperProc(s.fromNs, ['send', '--host', s.to, '--port', String(s.port), '--conns', String(s.conns),
    '--rate', String(s.rate), '--duration', String(s.durationMs), '--local', s.local,
    ...(s.lports ? ['--lports', s.lports.join(',')] : [])], timeout);
  const result = Promise.all([send.result, recv.result]).then(([sender, receiver]) => ({
    sender: sender as StreamResult['sender'], receiver: receiver as StreamResult['receiver'],
  }));
  result.catch(() => undefined);
  return { result };
}

/** Every connection ended cleanly (FIN, no reset), with every record the sender wrote, intact. */
export function assertStreamWhole(name: string, r: StreamResult): void {
  const info = `${name}: ${JSON.stringify(r)}`;
  assert.equal(r.sender.ok, true, `sender ok (no reset, no error): ${info}`);
  assert.equal(r.receiver.ok, true, `receiver ok: ${info}`);
  assert.equal(r.receiver.conns.length, r.sender.sent.length, `connections: ${info}`);
  r.sender.ports.forEach((port, c) => {
    const conn = r.receiver.conns.find((x) => x.remotePort === port);
    assert.ok(conn, `connection from port ${port} reached the receiver: ${info}`);
    assert.ok(r.sender.sent[c] > 0, `connection ${c} sent data: ${info}`);
    assert.equal(conn.records, r.sender.sent[c], `connection ${c}: records received = records sent: ${info}`);
    assert.equal(conn.clean, true, `connection ${c} ended with FIN: ${info}`);
    assert.deepEqual(conn.errors, [], `connection ${c}: no sequence or content error: ${info}`);
  });
}

// ---- a link failure under traffic ----

export interface LinkFailureSpec {
  /** The group (TUN) whose failure line is awaited. */
  group: string;
  /** The NIC whose link fails, and a data address bound to it. */
  nic: string;
  addr: string;
  /** The peer's address of the same family, the streams' other end. */
  peer: string;
  /** TCP ports of the stream host → peer (4 connections) and of the stream peer → host (2). */
  ports: [number, number];
  /** How long each stream runs (ms); 200 kB/s per connection. */
  durationMs: number;
  /** Echo requests from the peer to addr, pingIntervalMs apart; the fault comes after warmReplies replies. */
  pings: number;
  pingIntervalMs: number;
  warmReplies: number;
}

export interface LinkFailureRun {
  /** When the link was failed and when the daemon had logged the failure (epoch ms). */
  tFail: number;
  tDeclared: number;
  ping: PingResult;
  gaps: PingGap[];
  /** The longest gap (path) ending between the fault and 1 s after the failure was declared. */
  atFault: PingGap | null;
  out: StreamResult;
  inb: StreamResult;
}

/**
 * Fails spec.nic's link (labFail) under traffic to and from spec.addr: paced TCP streams both
 * ways and a ping from the peer. Resolves once the daemon logged the failure and all the
 * traffic ended, with what the ping and the streams saw.
 */
export async function linkFailureUnderTraffic(prefix: string, d: RunningDaemon, spec: LinkFailureSpec): Promise<LinkFailureRun> {
  const out = await startStream({ fromNs: hostNs(prefix), toNs: peerNs(prefix), to: spec.peer, local: spec.addr, port: spec.ports[0],
    conns: 4, rate: 200_000, durationMs: spec.durationMs });
  const inb = await startStream({ fromNs: peerNs(prefix), toNs: hostNs(prefix), to: spec.addr, local: spec.peer, port: spec.ports[1],
    conns: 2, rate: 200_000, durationMs: spec.durationMs });
  const ping = pingRun(peerNs(prefix), spec.addr, spec.pings, spec.pingIntervalMs);
  await waitFor(`${spec.warmReplies} ping replies before the fault`, () => ping.replies() >= spec.warmReplies, 10_000, 10);
  const mark = d.log().length;
  const tFail = Date.now();
  await labFail(prefix, spec.nic);
  await d.waitLog(`IP interface failure detected on ${spec.nic} of group ${spec.group}`, 5_000, mark);
  const tDeclared = Date.now();
  const [pr, outR, inR] = await Promise.all([ping.result, out.result, inb.result]);
  // The failure window: from the fault until 1 s after the failure was declared (the
  // rebind and its gratuitous ARP are done by then).
  const gaps = pingGaps(pr, spec.pingIntervalMs);
  return { tFail, tDeclared, ping: pr, gaps, atFault: longestGap(gaps, 'path', tFail, tDeclared + 1_000), out: outR, inb: inR };
}

// ---- counters ----

/** Tcp counters (/proc/net/snmp) of a namespace. */
export async function tcpSnmp(ns: string): Promise<Record<string, number>> {
  const lines = (await execIn(ns, ['cat', '/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = lines[0].split(/\s+/);
  const vals = lines[1].split(/\s+/);
  const out: Record<string, number> = {};
  for (let k = 1; k < names.length; k++) out[names[k]] = Number(vals[k]);
  return out;
}

/** One of a host NIC's counters (/sys/class/net/NIC/statistics/STAT) in the lab's host namespace. */
export async function nicStat(prefix: string, nic: string, stat: 'tx_bytes' | 'rx_bytes' | 'rx_packets'): Promise<number> {
  return Number((await execIn(hostNs(prefix), ['cat', `/sys/class/net/${nic}/statistics/${stat}`])).stdout.trim());
}

export function txBytes(prefix: string, nic: string): Promise<number> {
  return nicStat(prefix, nic, 'tx_bytes');
}

/** The IPMP interface's carrier in the lab's host namespace (/sys/class/net/IF/carrier). */
export async function tunCarrier(prefix: string, tun: string): Promise<boolean> {
  const r = await execIn(hostNs(prefix), ['cat', `/sys/class/net/${tun}/carrier`]);
  return r.stdout.trim() === '1';
}

/**
 * Per-flow packet counters on the switch: one nft rule per (switch port, TCP source port),
 * counting frames the host sends into the switch on that port for that flow.
 */
export class FlowMeter {
  private readonly table: string;

  constructor(private readonly prefix: string, private readonly ports: string[], private readonly srcPorts: number[]) {
    this.table = 'ipmpflows';
  }

  async install(): Promise<void> {
    const rules = this.ports.flatMap((p) => this.srcPorts.map((sp) => `    iifname "${p}" tcp sport ${sp} counter`));
    const text = [`table bridge ${this.table} {`, '  chain flows {', '    type filter hook forward priority 0; policy accept;',
      ...rules, '  }', '}', ''].join('\n');
    await nftLoad(swNs(this.prefix), text);
  }

  /** Packets per (switch port, source port): result[port][srcPort]. */
  async read(): Promise<Record<string, Record<number, number>>> {
    const j = JSON.parse((await execIn(swNs(this.prefix), ['nft', '-j', 'list', 'table', 'bridge', this.table])).stdout) as
      { nftables: { rule?: { expr: Record<string, unknown>[] } }[] };
    const out: Record<string, Record<number, number>> = {};
    for (const p of this.ports) out[p] = {};
    for (const item of j.nftables) {
      const expr = item.rule?.expr;
      if (!expr) continue;
      let port = '';
      let sport = 0;
      let packets = 0;
      for (const e of expr) {
        const m = e.match as { left?: { meta?: { key: string }; payload?: { field: string } }; right?: unknown } | undefined;
        if (m?.left?.meta?.key === 'iifname') port = String(m.right);
        if (m?.left?.payload?.field === 'sport') sport = Number(m.right);
        const c = e.counter as { packets: number } | undefined;
        if (c) packets = c.packets;
      }
      if (port in out) out[port][sport] = packets;
    }
    return out;
  }
}

async function nftLoad(ns: string, text: string): Promise<void> {
  const child = spawnIn(ns, ['nft', '-f', '-']);
  let err = '';
  child.stderr?.on('data', (b: Buffer) => { err += b.toString(); });
  const code = await new Promise<number | null>((res) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', (c) => { clearTimeout(t); res(c); });
    child.stdin?.end(text);
  });
  if (code !== 0) throw new Error(`nft -f in ${ns} failed (${code}): ${err.trim()}\n${text}`);
}

/** Per source port, the switch ports whose counter grew between two readings. */
export function flowPorts(before: Record<string, Record<number, number>>, after: Record<string, Record<number, number>>,
  srcPorts: number[], minPackets = 1): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const sp of srcPorts) {
    out.set(sp, Object.keys(after).filter((p) => (after[p][sp] ?? 0) - (before[p]?.[sp] ?? 0) >= minPackets));
  }
  return out;
}

/** The flow bucket of a TCP packet src:sport → dst:dport, as the daemon hashes it. */
export function tcpBucket(src: string, dst: string, sport: number, dport: number): number {
  const b = new Uint8Array(40);
  const v = new DataView(b.buffer);
  b[0] = 0x45;
  b[3] = 40;
  b[9] = 6;
  v.setUint32(12, parseIpv4(src));
  v.setUint32(16, parseIpv4(dst));
  v.setUint16(20, sport);
  v.setUint16(22, dport);
  return flowBucket(b, 0, 40);
}

export interface FlowChoice {
  src: string;
  dst: string;
  dport: number;
  /** NIC slots of the group's non-standby NICs (slots follow the configuration order). */
  homes: number[];
  /** The slot whose home buckets are wanted (or avoided). */
  home: number;
}

/**
 * `n` local ports from `from` up whose TCP flows src → dst:dport hash into buckets whose
 * rendezvous home (the daemon's own computation) is (or, with want false, is not) f.home.
 */
export function pickPorts(f: FlowChoice, from: number, n: number, want = true): number[] {
  const table = new BucketTable(f.homes, []);
  const out: number[] = [];
  for (let port = from; out.length < n && port < from + 5000; port++) {
    if ((table.homeOf(tcpBucket(f.src, f.dst, port, f.dport)) === f.home) === want) out.push(port);
  }
  assert.equal(out.length, n, `found ${n} local ports from ${from}`);
  return out;
}

// ---- daemon state ----

export async function ipmpstat(prefix: string, d: RunningDaemon, args: string[]): Promise<string> {
  return (await execIn(hostNs(prefix), [process.execPath, IPMPSTAT, '--socket', d.socket, ...args], { timeoutMs: 10_000 })).stdout;
}

export function iface(s: Snapshot, name: string): SnapshotInterface {
  const i = s.interfaces.find((x) => x.name === name);
  assert.ok(i, `interface ${name} in snapshot: ${JSON.stringify(s.interfaces.map((x) => x.name))}`);
  return i;
}

/** Polls the snapshot until pred holds; the error carries the last snapshot. */
export async function waitSnap(d: RunningDaemon, what: string, pred: (s: Snapshot) => boolean, timeoutMs = 10_000): Promise<Snapshot> {
  let last: Snapshot | undefined;
  await waitFor(what, async () => {
    last = await snapshot(d.socket);
    return pred(last);
  }, timeoutMs, 20).catch((e: Error) => {
    e.message += `\nlast snapshot: ${JSON.stringify(last)}`;
    throw e;
  });
  return last!;
}

export function boundTo(s: Snapshot, address: string): string {
  return s.addresses.find((a) => a.address === address)?.inbound ?? '';
}

/** The peer's neighbour entry (lladdr) for an address, or '' when it has none. */
export async function peerNeighbour(prefix: string, address: string): Promise<string> {
  const j = JSON.parse((await execIn(peerNs(prefix), ['ip', '-j', 'neigh', 'show', address])).stdout) as { lladdr?: string }[];
  return (j[0]?.lladdr ?? '').toLowerCase();
}
