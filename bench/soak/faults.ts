// The soak's faults. Each one is injected, followed by a bounded wait for the state it must
// produce, held for a while with the transfers running, undone, and followed by a bounded
// wait until the group is back to its configured shape. At most one NIC is out of service
// at a time.
//
//   link     the NIC's switch port goes down (carrier loss), then up
//   silent   the switch port leaves its bridge (carrier stays up): only probes can tell
//   flap     3-6 quick down/up cycles of the switch port, 50-400 ms each way
//   delete   the NIC's veth is deleted, then re-created in the switch bridge
//   offline  if_mpadm -d, then if_mpadm -r
//   sighup   the configuration file changes (an extra data address comes or goes, or a NIC's
//            standby flag toggles) and the daemon gets SIGHUP
//   kill9    the daemon is killed with SIGKILL and started again with the same configuration
//   alldown  (only with --all-down) every NIC's switch port goes down: the group fails; then
//            all come back up

import { labFail, labRepair } from '../../src/lab/lab.js';
import type { LabInfo } from '../../src/lab/topology.js';
import type { Snapshot } from '../../src/daemon/protocol.js';
import type { GroupSetup, Ipmpd } from './daemon.js';
import type { Rng } from './prng.js';
import { groupDown, outOfService, settled } from './states.js';

export const KINDS = ['link', 'silent', 'flap', 'delete', 'offline', 'sighup', 'kill9'] as const;
/** The deliberate group failure, scheduled only when asked for. */
export const ALL_DOWN = 'alldown';
export type Kind = (typeof KINDS)[number] | typeof ALL_DOWN;

export interface FaultCtx {
  lab: LabInfo;
  /** The configuration the daemon runs with; sighup changes it. */
  setup: GroupSetup;
  rng: Rng;
  /** How long a fault stays in place once detected (ms range). */
  holdMs: [number, number];
  /** The data address that sighup adds and removes. */
  extraAddress: string;
  daemon(): Ipmpd;
  /** Polls the snapshot until `pred` returns ''; resolves with the elapsed ms, rejects on timeout. */
  waitState(what: string, pred: (s: Snapshot) => string, timeoutMs: number): Promise<number>;
  /** Bound for detection and for settling (ms). */
  detectBoundMs(kind: Kind): number;
  settleBoundMs(): number;
  writeConfig(): void;
  /** SIGKILL, start again; resolves with kill to ready, and ready to settled (ms). */
  killAndRestart(): Promise<{ downMs: number; settleMs: number }>;
  /** '' when the host stack is kept off `nic` (disable_ipv6 and the nft drop), else what is missing. */
  isolationGap(nic: string): Promise<string>;
  /** One ping from the peer namespace to `addr` answers (bounded). */
  pingFromPeer(addr: string): Promise<boolean>;
}

export interface FaultOutcome {
  nic: string;
  detail: string;
  /** Injection to the expected state (ms), null when the fault has no such state. */
  detectMs: number | null;
  holdMs: number;
  /** Undo to settled (ms). */
  settleMs: number;
}

/** n faults of `kinds`, as even a mix as n allows (each kind once when n ≥ kinds), in seeded random order. */
export function schedule(rng: Rng, n: number, kinds: readonly Kind[] = KINDS): Kind[] {
  const out: Kind[] = [];
  for (let i = 0; i < Math.floor(n / kinds.length); i++) out.push(...kinds);
  out.push(...rng.shuffle([...kinds]).slice(0, n % kinds.length));
  return rng.shuffle(out);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function hold(c: FaultCtx): Promise<number> {
  const ms = Math.round(c.rng.range(c.holdMs[0], c.holdMs[1]));
  return sleep(ms).then(() => ms);
}

/** What is known about a fault while it runs, so a failure can still name its NIC. */
export interface FaultNote {
  nic: string;
  /** The fault itself has been undone (what remains to wait for is the daemon). */
  undone: boolean;
  /** Injection to the expected state (ms), once seen. */
  detectMs: number | null;
}

function pickNic(c: FaultCtx, note: FaultNote): string {
  note.nic = c.rng.pick(c.setup.nics).name;
  return note.nic;
}

async function settle(c: FaultCtx): Promise<number> {
  return c.waitState('the group back to its configured shape', (s) => settled(s, c.setup), c.settleBoundMs());
}

async function linkFault(c: FaultCtx, silent: boolean, note: FaultNote): Promise<FaultOutcome> {
  const nic = pickNic(c, note);
  const kind: Kind = silent ? 'silent' : 'link';
  await labFail(c.lab.prefix, nic, { silent });
  const detectMs = await c.waitState(`${nic} failed`, (s) => outOfService(s, c.setup, nic, 'failed'), c.detectBoundMs(kind));
  note.detectMs = detectMs;
  const holdMs = await hold(c);
  await labRepair(c.lab.prefix, nic);
  note.undone = true;
  return { nic, detail: silent ? 'port detached from the bridge' : 'port down', detectMs, holdMs, settleMs: await settle(c) };
}

async function flap(c: FaultCtx, note: FaultNote): Promise<FaultOutcome> {
  const nic = pickNic(c, note);
  const cycles = c.rng.int(3, 6);
  const t0 = Date.now();
  for (let i = 0; i < cycles; i++) {
    await labFail(c.lab.prefix, nic);
    await sleep(c.rng.int(50, 400));
    await labRepair(c.lab.prefix, nic);
    await sleep(c.rng.int(50, 400));
  }
  note.undone = true;
  return { nic, detail: `${cycles} down/up cycles`, detectMs: null, holdMs: Date.now() - t0, settleMs: await settle(c) };
}

async function deleteRecreate(c: FaultCtx, note: FaultNote): Promise<FaultOutcome> {
  const nic = pickNic(c, note);
  await labFail(c.lab.prefix, nic, { delete: true });
  const detectMs = await c.waitState(`${nic} failed after deletion`, (s) => outOfService(s, c.setup, nic, 'failed'),
    c.detectBoundMs('delete'));
  note.detectMs = detectMs;
  const holdMs = await hold(c);
  await labRepair(c.lab.prefix, nic);
  note.undone = true;
  const settleMs = await settle(c);
  const gap = await c.isolationGap(nic);
  if (gap) throw new Error(`re-created ${nic}: ${gap}`);
  return { nic, detail: 'veth deleted and re-created', detectMs, holdMs, settleMs };
}

async function offline(c: FaultCtx, note: FaultNote): Promise<FaultOutcome> {
  const nic = pickNic(c, note);
  const r = await c.daemon().request({ op: 'offline', ifname: nic });
  if (!r.ok) throw new Error(`offline ${nic} refused: ${r.error}`);
  const detectMs = await c.waitState(`${nic} offline`, (s) => outOfService(s, c.setup, nic, 'offline'), c.detectBoundMs('offline'));
  note.detectMs = detectMs;
  const holdMs = await hold(c);
  const u = await c.daemon().request({ op: 'undo-offline', ifname: nic });
  if (!u.ok) throw new Error(`undo-offline ${nic} refused: ${u.error}`);
  note.undone = true;
  return { nic, detail: 'if_mpadm -d, -r', detectMs, holdMs, settleMs: await settle(c) };
}

/** Changes the configuration (extra address in or out, or one standby flag) and sends SIGHUP. */
async function sighup(c: FaultCtx, note: FaultNote): Promise<FaultOutcome> {
  const g = c.setup;
  let detail: string;
  let nic = '';
  if (c.rng.next() < 0.5) {
    const i = g.addresses.indexOf(c.extraAddress);
    if (i >= 0) { g.addresses.splice(i, 1); detail = `address ${c.extraAddress} removed`; }
    else { g.addresses.push(c.extraAddress); detail = `address ${c.extraAddress} added`; }
  } else {
    // At most one standby NIC, so the group keeps at least one non-standby member.
    const sb = g.nics.find((n) => n.standby);
    const target = sb ?? c.rng.pick(g.nics);
    target.standby = !target.standby;
    nic = target.name;
    note.nic = nic;
    detail = `${nic} standby ${target.standby ? 'on' : 'off'}`;
  }
  c.writeConfig();
  c.daemon().hup();
  note.undone = true;
  const settleMs = await settle(c);
  if (detail.endsWith('added') && !(await c.pingFromPeer(c.extraAddress.split('/')[0]))) {
    throw new Error(`${c.extraAddress} added by SIGHUP does not answer ping from the peer`);
  }
  return { nic, detail, detectMs: null, holdMs: 0, settleMs };
}

async function kill9(c: FaultCtx, note: FaultNote): Promise<FaultOutcome> {
  note.undone = true;
  const { downMs, settleMs } = await c.killAndRestart();
  // The new instance takes the host isolation over from the killed one.
  for (const n of c.setup.nics) {
    const gap = await c.isolationGap(n.name);
    if (gap) throw new Error(`after the restart, ${n.name}: ${gap}`);
  }
  return { nic: '', detail: `SIGKILL, ready again after ${downMs} ms`, detectMs: null, holdMs: downMs, settleMs };
}

async function allDown(c: FaultCtx, note: FaultNote): Promise<FaultOutcome> {
  note.nic = 'all';
  for (const n of c.setup.nics) await labFail(c.lab.prefix, n.name);
  const detectMs = await c.waitState('group failed', (s) => groupDown(s, c.setup), c.detectBoundMs(ALL_DOWN));
  note.detectMs = detectMs;
  const holdMs = await hold(c);
  for (const n of c.setup.nics) await labRepair(c.lab.prefix, n.name);
  note.undone = true;
  return { nic: 'all', detail: 'every port down', detectMs, holdMs, settleMs: await settle(c) };
}

export function inject(c: FaultCtx, kind: Kind, note: FaultNote): Promise<FaultOutcome> {
  switch (kind) {
    case 'link': return linkFault(c, false, note);
    case 'silent': return linkFault(c, true, note);
    case 'flap': return flap(c, note);
    case 'delete': return deleteRecreate(c, note);
    case 'offline': return offline(c, note);
    case 'sighup': return sighup(c, note);
    case 'kill9': return kill9(c, note);
    case ALL_DOWN: return allDown(c, note);
  }
}
