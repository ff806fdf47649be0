/**
 * Helpers shared by the probe namespace tests: ipmpstat runs inside the lab's host namespace,
 * a bounded `ipmpstat -p` capture, snapshot polling, and the daemon log on failure.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { connectControl } from '../../../src/cli/client.js';
import { execIn, hostNs, waitFor } from '../../../src/lab/lab.js';
import type { Snapshot, SnapshotInterface, TestHook } from '../../../src/daemon/protocol.js';
import { REPO, snapshot, type RunningDaemon } from './daemon.js';

export const IPMPSTAT = join(REPO, 'bin', 'ipmpstat');
export const IF_MPADM = join(REPO, 'bin', 'if_mpadm');

/**
 * The probing group the probe tests run: eth0 and eth1 with test addresses 198.18.0.100 and .101,
 * the data addresses 198.18.0.10 and .11, FAILURE_DETECTION_TIME fdtMs and, unless null, the
 * pinned target `target`.
 */
export function probingGroupYaml(tun: string, fdtMs: number, target: string | null): string {
  return [
    `FAILURE_DETECTION_TIME: ${fdtMs}`,
    'groups:',
    `  ${tun}:`,
    '    interfaces:',
    '      eth0: { test-address: 198.18.0.100/24 }',
    '      eth1: { test-address: 198.18.0.101/24 }',
    '    addresses: [198.18.0.10/24, 198.18.0.11/24]',
    ...(target === null ? [] : [`    targets: [${target}]`]),
    '',
  ].join('\n');
}

export { withLog } from './daemon.js';

export async function ipmpstat(p: string, d: RunningDaemon, args: string[]): Promise<string> {
  const r = await execIn(hostNs(p), [process.execPath, IPMPSTAT, '--socket', d.socket, ...args], { timeoutMs: 10_000 });
  return r.stdout;
}

export async function ifMpadm(p: string, d: RunningDaemon, args: string[]): Promise<void> {
  await execIn(hostNs(p), [process.execPath, IF_MPADM, '--socket', d.socket, ...args], { timeoutMs: 10_000 });
}

/** Runs `ipmpstat -p` for ms milliseconds and returns what it printed. */
export function ipmpstatProbes(p: string, d: RunningDaemon, ms: number): Promise<string> {
  const child = spawn('ip', ['netns', 'exec', hostNs(p), process.execPath, IPMPSTAT, '--socket', d.socket, '-p'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
  return new Promise((resolve) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), ms + 5_000);
    setTimeout(() => child.kill('SIGINT'), ms);
    child.once('exit', () => { clearTimeout(hard); resolve(out); });
  });
}

/** `ipmpstat -p` lines (TIME INTERFACE PROBE NETRTT RTT RTTAVG TARGET) of acked probes on ifname. */
export function ackedLines(out: string, ifname: string, target?: string): string[] {
  return out.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 7 && f[1] === ifname
    && /ms$/.test(f[3]!) && /ms$/.test(f[4]!) && (target === undefined || f[6] === target)).map((f) => f.join(' '));
}

/** `ipmpstat -p` lines of lost probes (NETRTT and RTT empty) on ifname, to target when given. */
export function lostLines(out: string, ifname: string, target?: string): string[] {
  return out.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 6 && f[1] === ifname
    && /^\d+$/.test(f[2]!) && f[3] === '--' && f[4] === '--' && (target === undefined || f[f.length - 1] === target))
    .map((f) => f.join(' '));
}

export function iface(s: Snapshot, name: string): SnapshotInterface {
  const i = s.interfaces.find((x) => x.name === name);
  assert.ok(i, `interface ${name} in snapshot`);
  return i;
}

/** Waits until every NIC in names shows PROBE ok and STATE ok. */
export async function waitProbeOk(d: RunningDaemon, names: string[], timeoutMs: number): Promise<Snapshot> {
  let last: Snapshot | undefined;
  await waitFor(`PROBE ok on ${names.join(', ')}`, async () => {
    last = await snapshot(d.socket);
    return names.every((n) => iface(last!, n).probe === 'ok' && iface(last!, n).state === 'ok');
  }, timeoutMs, 50).catch((e: Error) => { e.message += `\nlast snapshot: ${JSON.stringify(last)}`; throw e; });
  return last!;
}

/** Sends a test-hook request (the daemon must run with IPMPD_TEST_HOOKS=1). */
export async function testHook(d: RunningDaemon, group: string, hook: TestHook): Promise<void> {
  const c = await connectControl(d.socket);
  try {
    const r = await c.request({ op: 'test-hook', group, hook });
    if (!r.ok) throw new Error(`test-hook ${hook} refused: ${r.error} (${r.code})`);
  } finally {
    c.close();
  }
}

/**
 * Socket inodes in one of the process namespace's /proc/PID/net tables (the inode is the last
 * column of packet, the 7th of unix, the 10th of tcp/tcp6), with the row's fields passing `keep`.
 * A table the kernel lacks (tcp6 without IPv6) has none.
 */
function socketInodes(pid: number, table: 'packet' | 'unix' | 'tcp' | 'tcp6', keep: (f: string[]) => boolean = () => true): Set<string> {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8'); } catch { return new Set(); }
  const col = (f: string[]): string | undefined => (table === 'packet' ? f.at(-1) : table === 'unix' ? f[6] : f[9]);
  const inodes = new Set<string>();
  for (const l of text.trim().split('\n').slice(1)) {
    const f = l.trim().split(/\s+/);
    const inode = col(f);
    if (inode && keep(f)) inodes.add(inode);
  }
  return inodes;
}

/**
 * A process's open descriptors by kind: `packet`, `unix`, `tcp connection` (any TCP socket that
 * is not listening, such as a metrics client's, which the daemon closes some time after the
 * client) and `other` sockets, anonymous inodes by name (`anon_inode:[eventfd]`, a thread's event
 * loop), `pipe`, `file`.
 */
export function descriptorKinds(pid: number): Record<string, number> {
  const packet = socketInodes(pid, 'packet');
  const unix = socketInodes(pid, 'unix');
  // TCP sockets that are not listening (state 0A): connections.
  const notListening = (f: string[]): boolean => f[3] !== '0A';
  const tcp = new Set([...socketInodes(pid, 'tcp', notListening), ...socketInodes(pid, 'tcp6', notListening)]);
  const kinds: Record<string, number> = {};
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try { target = readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; /* closed meanwhile */ }
    const sock = /^socket:\[(\d+)\]$/.exec(target);
    const kind = sock
      ? (packet.has(sock[1]) ? 'packet' : unix.has(sock[1]) ? 'unix' : tcp.has(sock[1]) ? 'tcp connection' : 'other socket')
      : target.startsWith('anon_inode:') ? target : target.startsWith('pipe:') ? 'pipe' : 'file';
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return kinds;
}

/** Packet sockets the daemon process holds (fds whose inode is in its namespace's /proc/net/packet). */
export function packetSockets(pid: number): number {
  return descriptorKinds(pid).packet ?? 0;
}
