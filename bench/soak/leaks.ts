// What the soak checks is left behind: the host namespace as it was before the daemon
// started (no TUN, no nftables table, disable_ipv6 values, no recovery state file), the final
// daemon instance's fds, sockets and RSS against its own start, and no lab namespace after
// the lab is taken down.

import { existsSync, readdirSync } from 'node:fs';
import { execIn } from '../../src/lab/lab.js';
import type { ProcStats } from './daemon.js';

export interface HostState {
  /** disable_ipv6 per NIC. */
  disableIpv6: Record<string, string>;
  /** Names of nftables tables in the namespace ("family name"). */
  nftTables: string[];
}

export interface LeakCheck {
  what: string;
  ok: boolean;
  detail: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function hostState(ns: string, nics: readonly string[]): Promise<HostState> {
  const disableIpv6: Record<string, string> = {};
  for (const n of nics) {
    try {
      disableIpv6[n] = (await execIn(ns, ['cat', `/proc/sys/net/ipv6/conf/${n}/disable_ipv6`])).stdout.trim();
    } catch {
      disableIpv6[n] = 'absent';
    }
  }
  const tables = (await execIn(ns, ['nft', 'list', 'tables'])).stdout.split('\n')
    .map((l) => l.trim().replace(/^table\s+/, '')).filter(Boolean);
  return { disableIpv6, nftTables: tables };
}

/** Reads stats until two reads 250 ms apart agree on fds and sockets (at most 5 s). */
export async function stableStats(read: () => ProcStats | null): Promise<ProcStats | null> {
  let prev = read();
  for (let i = 0; i < 20 && prev; i++) {
    await sleep(250);
    const cur = read();
    if (!cur) return null;
    if (cur.fds === prev.fds && cur.sockets === prev.sockets) return cur;
    prev = cur;
  }
  return prev;
}

export function compareHost(before: HostState, after: HostState, tunLink: boolean, tun: string): LeakCheck[] {
  const out: LeakCheck[] = [];
  out.push({ what: 'TUN removed', ok: !tunLink, detail: tunLink ? `${tun} still exists` : `${tun} gone` });
  const added = after.nftTables.filter((t) => !before.nftTables.includes(t));
  out.push({ what: 'nftables', ok: added.length === 0, detail: added.length ? `left: ${added.join(', ')}` : `tables as before (${before.nftTables.length})` });
  const changed = Object.keys(before.disableIpv6).filter((n) => before.disableIpv6[n] !== after.disableIpv6[n]);
  out.push({
    what: 'sysctls', ok: changed.length === 0,
    detail: changed.length
      ? changed.map((n) => `${n} disable_ipv6 ${before.disableIpv6[n]}→${after.disableIpv6[n]}`).join(', ')
      : `disable_ipv6 as before on ${Object.keys(before.disableIpv6).join(', ')}`,
  });
  return out;
}

/** Recovery state files of this TUN under /run/ipmp. */
export function stateFiles(tun: string): string[] {
  const dir = '/run/ipmp';
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(`${tun}.`)) : [];
}

export function compareProc(base: ProcStats | null, end: ProcStats | null, rssLimitMb: number): LeakCheck[] {
  if (!base || !end) {
    return [{ what: 'daemon fds', ok: false, detail: 'daemon not running at the start or the end of the measurement' }];
  }
  const growMb = (end.rssKb - base.rssKb) / 1024;
  return [
    { what: 'daemon fds', ok: end.fds <= base.fds, detail: `${base.fds} → ${end.fds}` },
    { what: 'daemon sockets', ok: end.sockets <= base.sockets, detail: `${base.sockets} → ${end.sockets}` },
    { what: 'daemon threads', ok: end.threads <= base.threads, detail: `${base.threads} → ${end.threads}` },
    {
      what: 'daemon RSS', ok: growMb <= rssLimitMb,
      detail: `${(base.rssKb / 1024).toFixed(1)} → ${(end.rssKb / 1024).toFixed(1)} MB (${growMb >= 0 ? '+' : ''}${growMb.toFixed(1)}, limit +${rssLimitMb})`,
    },
  ];
}

/** The devices of a netdev chain in `nft list table` output: `devices = { a, b }` or `device "a"`. */
export function hookedDevices(nftText: string): string[] {
  const m = /devices = \{([^}]*)\}/.exec(nftText) ?? /device "?([^"\s;]+)"?/.exec(nftText);
  return m ? m[1].split(',').map((d) => d.trim().replace(/"/g, '')).filter(Boolean) : [];
}
