// The load generators and the daemon under test: iperf3 (server in the peer, clients in the
// host, every run bounded by -t and a kill timeout), ping, and ipmpd started in the host
// namespace with a generated configuration.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { execIn, spawnIn, waitFor } from '../../src/lab/lab.js';
import { connectControl } from '../../src/cli/client.js';
import type { Snapshot } from '../../src/daemon/protocol.js';
import { sleep } from './sys.js';

/** Repository root (dist/bench/e2e → three levels up). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const IPMPD = join(REPO, 'bin', 'ipmpd');
export const IPERF_PORT = 5201;

function exited(p: ChildProcess): boolean {
  return p.exitCode !== null || p.signalCode !== null;
}

function waitExit(p: ChildProcess, ms: number): Promise<boolean> {
  if (exited(p)) return Promise.resolve(true);
  return new Promise((res) => {
    const t = setTimeout(() => { p.removeListener('exit', on); res(false); }, ms);
    const on = (): void => { clearTimeout(t); res(true); };
    p.once('exit', on);
  });
}

/** iperf3 server in `ns`, listening until stopped (or until the lab goes down). */
export async function iperfServer(ns: string): Promise<ChildProcess> {
  const p = spawnIn(ns, ['iperf3', '-s', '-p', String(IPERF_PORT)], { stdio: 'ignore' });
  await waitFor('iperf3 server', async () => {
    const { stdout } = await execIn(ns, ['ss', '-ltnH', `sport = :${IPERF_PORT}`]);
    return stdout.trim().length > 0;
  }, 5_000, 50);
  return p;
}

export interface IperfResult {
  /** Receiver-side goodput (TCP) or the rate the receiver saw (UDP), bits/s. */
  bps: number;
  seconds: number;
  /** UDP: datagrams sent, lost (as the receiver counted them), received per second. */
  packets?: number;
  lost?: number;
  rxPps?: number;
  retransmits?: number;
}

interface IperfJson {
  error?: string;
  end?: {
    sum_received?: { bits_per_second: number; seconds: number };
    sum_sent?: { retransmits?: number };
    sum?: { bits_per_second: number; seconds: number; packets: number; lost_packets: number };
  };
}

/** One iperf3 client run from `ns` to `target`; `extra` adds -u, -b, -l, -P ... */
export async function iperf(ns: string, target: string, seconds: number, extra: string[] = []): Promise<IperfResult> {
  const argv = ['iperf3', '-c', target, '-p', String(IPERF_PORT), '-t', String(seconds), '-J', '--connect-timeout', '3000',
    ...extra];
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    let stdout = '';
    try {
      stdout = (await execIn(ns, argv, { timeoutMs: (seconds + 15) * 1000 })).stdout;
    } catch (e) {
      // iperf3 exits 1 on errors but still prints JSON; the message is in the LabError.
      lastErr = e;
      await sleep(300);
      continue;
    }
    const j = JSON.parse(stdout) as IperfJson;
    if (j.error) { lastErr = new Error(`iperf3: ${j.error}`); await sleep(300); continue; }
    const udp = extra.includes('-u');
    if (udp && j.end?.sum) {
      const s = j.end.sum;
      const rx = s.packets - s.lost_packets;
      return { bps: s.bits_per_second * (rx / Math.max(1, s.packets)), seconds: s.seconds, packets: s.packets,
        lost: s.lost_packets, rxPps: rx / s.seconds };
    }
    if (j.end?.sum_received) {
      return { bps: j.end.sum_received.bits_per_second, seconds: j.end.sum_received.seconds,
        retransmits: j.end.sum_sent?.retransmits };
    }
    lastErr = new Error('iperf3: no summary in output');
  }
  throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
}

/** The UDP port the generator sends to; the peer's sink drops it at its NIC. */
export const SINK_PORT = 9;

/**
 * A sink in `ns`: UDP to SINK_PORT arriving on `dev` is counted by the NIC and dropped at
 * ingress (nftables netdev hook), so a packet-rate measurement ends at the receiving NIC.
 * On veth the receiver's whole stack runs in the sender's context; an application draining
 * the datagrams would be charged to the sender (ipmpd, or the generator for the direct path).
 * The table goes with the namespace.
 */
export async function udpSink(ns: string, dev = 'eth0'): Promise<void> {
  const t = ['netdev', 'ipmp_bench_sink'];
  await execIn(ns, ['nft', 'add', 'table', ...t]);
  await execIn(ns, ['nft', 'add', 'chain', ...t, 'in', '{', 'type', 'filter', 'hook', 'ingress', 'device', dev, 'priority', '0', ';', '}']);
  await execIn(ns, ['nft', 'add', 'rule', ...t, 'in', 'udp', 'dport', String(SINK_PORT), 'drop']);
}

/**
 * `len`-byte UDP datagrams from `ns` to `target`:SINK_PORT with the sendmmsg generator
 * (bench/e2e/loadgen.ts) for `seconds`; pps 0 = as fast as the stack takes them.
 */
export async function generate(ns: string, target: string, len: number, seconds: number, pps = 0, flows = 1,
  port = SINK_PORT): Promise<IperfResult> {
  const gen = join(REPO, 'dist', 'bench', 'e2e', 'loadgen.js');
  const { stdout } = await execIn(ns, [process.execPath, gen, target, String(port), String(len), String(seconds), String(pps),
    String(flows)], { timeoutMs: (seconds + 15) * 1000 });
  const j = JSON.parse(stdout) as { sent: number; errors: number; seconds: number };
  return { bps: (j.sent * len * 8) / j.seconds, seconds: j.seconds, packets: j.sent };
}

export interface RecvCost { packets: number; cpuUs: number; seconds: number }

/**
 * A receiver in `ns` (bench/e2e/recvcost.ts) counting 64-byte UDP for `seconds`, either with
 * raw-socket's one callback per packet or with the addon's batched AF_PACKET receive on `dev`.
 * Null when raw-socket is not installed (an optional dependency).
 */
export async function recvCost(ns: string, mode: 'raw-socket' | 'batched', dev: string, seconds: number,
  load: () => Promise<unknown>): Promise<RecvCost | null> {
  const prog = join(REPO, 'dist', 'bench', 'e2e', 'recvcost.js');
  const p = spawnIn(ns, [process.execPath, prog, mode, dev, String(seconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout?.on('data', (b: Buffer) => { out += b.toString(); });
  p.stderr?.on('data', (b: Buffer) => { err += b.toString(); });
  const done = new Promise<number | null>((res) => p.once('exit', (code) => res(code)));
  const t0 = performance.now();
  while (!out.startsWith('ready\n') && p.exitCode === null && performance.now() - t0 < 10_000) await sleep(20);
  if (out.startsWith('ready\n')) await load();
  const killer = setTimeout(() => p.kill('SIGKILL'), (seconds + 10) * 1000);
  const code = await done;
  clearTimeout(killer);
  if (code === 3) return null;
  if (code !== 0) throw new Error(`recvcost ${mode}: exit ${code}: ${err.trim().split('\n')[0] ?? ''}`);
  return JSON.parse(out.slice('ready\n'.length)) as RecvCost;
}

export interface FloorResult { toNic: number; toTun: number; seconds: number }

/**
 * The C forwarder of the latency floor (floor.ts) in `ns` between a TUN holding `addr` and
 * `nic`, for at most `seconds`; resolves once it forwards. stop() ends it (closing its stdin)
 * and returns its counts; the agent removes its TUN and nft table, and after a forced kill
 * the table is removed here.
 */
export async function startFloor(ns: string, nic: string, addr: string, peerMac: string, seconds: number):
  Promise<{ stop(): Promise<FloorResult> }> {
  const prog = join(REPO, 'dist', 'bench', 'e2e', 'floor.js');
  const p = spawnIn(ns, [process.execPath, prog, nic, addr, peerMac, String(seconds)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout?.on('data', (b: Buffer) => { out += b.toString(); });
  p.stderr?.on('data', (b: Buffer) => { err += b.toString(); });
  const t0 = performance.now();
  while (!out.startsWith('ready\n') && !exited(p) && performance.now() - t0 < 10_000) await sleep(20);
  const stop = async (): Promise<FloorResult> => {
    p.stdin?.end();
    if (!(await waitExit(p, (seconds + 5) * 1000))) {
      p.kill('SIGKILL');
      await waitExit(p, 5_000);
      await execIn(ns, ['nft', 'delete', 'table', 'netdev', 'ipmp_bench_floor']).catch(() => undefined);
    }
    if (p.exitCode !== 0) throw new Error(`floor forwarder: exit ${p.exitCode ?? p.signalCode}: ${err.trim().split('\n')[0] ?? ''}`);
    return JSON.parse(out.slice('ready\n'.length)) as FloorResult;
  };
  if (!out.startsWith('ready\n')) {
    await stop().catch(() => undefined);
    throw new Error(`floor forwarder did not start: ${err.trim().split('\n')[0] ?? 'no output'}`);
  }
  return { stop };
}

/** Median RTT (µs) of `count` pings at `intervalS` from `ns` to `target`. */
export async function pingRtts(ns: string, target: string, count: number, intervalS = 0.01): Promise<number[]> {
  const { stdout } = await execIn(ns, ['ping', '-n', '-c', String(count), '-i', String(intervalS), '-W', '1', target],
    { timeoutMs: count * intervalS * 1000 + 15_000 });
  const out: number[] = [];
  for (const m of stdout.matchAll(/time=([\d.]+) ms/g)) out.push(Number(m[1]) * 1000);
  return out;
}

export interface Daemon {
  pid: number;
  socket: string;
  log(): string;
  snapshot(): Promise<Snapshot>;
  stop(): Promise<void>;
}

/** Starts ipmpd in `ns` with `yaml`; resolves once it logs "ipmpd: ready" (bounded). */
export async function startIpmpd(ns: string, yaml: string): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'ipmp-bench-'));
  const file = join(dir, 'ipmp.yaml');
  const socket = join(dir, 'ipmpd.sock');
  writeFileSync(file, yaml);
  const proc = spawnIn(ns, [process.execPath, IPMPD, '-c', file, '--socket', socket, '-d'],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO });
  let text = '';
  const onData = (d: Buffer): void => { if (text.length < (1 << 20)) text += d.toString('utf8'); };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const stop = async (): Promise<void> => {
    if (!exited(proc)) {
      proc.kill('SIGTERM');
      if (!(await waitExit(proc, 10_000))) { proc.kill('SIGKILL'); await waitExit(proc, 5_000); }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('ipmpd ready', () => {
      if (exited(proc)) throw new Error(`ipmpd exited before it was ready:\n${text.split('\n').slice(-15).join('\n')}`);
      return text.includes('ipmpd: ready');
    }, 20_000, 50);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    pid: proc.pid ?? -1,
    socket,
    log: () => text,
    async snapshot(): Promise<Snapshot> {
      const c = await connectControl(socket);
      try {
        const r = await c.request({ op: 'snapshot' });
        if (!r.ok) throw new Error(`snapshot refused: ${r.error}`);
        return r.result as Snapshot;
      } finally {
        c.close();
      }
    },
    stop,
  };
}

export interface GroupConfig {
  tun: string;
  nics: string[];
  addresses: string[];
  /** Probe-based detection: FDT (ms), a test address per NIC, pinned targets. */
  probe?: { fdtMs: number; testAddresses: string[]; targets: string[] };
}

export function ipmpdYaml(g: GroupConfig): string {
  const lines: string[] = [];
  if (g.probe) lines.push(`FAILURE_DETECTION_TIME: ${g.probe.fdtMs}`);
  lines.push('groups:', `  ${g.tun}:`, '    interfaces:');
  g.nics.forEach((n, i) => {
    lines.push(g.probe ? `      ${n}: { test-address: ${g.probe.testAddresses[i]} }` : `      ${n}: {}`);
  });
  lines.push(`    addresses: [${g.addresses.join(', ')}]`);
  if (g.probe) lines.push(`    targets: [${g.probe.targets.join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

/** Waits until every listed NIC is ok and active in the daemon's snapshot. */
export async function waitNicsOk(d: Daemon, nics: readonly string[], timeoutMs = 10_000): Promise<void> {
  await waitFor(`${nics.join(', ')} ok in ipmpd`, async () => {
    const s = await d.snapshot();
    return nics.every((n) => s.interfaces.some((i) => i.name === n && i.state === 'ok' && i.active));
  }, timeoutMs, 100);
}
