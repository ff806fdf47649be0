/**
 * In-place re-execution: the running image hands its TUN descriptors, its packet sockets
 * and the control socket's listening descriptor to a new image of the program in the same
 * PID (execve), so forwarding never loses a descriptor and frames that arrive meanwhile
 * wait in the kernel's queues. Used for SIGUSR2 (upgrade) and to enter reduced privileges
 * (--user) after set-up.
 *
 *   old image: check the new program and configuration (a child `ipmpd --check`) →
 *              stop workers and probes (descriptors stay open) → execve with the
 *              descriptor numbers in IPMP_HANDOVER
 *   new image: takeHandover() → each descriptor is checked with the kernel (TUNGETIFF,
 *              getsockname) before it is adopted; anything else is opened afresh
 *
 * The handover is JSON in one environment variable, removed from the environment as soon
 * as the new image reads it, so no child process and no later start sees it.
 */
import { spawn } from 'node:child_process';
import { fstatSync } from 'node:fs';
import type { NativeAddon } from '../io/native.js';
import type { DaemonConfig } from './config-types.js';

export const HANDOVER_ENV = 'IPMP_HANDOVER';
const CHECK_TIMEOUT_MS = 30_000;

export interface NicHandover {
  name: string;
  ifindex: number;
  fd: number;
}

export interface GroupHandover {
  /** The TUN interface name. */
  tun: string;
  tunFd: number;
  nics: NicHandover[];
  /** The nominee socket's IPv6 ND multicast memberships (MACs as aa:bb:...). */
  nd: { fd: number; ifindex: number; macs: string[] } | null;
}

export type HandoverReason = 'upgrade' | 'privileges';

export interface Handover {
  v: 1;
  reason: HandoverReason;
  /** Listening descriptor of the control socket, or -1. */
  control: number;
  groups: GroupHandover[];
  /**
   * The running configuration (the file's, plus live changes) the new image starts from, so
   * an upgrade changes no group, NIC or address; SIGHUP applies the file. Absent: the file.
   */
  config?: DaemonConfig;
  /** The configuration the previous image last read from the file: the base SIGHUP diffs against. */
  base?: DaemonConfig;
}

const isFd = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 3 && v < 1 << 20;
const isName = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= 15;

/** Parses a handover; throws a one-line Error naming what is wrong. */
export function parseHandover(text: string): Handover {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw new Error(`${HANDOVER_ENV}: not JSON`);
  }
  const h = o as Partial<Handover> | null;
  const bad = (what: string): never => { throw new Error(`${HANDOVER_ENV}: ${what}`); };
  if (typeof h !== 'object' || h === null || h.v !== 1) bad('unknown version');
  if (h!.reason !== 'upgrade' && h!.reason !== 'privileges') bad('bad reason');
  if (h!.control !== -1 && !isFd(h!.control)) bad('bad control descriptor');
  if (!Array.isArray(h!.groups)) bad('groups must be a list');
  for (const g of h!.groups!) {
    if (!isName(g?.tun) || !isFd(g.tunFd) || !Array.isArray(g.nics)) bad('bad group entry');
    for (const n of g.nics) if (!isName(n?.name) || !isFd(n.fd) || !Number.isInteger(n.ifindex)) bad(`bad interface entry in ${g.tun}`);
    if (g.nd !== null && (typeof g.nd !== 'object' || !isFd(g.nd.fd) || !Array.isArray(g.nd.macs))) bad(`bad ND entry in ${g.tun}`);
  }
  for (const c of [h!.config, h!.base]) {
    if (c !== undefined && (typeof c !== 'object' || c === null || !Array.isArray(c.groups) || typeof c.fdtMs !== 'number')) bad('bad configuration');
  }
  return h as Handover;
}

/** Reads and removes the handover of the previous image from the environment; null when there is none. */
export function takeHandover(env: NodeJS.ProcessEnv = process.env): Handover | null {
  const text = env[HANDOVER_ENV];
  if (text === undefined) return null;
  delete env[HANDOVER_ENV];
  return parseHandover(text);
}

/** Every descriptor a handover names. */
export function handoverFds(h: Handover): number[] {
  const fds = new Set<number>();
  if (h.control >= 0) fds.add(h.control);
  for (const g of h.groups) {
    fds.add(g.tunFd);
    for (const n of g.nics) fds.add(n.fd);
  }
  return [...fds];
}

/** The command line that started this image: node, its options, the script, the arguments. */
export function ownArgv(): string[] {
  return [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
}

/**
 * Runs the program on disk with `--check` and the running arguments: it loads the (possibly
 * new) code and configuration and exits. Resolves with null when that succeeded, else with
 * its one-line error.
 */
export function checkNewImage(extraEnv: NodeJS.ProcessEnv = {}): Promise<string | null> {
  const [node, ...args] = ownArgv();
  return new Promise((resolve) => {
    const env = { ...process.env, ...extraEnv };
    delete env[HANDOVER_ENV];
    const child = spawn(node, [...args, '--check'], { stdio: ['ignore', 'ignore', 'pipe'], env, timeout: CHECK_TIMEOUT_MS });
    let err = '';
    child.stderr?.on('data', (b: Buffer) => { if (err.length < 4096) err += b.toString(); });
    child.once('error', (e) => resolve(`cannot run ${node}: ${e.message}`));
    child.once('exit', (code, signal) => {
      if (code === 0) { resolve(null); return; }
      const line = err.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
      resolve(line !== '' ? line.replace(/^ipmpd: /, '') : `the check exited with ${code ?? signal}`);
    });
  });
}

/**
 * Replaces this image by the program on disk in the same PID, handing over the descriptors
 * the handover names. Returns only when execve failed (throws its one-line error).
 */
export function reexec(native: NativeAddon, h: Handover): never {
  const env: string[] = [];
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== HANDOVER_ENV) env.push(`${k}=${v}`);
  env.push(`${HANDOVER_ENV}=${JSON.stringify(h)}`);
  const argv = ownArgv();
  // Node marks the standard descriptors close-on-exec too; the new image logs to the same place.
  const stdio = [0, 1, 2].filter((fd) => { try { fstatSync(fd); return true; } catch { return false; } });
  return native.execve(argv[0], argv, env, Int32Array.from([...stdio, ...handoverFds(h)]));
}
