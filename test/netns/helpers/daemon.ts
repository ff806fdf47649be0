/**
 * Runs ipmpd inside a lab's host namespace for tests: writes the configuration into a fresh
 * temporary directory, starts `ip netns exec <P>-host node bin/ipmpd -c FILE --socket SOCK -d`,
 * waits (bounded) for "ipmpd: ready" on stderr and keeps the whole log. Every daemon started
 * here is SIGKILLed when this process exits; stop() and kill9() end it earlier.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectControl } from '../../../src/cli/client.js';
import type { Snapshot } from '../../../src/daemon/protocol.js';
import { execIn, hostNs } from '../../../src/lab/lab.js';

/** Repository root (dist/test/netns/helpers → four levels up). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const IPMPD = join(REPO, 'bin', 'ipmpd');

export const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;
const LOG_LIMIT = 4 << 20;

export interface StartOptions {
  /** Time allowed for "ipmpd: ready" (ms). */
  readyTimeoutMs?: number;
  /** Extra ipmpd arguments. */
  args?: string[];
  /** The program to run instead of bin/ipmpd. */
  program?: string;
  /** Runs it with IPMPD_TEST_HOOKS=1 (the control socket's `test-hook` op), for this daemon alone. */
  testHooks?: boolean;
  /** Extra environment variables, for this daemon alone. */
  env?: Record<string, string>;
}

export interface RunningDaemon {
  proc: ChildProcess;
  pid: number;
  socket: string;
  dir: string;
  /** Everything the daemon wrote to stdout and stderr so far. */
  log(): string;
  /** The last `lines` lines of the log, for assertion messages. */
  tail(lines?: number): string;
  /** True while the process has not exited. */
  alive(): boolean;
  /** Sends `signal`, waits (bounded) for exit; resolves with the exit code (128+n for a signal). */
  stop(signal?: NodeJS.Signals): Promise<number>;
  /** SIGKILL and wait for the exit. */
  kill9(): Promise<void>;
  /** Waits for `text` to appear in the log after the first `from` characters (bounded). */
  waitLog(text: string | RegExp, timeoutMs?: number, from?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHook = false;

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const p of live) {
      try { p.kill('SIGCONT'); p.kill('SIGKILL'); } catch { /* gone */ }
    }
  });
}

function exited(p: ChildProcess): boolean {
  return p.exitCode !== null || p.signalCode !== null;
}

function exitCode(p: ChildProcess): number {
  if (p.exitCode !== null) return p.exitCode;
  const sigs: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return 128 + (p.signalCode ? sigs[p.signalCode] ?? 0 : 0);
}

function waitExit(p: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(p)) return Promise.resolve(true);
  return new Promise((res) => {
    const t = setTimeout(() => { p.removeListener('exit', on); res(false); }, timeoutMs);
    const on = (): void => { clearTimeout(t); res(true); };
    p.once('exit', on);
  });
}

/** Writes a config file (mode 0644) in a fresh temporary directory. */
/**
 * Runs fn; a failure carries the tail of the daemon's log (`lines` lines), after what
 * `extra` returns (a capture, say) when given.
 */
export async function withLog<T>(d: RunningDaemon | undefined, fn: () => Promise<T>, lines = 40,
  extra?: () => string): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (d && e instanceof Error) {
      e.message += `${extra ? `\n${extra()}` : ''}\n--- ipmpd log (tail) ---\n${d.tail(lines)}`;
    }
    throw e;
  }
}

export function writeConfig(yamlText: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ipmp-fwd-'));
  chmodSync(dir, 0o755);
  const file = join(dir, 'ipmp.yaml');
  writeFileSync(file, yamlText, { mode: 0o644 });
  chmodSync(file, 0o644);
  return { dir, file };
}

/**
 * Starts ipmpd in `<prefix>-host` with `yamlText` as its configuration. Rejects (after killing
 * the process) when it exits or is not ready within the timeout; the message carries the log.
 */
export async function startDaemon(prefix: string, yamlText: string, opts: StartOptions = {}): Promise<RunningDaemon> {
  const { dir, file } = writeConfig(yamlText);
  const socket = join(dir, 'ipmpd.sock');
  const argv = ['netns', 'exec', hostNs(prefix), process.execPath, opts.program ?? IPMPD, '-c', file, '--socket', socket, '-d',
    ...(opts.args ?? [])];
  const env = { ...process.env, ...(opts.testHooks ? { IPMPD_TEST_HOOKS: '1' } : {}), ...opts.env };
  const proc = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO, env });
  installExitHook();
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  let text = '';
  const waiters = new Set<() => void>();
  const onData = (d: Buffer): void => {
    if (text.length < LOG_LIMIT) text += d.toString('utf8');
    for (const w of waiters) w();
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const tail = (lines = 40): string => text.split('\n').slice(-lines - 1).join('\n');

  const waitLog = (what: string | RegExp, timeoutMs = READY_TIMEOUT_MS, from = 0): Promise<void> => {
    const seen = (): boolean => {
      const s = text.slice(from);
      return typeof what === 'string' ? s.includes(what) : what.test(s);
    };
    if (seen()) return Promise.resolve();
    return new Promise((res, rej) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        waiters.delete(check);
        proc.removeListener('exit', onExit);
        if (err) rej(err); else res();
      };
      const check = (): void => { if (seen()) done(); };
      const onExit = (): void => {
        if (seen()) done();
        else done(new Error(`ipmpd exited (code ${exitCode(proc)}) before logging ${String(what)}\n--- log ---\n${tail()}`));
      };
      const timer = setTimeout(() => done(new Error(
        `ipmpd did not log ${String(what)} within ${timeoutMs} ms\n--- log ---\n${tail()}`)), timeoutMs);
      waiters.add(check);
      proc.once('exit', onExit);
      if (exited(proc)) onExit();
    });
  };

  const d: RunningDaemon = {
    proc,
    pid: proc.pid ?? -1,
    socket,
    dir,
    log: () => text,
    tail,
    alive: () => !exited(proc),
    waitLog,
    async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
      if (!exited(proc)) {
        proc.kill('SIGCONT');
        proc.kill(signal);
        if (!(await waitExit(proc, STOP_TIMEOUT_MS))) {
          proc.kill('SIGKILL');
          await waitExit(proc, STOP_TIMEOUT_MS);
          throw new Error(`ipmpd did not exit within ${STOP_TIMEOUT_MS} ms of ${signal}\n--- log ---\n${tail()}`);
        }
      }
      rmSync(dir, { recursive: true, force: true });
      return exitCode(proc);
    },
    async kill9(): Promise<void> {
      if (!exited(proc)) {
        proc.kill('SIGKILL');
        await waitExit(proc, STOP_TIMEOUT_MS);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitLog('ipmpd: ready', opts.readyTimeoutMs ?? READY_TIMEOUT_MS);
  } catch (e) {
    await d.kill9();
    throw e;
  }
  return d;
}

/** The daemon's snapshot over its control socket. */
export async function snapshot(socket: string): Promise<Snapshot> {
  const c = await connectControl(socket);
  try {
    const r = await c.request({ op: 'snapshot' });
    if (!r.ok) throw new Error(`snapshot refused: ${r.error} (${r.code})`);
    return r.result as Snapshot;
  } finally {
    c.close();
  }
}

/** The Prometheus text of a daemon started with `--metrics addr`, fetched inside the lab's host namespace, as name{labels} → value. */
export async function scrapeMetrics(prefix: string, addr: string): Promise<Map<string, number>> {
  const { stdout } = await execIn(hostNs(prefix), ['curl', '-sf', '--max-time', '5', `http://${addr}/metrics`]);
  const m = new Map<string, number>();
  for (const l of stdout.split('\n')) {
    if (l.startsWith('#') || !l.trim()) continue;
    const i = l.lastIndexOf(' ');
    m.set(l.slice(0, i), Number(l.slice(i + 1)));
  }
  return m;
}

/** A metric labelled with the group alone; a missing one fails the test. */
export function groupMetric(m: Map<string, number>, name: string, group: string): number {
  const v = m.get(`${name}{group="${group}"}`);
  if (v === undefined) throw new Error(`no metric ${name} for group ${group}`);
  return v;
}

/** The daemon's threads named ipmp-* (/proc/PID/task/TID/comm), as name → thread ids. */
export function namedThreads(pid: number): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let name: string;
    try {
      name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue; // the thread ended meanwhile
    }
    if (name.startsWith('ipmp-')) out.set(name, [...(out.get(name) ?? []), Number(tid)]);
  }
  return out;
}
