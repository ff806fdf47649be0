// The lab's description on disk, so `status`, `fail`, `repair` and `down` work across
// invocations: /run/ipmp/lab-<prefix>.json holds the LabInfo written by `up`.

import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LabInfo } from './topology.js';

export const STATE_DIR = '/run/ipmp';
const NETNS_DIR = '/run/netns';

export function stateFile(prefix: string): string {
  return join(STATE_DIR, `lab-${prefix}.json`);
}

export function writeLabInfo(info: LabInfo): void {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o755 });
  const file = stateFile(info.prefix);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, file);
}

/** The stored description, or null when there is none (or it is unreadable). */
export function readLabInfo(prefix: string): LabInfo | null {
  try {
    const info = JSON.parse(readFileSync(stateFile(prefix), 'utf8')) as LabInfo;
    return info && info.prefix === prefix && Array.isArray(info.nics) ? info : null;
  } catch {
    return null;
  }
}

export function removeLabInfo(prefix: string): void {
  rmSync(stateFile(prefix), { force: true });
}

/** Named network namespaces (`ip netns` keeps them as files in /run/netns). */
export function listNamespaces(): string[] {
  try {
    return readdirSync(NETNS_DIR).sort();
  } catch {
    return [];
  }
}

/** Namespaces belonging to a lab prefix: `<prefix>-*`. Prefixes contain no '-'. */
export function labNamespaces(prefix: string): string[] {
  return listNamespaces().filter((ns) => ns.startsWith(`${prefix}-`));
}
