// ipmpd under the soak: the configuration it runs with (rewritten for SIGHUP), one process
// instance at a time in the lab's host namespace, its log across instances, and what /proc
// says about it (open fds, sockets, RSS).

import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnIn, waitFor } from '../../src/lab/lab.js';
import { connectControl } from '../../src/cli/client.js';
import type { Reply, Request, Snapshot } from '../../src/daemon/protocol.js';
import type { DistributiveOmit } from '../../src/cli/client.js';

/** Repository root (dist/bench/soak → three levels up). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const IPMPD = join(REPO, 'bin', 'ipmpd');
/** Time allowed for "ipmpd: ready" (ms). */
export const READY_TIMEOUT_MS = 20_000;
const EXIT_TIMEOUT_MS = 10_000;
const LOG_LIMIT = 32 << 20;

export interface NicConfig {
  name: string;
  testAddress: string;
  standby: boolean;
}

export interface GroupSetup {
  tun: string;
  fdtMs: number;
  nics: NicConfig[];
  addresses: string[];
  targets: string[];
}

export function configYaml(g: GroupSetup): string {
  const lines = [`FAILURE_DETECTION_TIME: ${g.fdtMs}`, 'FAILBACK: yes', 'groups:', `  ${g.tun}:`, '    interfaces:'];
  for (const n of g.nics) {
    lines.push(`      ${n.name}: { test-address: ${n.testAddress}${n.standby ? ', standby: true' : ''} }`);
  }
  lines.push(`    addresses: [${g.addresses.join(', ')}]`, `    targets: [${g.targets.join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

export function writeConfigFile(file: string, g: GroupSetup): void {
  writeFileSync(file, configYaml(g), { mode: 0o644 });
}

/** Everything every ipmpd instance of the soak wrote, with a marker line per start. */
export class DaemonLog {
  private text = '';

  append(s: string): void {
    if (this.text.length < LOG_LIMIT) this.text += s;
  }

  mark(what: string): void {
    this.append(`--- soak: ${what} ---\n`);
  }

  all(): string {
    return this.text;
  }

  length(): number {
    return this.text.length;
  }

  /** The last `n` lines from character `from` on. */
  tail(n = 30, from = 0): string {
    return this.text.slice(from).split('\n').slice(-n - 1).join('\n');
  }
}

export interface ProcStats {
  fds: number;
  sockets: number;
  rssKb: number;
  threads: number;
}

/** Open fds, of which sockets, VmRSS and thread count of a process (null once it is gone). */
export function procStats(pid: number): ProcStats | null {
  try {
    const fdDir = `/proc/${pid}/fd`;
    let fds = 0;
    let sockets = 0;
    for (const fd of readdirSync(fdDir)) {
      let target = '';
      try { target = readlinkSync(join(fdDir, fd)); } catch { continue; }
      fds += 1;
      if (target.startsWith('socket:')) sockets += 1;
    }
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    const threads = Number(/Threads:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return { fds, sockets, rssKb, threads };
  } catch {
    return null;
  }
}

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

/** One ipmpd process. */
export class Ipmpd {
  private constructor(private readonly proc: ChildProcess, readonly socket: string, readonly startedAt: number) {}

  get pid(): number { return this.proc.pid ?? -1; }

  /** Starts ipmpd in `ns` on `configFile`; resolves once it logs "ipmpd: ready" (bounded). */
  static async start(ns: string, configFile: string, socket: string, log: DaemonLog, instance: number): Promise<Ipmpd> {
    log.mark(`ipmpd #${instance} starting`);
    const from = log.length();
    const proc = spawnIn(ns, [process.execPath, IPMPD, '-c', configFile, '--socket', socket, '-d'],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO });
    const onData = (d: Buffer): void => log.append(d.toString('utf8'));
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code, sig) => log.mark(`ipmpd #${instance} exited (${sig ?? `code ${String(code)}`})`));
    const d = new Ipmpd(proc, socket, Date.now());
    try {
      await waitFor('ipmpd: ready', () => {
        if (exited(proc)) throw new Error(`ipmpd #${instance} exited before it was ready\n${log.tail(20, from)}`);
        return log.all().slice(from).includes('ipmpd: ready');
      }, READY_TIMEOUT_MS, 50);
    } catch (e) {
      await d.kill9();
      throw e;
    }
    return d;
  }

  alive(): boolean {
    return !exited(this.proc);
  }

  exitDescription(): string {
    return this.proc.signalCode ?? `code ${String(this.proc.exitCode)}`;
  }

  async request(req: DistributiveOmit<Request, 'id'>): Promise<Reply> {
    const c = await connectControl(this.socket);
    try {
      return await c.request(req);
    } finally {
      c.close();
    }
  }

  async snapshot(): Promise<Snapshot> {
    const r = await this.request({ op: 'snapshot' });
    if (!r.ok) throw new Error(`snapshot refused: ${r.error}`);
    return r.result as Snapshot;
  }

  hup(): void {
    this.proc.kill('SIGHUP');
  }

  stats(): ProcStats | null {
    return this.alive() ? procStats(this.pid) : null;
  }

  async kill9(): Promise<void> {
    if (!exited(this.proc)) {
      this.proc.kill('SIGKILL');
      await waitExit(this.proc, EXIT_TIMEOUT_MS);
    }
  }

  /** SIGTERM and a bounded wait; resolves with the exit code, or null when it had to be killed. */
  async term(): Promise<number | null> {
    if (exited(this.proc)) return this.proc.exitCode;
    this.proc.kill('SIGTERM');
    if (await waitExit(this.proc, EXIT_TIMEOUT_MS)) return this.proc.exitCode;
    await this.kill9();
    return null;
  }
}
