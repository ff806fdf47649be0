/**
 * Control-socket protocol: newline-delimited JSON over a UNIX stream socket.
 *
 * Request:  {"id": 1, "op": "snapshot"}
 * Reply:    {"id": 1, "ok": true, "result": {...}}
 *           {"id": 1, "ok": false, "error": "one-line text", "code": "EMINRED"}
 *
 * Every reply is built from one consistent snapshot of the daemon's tables.
 * Words (ok, failed, ...) appear only here, at the edge; the daemon keeps numbers.
 */

export type GroupStateWord = 'ok' | 'degraded' | 'failed';
export type IfStateWord = 'ok' | 'failed' | 'offline' | 'unknown';
export type ProbeStateWord = 'ok' | 'failed' | 'unknown' | 'disabled';
export type LinkStateWord = 'up' | 'down' | 'unknown';
export type TargetModeWord = 'routes' | 'multicast' | 'disabled';

export interface SnapshotGroup {
  /** The IPMP interface (TUN) name, e.g. "ipmp0". ipmpstat GROUP column. */
  ifname: string;
  /** ipmpstat GROUPNAME column; empty string for the anonymous group. */
  groupname: string;
  state: GroupStateWord;
  /** Current group failure detection time in ms; null when no member is probe-enabled. */
  fdtMs: number | null;
  /** Member interface names in group list order (the order INTERFACES is built from). */
  interfaces: string[];
  /** Extension: the forwarding workers of the group (absent while the group is not started). */
  forwarding?: ForwardingStatus;
  /** Extension: the probe worker of the group (absent while no member has a test address). */
  probing?: WorkerStatus;
}

/**
 * A group's forwarding workers, or its probe worker. state `up`: every worker runs;
 * `restarting`: a worker failed and its replacement is not running yet; `failing`: 5 or more
 * failures within the last minute, or in a row with no minute of healthy running between
 * (forwarding or probing is down, or keeps going down). The group's Solaris STATE is about
 * its NICs and does not change with this.
 */
export type ForwardingStatus = WorkerStatus;

export interface WorkerStatus {
  state: 'up' | 'restarting' | 'failing';
  /** Worker failures (each followed by a restart) since the daemon started the group. */
  restarts: number;
  /** Failures within the last minute. */
  recentFailures: number;
  /** The reason of the last failure, e.g. "exited (code 1; error: ...)"; null when none. */
  lastFailure: string | null;
}

export interface SnapshotFlags {
  inactive: boolean;   // i
  standby: boolean;    // s
  mcast4: boolean;     // m  IPv4 multicast nominee
  bcast4: boolean;     // b  IPv4 broadcast nominee
  mcast6: boolean;     // M  IPv6 multicast nominee
  down: boolean;       // d  no UP address / admin down
  hwaddrdup: boolean;  // h  offlined for a duplicate MAC
}

export interface SnapshotInterface {
  name: string;
  /** IPMP interface name of its group ("" in the anonymous group). */
  group: string;
  groupname: string;
  /** ACTIVE flag: functioning and none of down, inactive, hwaddrdup. */
  active: boolean;
  flags: SnapshotFlags;
  link: LinkStateWord;
  probe: ProbeStateWord;
  state: IfStateWord;
  /** MAC as aa:bb:cc:dd:ee:ff, or "" when the NIC is absent. */
  mac: string;
  ifindex: number;
}

export interface SnapshotAddress {
  /** The address without prefix length, e.g. "198.18.0.10" or "2001:db8::10". */
  address: string;
  prefixlen: number;
  up: boolean;
  /** IPMP interface name. */
  group: string;
  /** The bound NIC, or "" when unbound or down. */
  inbound: string;
  /** ACTIVE members, space-separated in the CLI; empty when down or unbound. */
  outbound: string[];
  /** Why a down address is down, when ipmpd took it down: 'duplicate' (it failed duplicate address detection). */
  reason?: 'duplicate';
  /** With reason 'duplicate': the MAC of the node that holds the address. */
  node?: string;
}

export interface SnapshotTarget {
  interface: string;
  family: 4 | 6;
  mode: TargetModeWord;
  /** Test address without prefix length, "" when disabled. */
  testaddr: string;
  /** Active targets in firing order, starting at the next one to be probed. */
  targets: string[];
}

export interface Snapshot {
  generation: number;
  groups: SnapshotGroup[];
  interfaces: SnapshotInterface[];
  addresses: SnapshotAddress[];
  targets: SnapshotTarget[];
}

/** One resolved probe (sent when it is acked or lost; never when sent). */
export interface ProbeEvent {
  /** ICMP sequence number. */
  id: number;
  interface: string;
  family: 4 | 6;
  target: string;
  state: 'acked' | 'lost';
  /** Wall-clock ms (Date.now() scale) when sending of the probe started. */
  startMs: number;
  /** Network RTT (kernel receive time minus send time) in ms; null when lost. */
  netrttMs: number | null;
  /** Daemon RTT (ack processed minus probe start) in ms; null when lost. */
  rttMs: number | null;
  /** Smoothed RTT (sa/8) and deviation (sv/4) in ms; 0 when unknown. */
  rttavgMs: number;
  rttdevMs: number;
}

export type Request =
  | { id: number; op: 'ping' }
  | { id: number; op: 'snapshot' }
  | { id: number; op: 'offline'; ifname: string }
  | { id: number; op: 'undo-offline'; ifname: string }
  | { id: number; op: 'add-ipmp'; group: string; interfaces: string[]; persist?: boolean }
  | { id: number; op: 'remove-ipmp'; group: string; interfaces: string[]; persist?: boolean }
  | { id: number; op: 'create-addr'; group: string; address: string; persist?: boolean }
  | { id: number; op: 'delete-addr'; group: string; address: string; persist?: boolean }
  | { id: number; op: 'set-ifprop'; ifname: string; prop: 'standby' | 'test-address'; value: string; persist?: boolean }
  /** Keeps the connection open; the daemon writes {"event":"probe", ...ProbeEvent} lines. */
  | { id: number; op: 'probe-subscribe' }
  /** Fault injection for tests; refused unless ipmpd runs with IPMPD_TEST_HOOKS=1. */
  | { id: number; op: 'test-hook'; group: string; hook: TestHook };

/**
 * probe-worker-pause: the probe worker's loop stops for 1.5 s (it recovers by itself);
 * probe-worker-stall: it stops for 2 × the watchdog limit (the daemon restarts it);
 * probe-worker-crash: it throws and exits;
 * probe-worker-crash-loop: every probe worker started from now on (and the current one) throws
 * once it has opened its sockets, until probe-worker-crash-loop-end;
 * forwarding-stall: the forwarding worker's loop blocks (the daemon replaces it);
 * forwarding-crash: the forwarding worker throws and exits;
 * forwarding-crash-loop: every forwarding worker started from now on throws at its first
 * loop turn, until forwarding-crash-loop-end;
 * memory: nothing changes; the reply is the V8 heap (committed, used, per space) of the main
 * thread and of the group's forwarding and probe workers, and process.memoryUsage();
 * memory-gc: the same after a full garbage collection in each of those threads.
 */
export type TestHook = 'probe-worker-pause' | 'probe-worker-stall' | 'probe-worker-crash'
  | 'probe-worker-crash-loop' | 'probe-worker-crash-loop-end'
  | 'forwarding-stall' | 'forwarding-crash' | 'forwarding-crash-loop' | 'forwarding-crash-loop-end' | 'memory' | 'memory-gc';

export type Op = Request['op'];

/**
 * The result of a live verb. With `persist: true` in the request the change is applied live
 * first (a refusal is an error reply, as without it); then the daemon rewrites its
 * configuration file. `persisted` says whether the file now gives the change; when it does not,
 * the live change stays applied and `warning` is one line naming the file and the reason
 * (e.g. "/etc/ipmp/ipmp.yaml changed on disk since it was loaded (reload it with SIGHUP first)").
 */
export interface LiveResult {
  ok: true;
  persisted?: boolean;
  /** With persisted true: the file rewritten (or already holding the change). */
  file?: string;
  warning?: string;
}

/** Ops that change state: accepted only from uid 0 or members of group `ipmp`. */
export const PRIVILEGED_OPS: ReadonlySet<Op> = new Set<Op>([
  'offline', 'undo-offline', 'add-ipmp', 'remove-ipmp', 'create-addr', 'delete-addr', 'set-ifprop',
  'probe-subscribe', 'test-hook',
]);

/** Error codes (Solaris libipmp names where one exists). */
export type ErrorCode =
  | 'EFAILED' | 'EMINRED' | 'EFBDISABLED' | 'EUNKADDR' | 'EINVAL' | 'ENOMEM' | 'EUNKGROUP'
  | 'EUNKIF' | 'EHWADDRDUP' | 'EPERM' | 'EBADREQ' | 'ETOOBIG' | 'ETIMEDOUT' | 'EALREADY' | 'ENOTOFFLINE';

export type Reply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string; code: ErrorCode };

/** Largest request line the daemon reads; longer ones get ETOOBIG and the connection closes. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** A client must finish its request line within this time. */
export const REQUEST_TIMEOUT_MS = 5000;
export const DEFAULT_SOCKET = '/run/ipmp/ipmpd.sock';
export const DEFAULT_CONFIG = '/etc/ipmp/ipmp.yaml';
export const DEFAULT_MPATHD = '/etc/default/mpathd';
