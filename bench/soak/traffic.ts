// Long TCP transfers through the IPMP interface while the faults run: one agent process in
// the lab's host namespace and one in the peer namespace (agent.ts), and a number of slots
// that each run transfers back to back, in alternating directions, until told to stop.
// Every transfer is recorded with both ends' reports; a transfer is good when the receiver
// got exactly the bytes the sender wrote (regenerated and compared, same sha256, same count)
// and neither end saw an error.

import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnIn } from '../../src/lab/lab.js';
import type { RecvEvent, SendCommand, SendEvent } from './agent.js';
import type { Rng } from './prng.js';

const AGENT = join(dirname(fileURLToPath(import.meta.url)), 'agent.js');
export const AGENT_PORT = 47001;
/** Time allowed for an agent to listen (ms). */
const AGENT_START_MS = 15_000;
/** Time allowed after a transfer's deadline for both reports to arrive (ms). */
const REPORT_GRACE_MS = 15_000;

export type Direction = 'host→peer' | 'peer→host';

export interface Path {
  dir: Direction;
  /** Source address the sender binds (a data address for host→peer), or '' for the kernel's choice. */
  src: string;
  dst: string;
}

export interface TransferRecord {
  id: number;
  dir: Direction;
  src: string;
  dst: string;
  bytes: number;
  seed: number;
  /** ms since the soak's start. */
  startedAt: number;
  endedAt: number;
  send: SendEvent | null;
  recv: RecvEvent | null;
  ok: boolean;
  /** Why it is not ok (first reason), '' when ok. */
  failure: string;
  /** Error codes either end reported (ECONNRESET, EPIPE, TIMEOUT, ...). */
  codes: string[];
  /** Set by the soak: the transfer was running while a daemon was killed and restarted. */
  spansKill: boolean;
  /** Still running when the soak stopped (after an abort); neither good nor failed. */
  unfinished: boolean;
}

export interface TrafficOptions {
  hostNs: string;
  peerNs: string;
  paths: Path[];
  slots: number;
  /** Per-transfer pacing, bytes/s. */
  rate: number;
  /** Transfer durations at that rate, seconds: each transfer's size is drawn (log-uniform) from this range. */
  durationSec: [number, number];
  /** ms clock origin (the soak's start). */
  t0: number;
  /** Upper bound of the whole run, for the agents' own lifetime (ms). */
  lifetimeMs: number;
}

class Agent {
  private buf = '';
  private stderr = '';
  private constructor(readonly ns: string, private readonly proc: ChildProcess) {}

  static async start(ns: string, lifetimeMs: number, onEvent: (e: SendEvent | RecvEvent) => void): Promise<Agent> {
    const proc = spawnIn(ns, [process.execPath, AGENT, '--port', String(AGENT_PORT), '--lifetime', String(lifetimeMs)],
      { stdio: ['pipe', 'pipe', 'pipe'] });
    const a = new Agent(ns, proc);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(`did not listen within ${AGENT_START_MS} ms`), AGENT_START_MS);
      const fail = (why: string): void => {
        clearTimeout(timer);
        proc.kill('SIGKILL');
        reject(new Error(`traffic agent in ${ns}: ${why}${a.stderr ? `: ${a.stderr.trim().split('\n')[0]}` : ''}`));
      };
      proc.once('exit', (code) => fail(`exited (code ${String(code)})`));
      proc.stderr?.on('data', (d: Buffer) => { if (a.stderr.length < 4096) a.stderr += d.toString(); });
      proc.stdout?.on('data', (d: Buffer) => {
        a.buf += d.toString();
        let nl: number;
        while ((nl = a.buf.indexOf('\n')) >= 0) {
          const line = a.buf.slice(0, nl);
          a.buf = a.buf.slice(nl + 1);
          let ev: { ev: string };
          try { ev = JSON.parse(line) as { ev: string }; } catch { continue; }
          if (ev.ev === 'listening') { clearTimeout(timer); proc.removeAllListeners('exit'); resolve(); }
          else onEvent(ev as SendEvent | RecvEvent);
        }
      });
    });
    return a;
  }

  send(c: SendCommand): void {
    this.proc.stdin?.write(`${JSON.stringify(c)}\n`);
  }

  alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Closes stdin (the agent exits), waits a bounded time, then SIGKILL. */
  async stop(): Promise<void> {
    if (!this.alive()) return;
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.stdin?.end();
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(t);
  }
}

interface Pending {
  rec: TransferRecord;
  resolve: () => void;
}

export class Traffic {
  readonly records: TransferRecord[] = [];
  /** Receiver reports that could not be matched to a transfer (the header never arrived). */
  orphanRecv: RecvEvent[] = [];
  private agents: { host: Agent; peer: Agent } | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private launching = false;
  private slotsDone: Promise<void>[] = [];

  constructor(private readonly o: TrafficOptions, private readonly rng: Rng) {}

  private now(): number {
    return Date.now() - this.o.t0;
  }

  async start(): Promise<void> {
    const onEvent = (e: SendEvent | RecvEvent): void => this.onEvent(e);
    const host = await Agent.start(this.o.hostNs, this.o.lifetimeMs, onEvent);
    let peer: Agent;
    try {
      peer = await Agent.start(this.o.peerNs, this.o.lifetimeMs, onEvent);
    } catch (e) {
      await host.stop();
      throw e;
    }
    this.agents = { host, peer };
    this.launching = true;
    for (let i = 0; i < this.o.slots; i++) this.slotsDone.push(this.runSlot(i));
  }

  /** Transfers currently running. */
  inFlight(): TransferRecord[] {
    return [...this.pending.values()].map((p) => p.rec);
  }

  /** No new transfers; resolves when every running one has both reports (or timed out). */
  async finish(): Promise<void> {
    this.launching = false;
    await Promise.all(this.slotsDone);
  }

  /** Ends the agents; transfers still running are recorded as unfinished. */
  async stop(): Promise<void> {
    this.launching = false;
    if (this.agents) await Promise.all([this.agents.host.stop(), this.agents.peer.stop()]);
    for (const id of [...this.pending.keys()]) {
      const p = this.pending.get(id);
      if (p) { p.rec.unfinished = true; this.complete(id); }
    }
  }

  private async runSlot(slot: number): Promise<void> {
    const want: Direction = slot % 2 === 0 ? 'host→peer' : 'peer→host';
    const paths = this.o.paths.filter((p) => p.dir === want);
    const choices = paths.length > 0 ? paths : this.o.paths;
    while (this.launching) {
      await this.runOne(this.rng.pick(choices));
    }
  }

  private runOne(path: Path): Promise<void> {
    // Log-uniform: many short transfers and some long ones, so that with frequent daemon
    // kills there are still transfers that span none, and others that span several.
    const [lo, hi] = this.o.durationSec;
    const seconds = Math.exp(this.rng.range(Math.log(lo), Math.log(hi)));
    const bytes = Math.max(1, Math.round(this.o.rate * seconds));
    const seed = this.rng.u32();
    const id = this.nextId++;
    const deadlineMs = Math.round(seconds * 2_000 + 60_000);
    const rec: TransferRecord = {
      id, dir: path.dir, src: path.src, dst: path.dst, bytes, seed, startedAt: this.now(), endedAt: -1,
      send: null, recv: null, ok: false, failure: '', codes: [], spansKill: false, unfinished: false,
    };
    this.records.push(rec);
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.complete(id), deadlineMs + REPORT_GRACE_MS);
      this.pending.set(id, { rec, resolve: () => { clearTimeout(timer); resolve(); } });
      const cmd: SendCommand = {
        op: 'send', id, host: path.dst, port: AGENT_PORT, seed, bytes, rate: this.o.rate, deadlineMs,
        ...(path.src ? { local: path.src } : {}),
      };
      const agent = path.dir === 'host→peer' ? this.agents?.host : this.agents?.peer;
      if (!agent || !agent.alive()) { rec.failure = 'traffic agent not running'; this.complete(id); return; }
      agent.send(cmd);
    });
  }

  private onEvent(e: SendEvent | RecvEvent): void {
    const p = this.pending.get(e.id);
    if (!p) {
      if (e.ev === 'recv') this.orphanRecv.push(e);
      return;
    }
    if (e.ev === 'send') p.rec.send = e;
    else p.rec.recv = e;
    if (p.rec.send && p.rec.recv) this.complete(e.id);
  }

  private complete(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    const r = p.rec;
    r.endedAt = this.now();
    judge(r);
    p.resolve();
  }
}

/** Sets ok, failure and codes from the two reports. */
export function judge(r: TransferRecord): void {
  const codes = new Set<string>();
  if (r.send?.code) codes.add(r.send.code);
  if (r.recv?.code) codes.add(r.recv.code);
  r.codes = [...codes];
  const why: string[] = [];
  if (r.unfinished) why.push('unfinished: the soak stopped while it ran');
  if (r.failure) why.push(r.failure);
  if (!r.send) why.push('no report from the sender');
  if (!r.recv) why.push('no report from the receiver');
  if (r.send?.error) why.push(`sender: ${r.send.error}`);
  if (r.recv?.error) why.push(`receiver: ${r.recv.error}`);
  if (r.send && r.send.bytes !== r.bytes) why.push(`sender wrote ${r.send.bytes} of ${r.bytes} bytes`);
  if (r.recv && r.recv.bytes !== r.bytes) why.push(`receiver got ${r.recv.bytes} of ${r.bytes} bytes`);
  if (r.recv && r.recv.mismatchAt >= 0) why.push(`stream differs at byte ${r.recv.mismatchAt}`);
  if (r.send && r.recv && r.send.sha256 !== r.recv.sha256) why.push('sha256 differs between sender and receiver');
  r.ok = why.length === 0;
  r.failure = why[0] ?? '';
}
