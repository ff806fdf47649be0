/**
 * Glossary of the control plane (src/control/), and the numbers it keeps inside.
 *
 * NIC            An underlying Ethernet interface (Solaris "phyint"), named by a small id 0..254.
 * group          An IPMP group: its NICs plus the IPMP interface (the TUN, e.g. ipmp0) that owns
 *                the data addresses. The anonymous group tracks ungrouped NICs: detection and
 *                logging only, no takeover.
 * data address   An address on the IPMP interface that applications use; it moves between NICs.
 * test address   An address on one NIC used only as the source of its probes; it never moves.
 * target         A neighbour that probes are sent to (a router, or a host found by multicast).
 * binding        Which active NIC a data address is bound to: that NIC's MAC is advertised for
 *                the address, so that NIC receives its inbound traffic.
 * nominee        The one active NIC that sends and receives broadcast and multicast for the
 *                group; it moves only when it is deactivated.
 * bucket         One of 256 flow-hash slots; each points at the active NIC that sends its flows.
 * active         In the data path: none of FAILED, INACTIVE, OFFLINE, DOWN, and the NIC exists.
 *                Active NICs carry buckets and bindings.
 * inactive       Healthy but held back (INACTIVE flag): a standby not deployed, or a NIC
 *                repaired under FAILBACK=no.
 * standby        Administratively marked as a reserve (STANDBY flag); deployed when an active
 *                NIC fails or is offlined.
 * offline        Taken out of service by the administrator (if_mpadm -d) or for a duplicate MAC.
 * functioning    State RUNNING, or NOTARGETS without the FAILED flag.
 * usable         Functioning and not DOWN. INACTIVE NICs are usable, so a healthy standby
 *                leaves the group "ok".
 *
 * States and flags are numbers inside the control plane; words appear only at the edges
 * (src/daemon/protocol.ts), through the converters below.
 */
import type { GroupStateWord, IfStateWord, LinkStateWord, ProbeStateWord } from '../daemon/protocol.js';

/** Internal NIC state (Solaris pi_state). */
export const NicState = {
  INIT: 0,
  NOTARGETS: 1,
  RUNNING: 2,
  FAILED: 3,
  OFFLINE: 4,
} as const;
export type NicState = (typeof NicState)[keyof typeof NicState];

/** NIC flag bits (the Solaris IFF_* flags the daemon reads or writes). */
export const NicFlag = {
  FAILED: 1 << 0,
  INACTIVE: 1 << 1,
  OFFLINE: 1 << 2,
  STANDBY: 1 << 3,
  /** Link (carrier) up. */
  RUNNING: 1 << 4,
  /** Offlined because its MAC duplicates another member's. */
  HWADDRDUP: 1 << 5,
  /** No UP address / administratively down. */
  DOWN: 1 << 6,
} as const;

/** Flags that keep a NIC out of the data path. */
export const NOT_ACTIVE_FLAGS = NicFlag.FAILED | NicFlag.INACTIVE | NicFlag.OFFLINE | NicFlag.DOWN;

export const GroupState = { OK: 0, DEGRADED: 1, FAILED: 2 } as const;
export type GroupState = (typeof GroupState)[keyof typeof GroupState];

export const LinkState = { UP: 0, DOWN: 1, UNKNOWN: 2 } as const;
export type LinkState = (typeof LinkState)[keyof typeof LinkState];

export const LogLevel = { ERR: 3, INFO: 6 } as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

/** Owner value of a bucket when no NIC is active. */
export const NO_NIC = 255;
/** Number of flow-hash buckets. */
export const BUCKET_COUNT = 256;

/** Functioning: RUNNING, or NOTARGETS without FAILED. */
export function isFunctioning(state: NicState, flags: number): boolean {
  return state === NicState.RUNNING || (state === NicState.NOTARGETS && (flags & NicFlag.FAILED) === 0);
}

/** Usable: functioning with at least one UP address (not DOWN). */
export function isUsable(state: NicState, flags: number): boolean {
  return isFunctioning(state, flags) && (flags & NicFlag.DOWN) === 0;
}

/** ipmpstat STATE column. */
export function ifStateWord(state: NicState, flags: number): IfStateWord {
  switch (state) {
    case NicState.RUNNING: return 'ok';
    case NicState.FAILED: return 'failed';
    case NicState.OFFLINE: return 'offline';
    case NicState.NOTARGETS: return (flags & NicFlag.FAILED) !== 0 ? 'failed' : 'unknown';
    default: return 'unknown';
  }
}

/** ipmpstat PROBE column; an offline NIC has its probing stopped, so it shows disabled. */
export function probeStateWord(state: NicState, probeEnabled: boolean): ProbeStateWord {
  if (!probeEnabled || state === NicState.OFFLINE) return 'disabled';
  if (state === NicState.FAILED) return 'failed';
  if (state === NicState.NOTARGETS || state === NicState.INIT) return 'unknown';
  return 'ok';
}

export function linkStateWord(link: LinkState): LinkStateWord {
  return link === LinkState.UP ? 'up' : link === LinkState.DOWN ? 'down' : 'unknown';
}

export function groupStateWord(state: GroupState): GroupStateWord {
  return state === GroupState.OK ? 'ok' : state === GroupState.DEGRADED ? 'degraded' : 'failed';
}

/** ACTIVE flag: functioning and none of DOWN, INACTIVE, HWADDRDUP. */
export function isActiveWord(state: NicState, flags: number): boolean {
  const blocked = NicFlag.DOWN | NicFlag.INACTIVE | NicFlag.HWADDRDUP;
  return isFunctioning(state, flags) && (flags & blocked) === 0;
}
