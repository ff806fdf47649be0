// The programs `ipmp lab demo` runs in the lab: ipmpd (output to a log file that is relayed
// line by line, so the daemon survives the demo with --keep), ipmpstat, iperf3 and ping.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execIn, spawnIn } from './exec.js';

/** Repository root (this file is dist/src/lab/demo-procs.js). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const IPMPD = `${ROOT}bin/ipmpd`;
export const IPMPSTAT = `${ROOT}bin/ipmpstat`;

function alive(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null;
}

/** Resolves true when the child has exited (or already had), false after ms. */
export function waitExit(c: ChildProcess, ms: number): Promise<boolean> {
  if (!alive(c)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    c.once('exit', () => { clearTimeout(timer); resolve(true); });
  });
}

interface LogLine { at: number; text: string }

/** ipmpd in the host namespace, its stdout and stderr going to logPath. */
export class DaemonProc {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  private offset = 0;
  private partial = '';
  private timer: NodeJS.Timeout;

  constructor(ns: string, config: string, readonly socket: string, readonly logPath: string,
    private readonly onLine: (text: string) => void) {
    const fd = openSync(logPath, 'a', 0o644);
    try {
      this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, IPMPD, '-c', config, '--socket', socket],
        { stdio: ['ignore', fd, fd], detached: true });
    } finally {
      closeSync(fd);
    }
    this.child.on('error', () => undefined);
    this.timer = setInterval(() => this.poll(), 100);
  }

  get pid(): number | undefined { return this.child.pid; }
  get running(): boolean { return alive(this.child); }

  /** Reads what the daemon wrote since the last poll and relays complete lines. */
  poll(): void {
    let fd: number;
    try { fd = openSync(this.logPath, 'r'); } catch { return; }
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (let i = 0; i < 64; i++) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        this.partial += buf.subarray(0, n).toString('utf8');
      }
    } finally {
      closeSync(fd);
    }
    const parts = this.partial.split('\n');
    this.partial = parts.pop() ?? '';
    for (const text of parts) {
      if (!text.trim()) continue;
      this.lines.push({ at: Date.now(), text });
      this.onLine(text);
    }
  }

  /** Waits (bounded) for a log line matching re written at or after `since`; returns its time. */
  async waitLine(re: RegExp, since: number, ms: number): Promise<number | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      this.poll();
      const hit = this.lines.find((l) => l.at >= since && re.test(l.text));
      if (hit) return hit.at;
      if (Date.now() >= deadline || !this.running) return null;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops relaying (the daemon keeps running). */
  detach(): void {
    this.poll();
    clearInterval(this.timer);
    this.child.unref();
  }

  /** SIGTERM, bounded wait, then SIGKILL; relays the last lines. */
  async stop(ms = 3_000): Promise<void> {
    if (this.running) {
      this.child.kill('SIGTERM');
      if (!(await waitExit(this.child, ms))) this.child.kill('SIGKILL');
    }
    this.detach();
  }

  /** Synchronous kill for signal handlers. */
  killNow(): void {
    clearInterval(this.timer);
    if (this.running) this.child.kill('SIGKILL');
  }
}

/** Runs `ipmpstat --socket S ARGS` in the host namespace; returns its output. */
export async function ipmpstat(ns: string, socket: string, args: readonly string[]): Promise<string> {
  const { stdout } = await execIn(ns, [process.execPath, IPMPSTAT, '--socket', socket, ...args], { timeoutMs: 5_000 });
  return stdout.trimEnd();
}

/** `ipmpstat -j MODE` as a map from column `key` to column `value` (empty on any error). */
export async function statColumn(ns: string, socket: string, mode: string, key: string,
  value: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  try {
    const doc = JSON.parse(await ipmpstat(ns, socket, ['-j', mode])) as unknown;
    const rows = Array.isArray(doc) ? doc : Object.values(doc as object).find(Array.isArray) ?? [];
    for (const r of rows as Record<string, unknown>[]) {
      if (typeof r[key] === 'string' && typeof r[value] === 'string') out.set(r[key], r[value]);
    }
  } catch { /* an empty map: callers fall back to a default */ }
  return out;
}

/** A child whose output is kept (the last few KiB) for error messages. */
export class Tail {
  private text = '';
  constructor(readonly child: ChildProcess) {
    const add = (b: Buffer): void => { this.text = (this.text + b.toString('utf8')).slice(-4096); };
    child.stdout?.on('data', add);
    child.stderr?.on('data', add);
    child.on('error', (e) => { this.text += `\n${e.message}`; });
  }
  get running(): boolean { return alive(this.child); }
  lastLine(): string {
    const lines = this.text.split('\n').map((l) => l.trim()).filter(Boolean);
    return lines[lines.length - 1] ?? `exit code ${String(this.child.exitCode)}`;
  }
}

/** ping from the peer at 20 per second, counting replies and misses as they happen. */
export class PingProc {
  readonly child: ChildProcess;
  received = 0;
  missed = 0;
  transmitted: number | null = null;
  finalReceived: number | null = null;
  private partial = '';
  private lastSeq = 0;

  constructor(ns: string, readonly target: string) {
    this.child = spawnIn(ns, ['ping', '-n', '-O', '-i', '0.05', target]);
    this.child.on('error', () => undefined);
    this.child.stderr?.resume();
    this.child.stdout?.on('data', (b: Buffer) => {
      const parts = (this.partial + b.toString('utf8')).split('\n');
      this.partial = parts.pop() ?? '';
      for (const l of parts) this.parse(l);
    });
  }

  private parse(line: string): void {
    let m = /bytes from .*icmp_seq=(\d+)/.exec(line);
    if (m) { this.received++; this.lastSeq = Math.max(this.lastSeq, Number(m[1])); return; }
    m = /no answer yet for icmp_seq=(\d+)/.exec(line);
    if (m) { this.missed++; this.lastSeq = Math.max(this.lastSeq, Number(m[1])); return; }
    m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(line);
    if (m) { this.transmitted = Number(m[1]); this.finalReceived = Number(m[2]); }
  }

  get running(): boolean { return alive(this.child); }

  /** SIGINT (ping prints its totals), bounded wait; returns sent/received. */
  async stop(): Promise<{ sent: number; received: number }> {
    if (this.running) {
      this.child.kill('SIGINT');
      if (!(await waitExit(this.child, 2_000))) this.child.kill('SIGKILL');
    }
    await new Promise((r) => setImmediate(r));
    if (this.partial) { this.parse(this.partial); this.partial = ''; }
    return {
      sent: this.transmitted ?? this.lastSeq,
      received: this.finalReceived ?? this.received,
    };
  }
}
