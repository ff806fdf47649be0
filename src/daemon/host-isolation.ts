/**
 * Keeps the host's own IP stack off the underlying NICs, and undoes it.
 *
 * - An nftables netdev table `ipmp_<tun>` drops every frame at ingress on the
 *   group's NICs, so the host neither answers ARP for data addresses nor
 *   delivers data traffic twice. AF_PACKET taps (ETH_P_ALL) run before the
 *   ingress hook, so the daemon still sees every frame.
 * - net.ipv6.conf.<nic>.disable_ipv6=1, so the host sends nothing of its own
 *   (router solicitations, MLD, DAD) from the NICs.
 *
 * Every change is first recorded in a state file under /run/ipmp. A start after
 * a crash, and the new image after an in-place upgrade, take that state over
 * (adopt): the table stays in place until setDevices() replaces it in one nft
 * transaction, and the recorded original sysctl values are kept, so the NICs
 * are never open to the host's stack in between and a clean stop still puts
 * back what was there before the first instance. recoverStale() restores and
 * forgets instead.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadNative } from '../io/native.js';

const run = promisify(execFile);
const NFT_TIMEOUT_MS = 5000;

export interface IsolationState {
  tun: string;
  /** sysctl path → original value. */
  sysctls: Record<string, string>;
  nftTable: string;
}

export function nftTableName(tun: string): string {
  return `ipmp_${tun.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/**
 * The state file of a TUN in this network namespace: named after both, so
 * daemons in different namespaces with the same TUN name never share state.
 * The namespace is named by its cookie, which (unlike its inode number) no
 * later namespace reuses, so a namespace created after another was deleted
 * never inherits its offline NICs or isolation; the inode where the kernel has
 * no SO_NETNS_COOKIE.
 */
export function statePath(stateDir: string, tun: string): string {
  let ns = 'init';
  try {
    ns = `c${loadNative().netnsCookie()}`;
  } catch {
    try {
      ns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))?.[1] ?? ns;
    } catch { /* no /proc: one namespace */ }
  }
  return join(stateDir, `${tun}.${ns}.isolation.json`);
}

/** Every state file of a TUN in this namespace: host isolation, offline NICs. */
export function stateFiles(stateDir: string, tun: string): string[] {
  const iso = statePath(stateDir, tun);
  return [iso, iso.replace(/\.isolation\.json$/, '.offline.json')];
}

/**
 * Replaces a state file: a new file renamed over it, or, where this process may not create
 * files in the directory (after switching to an unprivileged user, the files were handed to
 * it), rewritten in place.
 */
export function writeStateFile(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp`;
  try {
    writeFileSync(tmp, text, { mode });
    renameSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EACCES') throw e;
    writeFileSync(path, text);
  }
}

/** Removes a state file, or empties it where the directory is not ours (empty = no state). */
export function removeStateFile(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EACCES') throw e;
    writeFileSync(path, '');
  }
}

/** A state file with content: absent and empty files are no state. */
function hasState(path: string): boolean {
  try {
    return statSync(path).size > 0;
  } catch {
    return false;
  }
}

function sysctlPath(nic: string): string {
  return `/proc/sys/net/ipv6/conf/${nic}/disable_ipv6`;
}

const SYSCTL_RE = /^\/proc\/sys\/net\/ipv6\/conf\/([^/]{1,15})\/disable_ipv6$/;

/** The recorded sysctls of a state file, only entries this module could have written. */
function readStateSysctls(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const st = JSON.parse(readFileSync(path, 'utf8')) as Partial<IsolationState>;
  for (const [p, v] of Object.entries(st.sysctls ?? {})) {
    const m = SYSCTL_RE.exec(p);
    if (m && m[1] !== '.' && m[1] !== '..' && (v === '0' || v === '1')) out[p] = v;
  }
  return out;
}

async function nft(script: string): Promise<void> {
  const child = run('nft', ['-f', '-'], { timeout: NFT_TIMEOUT_MS });
  child.child.stdin?.end(script);
  try {
    await child;
  } catch (e) {
    const err = e as { stderr?: string; code?: string; message: string };
    if (err.code === 'ENOENT') throw new Error('nft not found: install the nftables package');
    const text = (err.stderr ?? err.message).trim().split('\n')[0];
    throw new Error(`nft: ${text}`);
  }
}

export class HostIsolation {
  private readonly statePath: string;
  private readonly state: IsolationState;
  private devices: string[] = [];
  /** The table has been written by this instance. */
  private written = false;

  constructor(readonly tun: string, readonly stateDir = '/run/ipmp') {
    this.statePath = statePath(stateDir, tun);
    this.state = { tun, sysctls: {}, nftTable: nftTableName(tun) };
  }

  private save(): void {
    mkdirSync(this.stateDir, { recursive: true, mode: 0o755 });
    writeStateFile(this.statePath, JSON.stringify(this.state), 0o600);
  }

  /** Restores what a crashed instance for this TUN left behind (sysctls, nft table). */
  static async recoverStale(tun: string, stateDir = '/run/ipmp'): Promise<boolean> {
    const path = statePath(stateDir, tun);
    let found = false;
    if (hasState(path)) {
      found = true;
      try {
        for (const [p, v] of Object.entries(readStateSysctls(path))) {
          try { writeFileSync(p, v); } catch { /* the NIC may be gone */ }
        }
      } catch { /* unreadable: fall through to removing the table by name */ }
    }
    if (existsSync(path)) removeStateFile(path);
    const table = nftTableName(tun);
    await nft(`add table netdev ${table}\ndelete table netdev ${table}\n`);
    return found;
  }

  /**
   * Takes over the state an earlier instance recorded for this TUN: its original sysctl
   * values are kept for restore(), and its table is left in place for setDevices() to
   * replace. Returns whether there was such state. An unreadable file is logged by the
   * caller through the thrown error and treated as no state.
   */
  adopt(): boolean {
    if (!hasState(this.statePath)) return false;
    const sysctls = readStateSysctls(this.statePath);
    for (const [p, v] of Object.entries(sysctls)) if (!(p in this.state.sysctls)) this.state.sysctls[p] = v;
    return true;
  }

  /**
   * Sets the NICs whose ingress is dropped; present NICs only (nft refuses absent devices).
   * The table is replaced in one transaction. A NIC no longer listed at all gets its
   * original disable_ipv6 back. `renewed`: a NIC was re-created under a known name (a new
   * device: the old one's hook and sysctl went with it), so the table is rewritten even when
   * the names are the same.
   */
  async setDevices(nics: string[], renewed = false): Promise<void> {
    const present = nics.filter((n) => existsSync(`/sys/class/net/${n}`)).sort();
    if (!renewed && this.written && present.join(',') === this.devices.join(',')) return;
    for (const n of present) this.disableIpv6(n);
    const listed = new Set(nics.map(sysctlPath));
    for (const [p, v] of Object.entries(this.state.sysctls)) {
      if (listed.has(p)) continue;
      try { writeFileSync(p, v); } catch { /* the NIC is gone */ }
      delete this.state.sysctls[p];
    }
    this.save();
    const t = this.state.nftTable;
    let script = `add table netdev ${t}\ndelete table netdev ${t}\n`;
    if (present.length > 0) {
      const devs = present.map((d) => `"${d}"`).join(', ');
      script += `table netdev ${t} {\n  chain ingress {\n    type filter hook ingress devices = { ${devs} } priority -500; policy drop;\n  }\n}\n`;
    }
    await nft(script);
    this.devices = present;
    this.written = true;
  }

  private disableIpv6(nic: string): void {
    const p = sysctlPath(nic);
    if (!existsSync(p)) return;
    if (!(p in this.state.sysctls)) this.state.sysctls[p] = readFileSync(p, 'utf8').trim();
    writeFileSync(p, '1');
  }

  /** Undoes everything: the nft table, every sysctl, the state file. */
  async restore(): Promise<void> {
    for (const [p, v] of Object.entries(this.state.sysctls)) {
      try { writeFileSync(p, v); } catch { /* NIC gone */ }
    }
    this.state.sysctls = {};
    const t = this.state.nftTable;
    try {
      await nft(`add table netdev ${t}\ndelete table netdev ${t}\n`);
    } finally {
      removeStateFile(this.statePath);
      this.devices = [];
      this.written = false;
    }
  }
}
