// One soak run's moving parts: the current ipmpd instance (started, killed, restarted), the
// bounded waits on its snapshot, the fault context handed to faults.ts, recovery after a
// fault that went wrong, and the records the report is made from.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execIn, hostNs, labRepair, peerNs } from '../../src/lab/lab.js';
import type { LabInfo } from '../../src/lab/topology.js';
import type { Snapshot } from '../../src/daemon/protocol.js';
import { DaemonLog, Ipmpd, writeConfigFile, type GroupSetup, type ProcStats } from './daemon.js';
import { inject, type FaultCtx, type Kind } from './faults.js';
import { hookedDevices, stableStats } from './leaks.js';
import type { Rng } from './prng.js';
import { describe, settled } from './states.js';
import type { FaultRecord, CrashRecord, KillWindow, InstanceRecord } from './report.js';
import type { SoakOptions } from './soak.js';

/** Interval of the daemon's RSS samples (ms). */
const RSS_SAMPLE_MS = 5_000;
/** The data address that sighup adds and removes. */
const EXTRA = '198.18.0.12/24';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class DaemonDied extends Error {}

/** The running soak: the current daemon instance and the bookkeeping the report needs. */
export class SoakRun {
  readonly t0 = Date.now();
  readonly log = new DaemonLog();
  readonly faults: FaultRecord[] = [];
  readonly crashes: CrashRecord[] = [];
  readonly kills: KillWindow[] = [];
  readonly instances: InstanceRecord[] = [];
  d!: Ipmpd;
  readonly dir = mkdtempSync(join(tmpdir(), 'ipmp-soak-'));
  readonly configFile = join(this.dir, 'ipmp.yaml');
  readonly socket = join(this.dir, 'ipmpd.sock');
  last: Snapshot | null = null;
  private sampler: NodeJS.Timeout | null = null;

  constructor(readonly o: SoakOptions, readonly lab: LabInfo, readonly setup: GroupSetup, readonly rng: Rng) {}

  now(): number { return Date.now() - this.t0; }

  async startDaemon(): Promise<void> {
    const n = this.instances.length + 1;
    const prev = this.instances[this.instances.length - 1];
    if (prev && prev.endedAt < 0) prev.endedAt = this.now();
    this.d = await Ipmpd.start(hostNs(this.lab.prefix), this.configFile, this.socket, this.log, n);
    this.instances.push({ n, pid: this.d.pid, startedAt: this.now(), endedAt: -1, base: null, end: null, peakRssKb: 0, lastRssKb: 0, rss: [] });
  }

  /** Records the current instance's fds, sockets, RSS once they are stable (after settling). */
  async baseline(): Promise<void> {
    const inst = this.instances[this.instances.length - 1];
    inst.base = await stableStats(() => this.d.stats());
    this.sample();
  }

  sample(): ProcStats | null {
    const st = this.d?.stats() ?? null;
    const inst = this.instances[this.instances.length - 1];
    if (st && inst) {
      inst.peakRssKb = Math.max(inst.peakRssKb, st.rssKb);
      inst.lastRssKb = st.rssKb;
      inst.rss.push([Math.round((this.now() - inst.startedAt) / 1000), st.rssKb]);
    }
    return st;
  }

  /** Samples the daemon's RSS every `ms` until stopSampling(). */
  startSampling(ms = RSS_SAMPLE_MS): void {
    this.sampler ??= setInterval(() => this.sample(), ms);
  }

  stopSampling(): void {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = null;
  }

  async waitState(what: string, pred: (s: Snapshot) => string, timeoutMs: number): Promise<number> {
    const t = Date.now();
    let why = 'no snapshot yet';
    for (;;) {
      if (!this.d.alive()) throw new DaemonDied(`ipmpd exited (${this.d.exitDescription()}) while waiting for ${what}`);
      try {
        this.last = await this.d.snapshot();
        why = pred(this.last);
        if (!why) return Date.now() - t;
      } catch (e) {
        why = `snapshot: ${(e as Error).message}`;
      }
      if (Date.now() - t > timeoutMs) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${why} [${describe(this.last, this.setup)}]`);
      }
      await sleep(100);
    }
  }

  settleBound(): number { return this.o.fdtMs * 4 + 15_000; }

  async killAndRestart(): Promise<{ downMs: number; settleMs: number }> {
    const win: KillWindow = { at: this.now(), until: -1 };
    this.kills.push(win);
    const t = Date.now();
    this.log.mark('SIGKILL');
    await this.d.kill9();
    await sleep(this.rng.int(0, 1000));
    await this.startDaemon();
    const downMs = Date.now() - t;
    const settleMs = await this.waitState('settled after restart', (s) => settled(s, this.setup), this.settleBound());
    win.until = this.now();
    await this.baseline();
    return { downMs, settleMs };
  }

  ctx(): FaultCtx {
    const fdt = this.o.fdtMs;
    return {
      lab: this.lab, setup: this.setup, rng: this.rng, holdMs: this.o.holdMs, extraAddress: EXTRA,
      daemon: () => this.d,
      waitState: (w, p, ms) => this.waitState(w, p, ms),
      detectBoundMs: (k: Kind) => (k === 'silent' ? fdt * 3 + 10_000 : 10_000),
      settleBoundMs: () => this.settleBound(),
      writeConfig: () => writeConfigFile(this.configFile, this.setup),
      killAndRestart: () => this.killAndRestart(),
      isolationGap: (nic) => this.isolationGap(nic),
      pingFromPeer: async (addr) => {
        try {
          await execIn(peerNs(this.lab.prefix), ['ping', '-n', '-q', '-c', '3', '-i', '0.2', '-W', '2', addr], { timeoutMs: 15_000 });
          return true;
        } catch {
          return false;
        }
      },
    };
  }

  /** '' when the host stack is kept off `nic`: disable_ipv6 set, and the nft ingress chain hooks it. */
  async isolationGap(nic: string): Promise<string> {
    const ns = hostNs(this.lab.prefix);
    const gaps: string[] = [];
    const v = (await execIn(ns, ['cat', `/proc/sys/net/ipv6/conf/${nic}/disable_ipv6`])).stdout.trim();
    if (v !== '1') gaps.push(`disable_ipv6 is ${v}, not 1`);
    const table = `ipmp_${this.setup.tun}`;
    const text = (await execIn(ns, ['nft', 'list', 'table', 'netdev', table])).stdout;
    const devices = hookedDevices(text);
    if (!devices.includes(nic)) gaps.push(`nft table ${table} does not hook ${nic} (devices: ${devices.join(' ') || 'none'})`);
    return gaps.join('; ');
  }

  /**
   * After a fault that went wrong: the daemon running, every NIC back and in service, the
   * group settled. When it does not settle, the daemon is restarted (recorded as a
   * recovery restart, a kill window for the transfers); when that does not help either,
   * the soak stops.
   */
  async recover(rec: FaultRecord): Promise<void> {
    const crashed = !this.d.alive();
    if (crashed) {
      this.crashes.push({ at: this.now(), exit: this.d.exitDescription(), log: this.log.tail(40) });
      this.o.progress(`ipmpd died (${this.d.exitDescription()}); restarting`);
      const win: KillWindow = { at: this.now(), until: -1 };
      this.kills.push(win);
      await this.startDaemon();
      win.until = this.now();
    }
    if (!rec.undone) {
      for (const n of this.lab.nics) {
        await labRepair(this.lab.prefix, n.name);
        const s = this.last?.interfaces.find((i) => i.name === n.name);
        if (s?.state === 'offline') await this.d.request({ op: 'undo-offline', ifname: n.name }).catch(() => undefined);
      }
    }
    if (crashed || !rec.undone) {
      try {
        await this.waitState('settled after recovery', (s) => settled(s, this.setup), this.settleBound());
        return;
      } catch (e) {
        this.o.progress(`not settled after undoing the fault (${(e as Error).message})`);
      }
    }
    this.o.progress('restarting ipmpd to bring the group back');
    rec.recoveredByRestart = true;
    await this.killAndRestart();
  }

  async runFault(n: number, kind: Kind): Promise<void> {
    const rec: FaultRecord = {
      n, kind, nic: '', detail: '', at: this.now(), detectMs: null, holdMs: 0, settleMs: null, ok: false, error: '', log: '', recoveredByRestart: false, undone: false,
    };
    this.faults.push(rec);
    const from = this.log.length();
    this.log.mark(`fault ${n} ${kind}`);
    try {
      await this.waitState('settled before the fault', (s) => settled(s, this.setup), this.settleBound());
      this.sample();
      const out = await inject(this.ctx(), kind, rec);
      Object.assign(rec, out, { ok: true });
    } catch (e) {
      rec.error = (e as Error).message;
      rec.log = this.log.tail(25, from);
      this.o.progress(`fault ${n} (${kind}) FAILED: ${rec.error}`);
      await this.recover(rec);
    }
  }
}
