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
 * Every change is first recorded in a state file under /run/ipmp, so a start
 * after a crash restores what the crashed instance changed (recoverStale).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

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
 */
export function statePath(stateDir: string, tun: string): string {
  let ns = 'init';
  try {
    ns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))?.[1] ?? ns;
  } catch { /* no /proc: one namespace */ }
  return join(stateDir, `${tun}.${ns}.isolation.json`);
}

function sysctlPath(nic: string): string {
  return `/proc/sys/net/ipv6/conf/${nic}/disable_ipv6`;
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

  constructor(readonly tun: string, readonly stateDir = '/run/ipmp') {
    this.statePath = statePath(stateDir, tun);
    this.state = { tun, sysctls: {}, nftTable: nftTableName(tun) };
  }

  private save(): void {
    mkdirSync(this.stateDir, { recursive: true, mode: 0o755 });
    const tmp = `${this.statePath}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state), { mode: 0o600 });
    renameSync(tmp, this.statePath);
  }

  /** Restores what a crashed instance for this TUN left behind (sysctls, nft table). */
  static async recoverStale(tun: string, stateDir = '/run/ipmp'): Promise<boolean> {
    const path = statePath(stateDir, tun);
    let found = false;
    if (existsSync(path)) {
      found = true;
      try {
        const st = JSON.parse(readFileSync(path, 'utf8')) as IsolationState;
        for (const [p, v] of Object.entries(st.sysctls ?? {})) {
          try { writeFileSync(p, v); } catch { /* the NIC may be gone */ }
        }
      } catch { /* unreadable: fall through to removing the table by name */ }
      rmSync(path, { force: true });
    }
    const table = nftTableName(tun);
    await nft(`add table netdev ${table}\ndelete table netdev ${table}\n`);
    return found;
  }

  /** Sets the NICs whose ingress is dropped; present NICs only (nft refuses absent devices). */
  async setDevices(nics: string[]): Promise<void> {
    const present = nics.filter((n) => existsSync(`/sys/class/net/${n}`)).sort();
    if (present.join(',') === this.devices.join(',')) return;
    for (const n of present) this.disableIpv6(n);
    this.save();
    const t = this.state.nftTable;
    let script = `add table netdev ${t}\ndelete table netdev ${t}\n`;
    if (present.length > 0) {
      const devs = present.map((d) => `"${d}"`).join(', ');
      script += `table netdev ${t} {\n  chain ingress {\n    type filter hook ingress devices = { ${devs} } priority -500; policy drop;\n  }\n}\n`;
    }
    await nft(script);
    this.devices = present;
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
      rmSync(this.statePath, { force: true });
      this.devices = [];
    }
  }
}
