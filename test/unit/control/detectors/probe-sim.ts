/**
 * A small discrete-event harness for the probe engine: a fake clock, a seeded random
 * source, and a network whose answer to each unicast probe is decided by a callback.
 */

import { IcmpProbeEngine } from '../../../../src/control/detectors/icmp-probe.js';
import {
  PROBE_MULTI, PROBE_UNI, SEND, type ProbeAction, type ProbeReply, type SendAction,
} from '../../../../src/control/detectors/probe-defs.js';
import { GroupFdt } from '../../../../src/control/fdt.js';
import { TargetList } from '../../../../src/control/targets.js';

export const MS = 1e6;
export const S = 1e9;

/** mulberry32: a deterministic PRNG in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** RTT in ns for a unicast probe, or null to drop it. */
export type Answer = (send: SendAction, nowNs: number) => number | null;

export interface Sim {
  engine: IcmpProbeEngine;
  group: GroupFdt;
  targets: TargetList;
  now: number;
  actions: ProbeAction[];
  sends: SendAction[];
  answer: Answer;
  /** Multicast responders (addresses answering PROBE_MULTI after 1 ms). */
  responders: string[];
  run(untilNs: number): ProbeAction[];
  deliver(reply: Partial<ProbeReply> & { seq: number; from: string }): ProbeAction[];
}

export interface SimOptions {
  routers?: string[];
  fdtMs?: number;
  seed?: number;
  startNs?: number;
  answer?: Answer;
}

export function makeSim(opts: SimOptions = {}): Sim {
  const start = opts.startNs ?? 0;
  const group = new GroupFdt(opts.fdtMs ?? 10000, 'g0');
  const targets = new TargetList(4);
  targets.testAddr = { address: '192.168.1.10', prefixLen: 24 };
  if (opts.routers) targets.refreshRouters(opts.routers.map((gateway) => ({ gateway, oifIsIpmp: true })), [], false, start);
  const engine = new IcmpProbeEngine({ family: 4, ifname: 'eth1', group, targets, rand: seeded(opts.seed ?? 1), nowNs: start });
  const pending: { at: number; reply: ProbeReply }[] = [];
  const sim: Sim = {
    engine, group, targets, now: start, actions: [], sends: [], responders: [],
    answer: opts.answer ?? (() => 1 * MS),
    run(untilNs) {
      const got: ProbeAction[] = [];
      for (;;) {
        pending.sort((a, b) => a.at - b.at);
        const d = engine.nextDeadline();
        const p = pending[0];
        if (Math.min(d, p ? p.at : Infinity) > untilNs) break;
        if (p && p.at <= d) {
          pending.shift();
          sim.now = p.at;
          got.push(...engine.onReply(p.reply));
          continue;
        }
        sim.now = d;
        const acts = engine.tick(d);
        got.push(...acts);
        for (const a of acts) if (a.kind === SEND) schedule(a, d);
      }
      sim.now = untilNs;
      sim.actions.push(...got);
      return got;
    },
    deliver(r) {
      const reply: ProbeReply = {
        mtype: PROBE_UNI, sentTimestampNs: sim.now, kernelRecvNs: sim.now, processedNs: sim.now, ...r,
      };
      const got = engine.onReply(reply);
      sim.actions.push(...got);
      return got;
    },
  };
  function schedule(a: SendAction, at: number): void {
    sim.sends.push(a);
    if (a.mtype === PROBE_MULTI) {
      for (const from of sim.responders) pending.push({ at: at + MS, reply: reply(a, from, at + MS) });
      return;
    }
    const rtt = sim.answer(a, at);
    if (rtt !== null) pending.push({ at: at + rtt, reply: reply(a, a.target, at + rtt) });
  }
  function reply(a: SendAction, from: string, at: number): ProbeReply {
    return { seq: a.seq, mtype: a.mtype, from, sentTimestampNs: a.startNs, kernelRecvNs: at, processedNs: at };
  }
  return sim;
}

export function ofKind<K extends ProbeAction['kind']>(acts: ProbeAction[], kind: K): Extract<ProbeAction, { kind: K }>[] {
  return acts.filter((a): a is Extract<ProbeAction, { kind: K }> => a.kind === kind);
}
