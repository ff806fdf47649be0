/**
 * Least privilege. ipmpd needs two capabilities while it runs: CAP_NET_ADMIN (TUN,
 * rtnetlink, the nftables netdev table, net sysctls, SO_*BUFFORCE) and CAP_NET_RAW
 * (AF_PACKET, ICMP probe sockets). Everything else is dropped:
 *
 * - Started as root with more than those two, it removes every other capability from
 *   the bounding set and from its own sets, then re-executes itself before doing anything
 *   else. capset(2) changes one thread only; the new image starts all its threads from
 *   the reduced sets. For uid 0 the kernel recomputes the sets at every execve from the
 *   bounding set, so the next execve (SIGUSR2) and child processes (`nft`) again get
 *   exactly the two.
 * - With `--user NAME` it sets up as root (the TUN, the nftables table, the control socket
 *   in its root-owned directory, the state files, which it hands to NAME), then switches
 *   to NAME keeping the two capabilities (PR_SET_KEEPCAPS, then permitted, inheritable and
 *   ambient), and re-executes with its descriptors handed over (upgrade.ts). Ambient
 *   capabilities survive execve for a non-root uid, so SIGUSR2 and `nft` keep working.
 *   As NAME it cannot remove the control socket at a clean stop (its directory belongs to
 *   root); the next start removes the stale socket.
 */
import { chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { CapState, NativeAddon } from '../io/native.js';

export const CAP_NET_ADMIN = 12;
export const CAP_NET_RAW = 13;
export const CAP_SETPCAP = 8;
/** The capabilities ipmpd keeps: CAP_NET_ADMIN | CAP_NET_RAW = 0x3000. */
export const KEEP_CAPS = 2 ** CAP_NET_ADMIN + 2 ** CAP_NET_RAW;

const has = (mask: number, cap: number): boolean => Math.floor(mask / 2 ** cap) % 2 === 1;
/** Bits of `mask` outside KEEP_CAPS (exact for masks below 2^53). */
const excess = (mask: number): number => mask - (has(mask, CAP_NET_ADMIN) ? 2 ** CAP_NET_ADMIN : 0) - (has(mask, CAP_NET_RAW) ? 2 ** CAP_NET_RAW : 0);

export interface TargetUser {
  name: string;
  uid: number;
  gid: number;
}

/** Looks NAME up in /etc/passwd. Throws a one-line Error when there is no such user. */
export function lookupUser(name: string, passwd = '/etc/passwd'): TargetUser {
  let text = '';
  try {
    text = readFileSync(passwd, 'utf8');
  } catch (e) {
    throw new Error(`--user ${name}: cannot read ${passwd}: ${(e as Error).message}`);
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && /^\d+$/.test(f[2] ?? '') && /^\d+$/.test(f[3] ?? '')) {
      return { name, uid: Number(f[2]), gid: Number(f[3]) };
    }
  }
  throw new Error(`--user ${name}: no such user in ${passwd}`);
}

/** What to do about privileges at start. */
export type PrivilegePlan =
  | { kind: 'keep'; warning?: string }
  /** Reduce the sets and re-execute before set-up. */
  | { kind: 'drop-now' }
  /** Set up, then switch to the user and re-execute with the descriptors. */
  | { kind: 'switch-user'; user: TargetUser }
  | { kind: 'missing'; error: string };

export function planPrivileges(caps: CapState, euid: number, user: TargetUser | null): PrivilegePlan {
  if (!has(caps.effective, CAP_NET_ADMIN) || !has(caps.effective, CAP_NET_RAW)) {
    return { kind: 'missing', error: 'needs CAP_NET_ADMIN and CAP_NET_RAW: run it as root or grant both capabilities' };
  }
  if (user && euid !== user.uid) {
    if (euid !== 0) return { kind: 'missing', error: `--user ${user.name}: switching users needs to start as root` };
    return { kind: 'switch-user', user };
  }
  const own = excess(caps.permitted) !== 0 || excess(caps.effective) !== 0 || excess(caps.ambient) !== 0;
  // The bounding set matters for uid 0: its execve takes the permitted set from it.
  const bounding = euid === 0 && excess(caps.bounding) !== 0;
  if (bounding && !has(caps.effective, CAP_SETPCAP)) {
    return {
      kind: 'keep',
      warning: `cannot drop capabilities from the bounding set without CAP_SETPCAP; running with CapEff ${capHex(caps.effective)}` +
        ' (limit it with CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW)',
    };
  }
  return own || bounding ? { kind: 'drop-now' } : { kind: 'keep' };
}

/**
 * Reduces the calling thread to KEEP_CAPS: bounding set, then effective/permitted (and
 * inheritable + ambient when `ambient`, for a non-root uid). Throws a one-line Error.
 */
export function reduceCapabilities(native: NativeAddon, ambient: boolean): void {
  const st = native.capState();
  if (excess(st.bounding) !== 0 && has(st.effective, CAP_SETPCAP)) native.capBoundingKeep(KEEP_CAPS);
  native.capSet(KEEP_CAPS, KEEP_CAPS, ambient ? KEEP_CAPS : 0);
  native.capAmbientSet(ambient ? KEEP_CAPS : 0);
}

/**
 * Switches every thread to the user (glibc applies set*id to all threads) keeping
 * KEEP_CAPS in the calling thread, ready for execve. Throws a one-line Error.
 */
export function switchUser(native: NativeAddon, user: TargetUser): void {
  native.setKeepCaps(true);
  const st = native.capState();
  if (excess(st.bounding) !== 0) native.capBoundingKeep(KEEP_CAPS);
  // Inheritable must hold the two before they can be raised into the ambient set.
  native.capSet(st.effective, st.permitted, KEEP_CAPS);
  const p = process as Required<Pick<NodeJS.Process, 'setgroups' | 'setgid' | 'setuid'>>;
  p.setgroups([user.gid]);
  p.setgid(user.gid);
  p.setuid(user.uid);
  native.capSet(KEEP_CAPS, KEEP_CAPS, KEEP_CAPS);
  native.capAmbientSet(KEEP_CAPS);
  native.setKeepCaps(false);
}

/**
 * Hands the state files the daemon rewrites while it runs to the user it switches to,
 * creating missing ones empty (an empty state file is no state).
 */
export function chownForUser(paths: string[], user: TargetUser): void {
  for (const p of paths) {
    if (!existsSync(p)) writeFileSync(p, '', { mode: 0o600 });
    chownSync(p, user.uid, user.gid);
  }
}

/**
 * The control socket's directory must be owned by root (or this uid) and writable by
 * nobody else, or another user could put their own socket in its place. Creates it
 * (0755) when missing. Throws a one-line Error.
 */
export function checkSocketDir(socketPath: string): void {
  const dir = dirname(resolve(socketPath));
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o755 });
  const st = statSync(dir);
  if (!st.isDirectory()) throw new Error(`--socket ${socketPath}: ${dir} is not a directory`);
  const euid = process.geteuid?.() ?? 0;
  if (st.uid !== 0 && st.uid !== euid) {
    throw new Error(`refusing the control socket in ${dir}: owned by uid ${st.uid}, not root`);
  }
  if (st.mode & 0o002) throw new Error(`refusing the control socket in the world-writable directory ${dir}`);
  if ((st.mode & 0o020) && st.gid !== 0) throw new Error(`refusing the control socket in ${dir}: writable by group ${st.gid}`);
}

/** CapEff-style hex of a mask, e.g. "0000000000003000". */
export function capHex(mask: number): string {
  return mask.toString(16).padStart(16, '0');
}
