/**
 * `ipmp VERB --persist`: after a live change, the daemon rewrites the configuration file it
 * was started with (or last reloaded from) so that a restart or a SIGHUP gives the same state.
 *
 *   persistEdit(file, base, edit) → { ok, text, config } | { ok: false, reason }
 *
 * Refused (the file left alone, the reason naming it) when the file changed on disk since the
 * daemon loaded it (an admin's edit not yet reloaded must not be overwritten), when its shape
 * does not allow the change, when the new text would not load with the daemon's own loader or
 * would not give `base` with exactly this change, or when writing fails. The write is atomic: a
 * temporary file beside the real one (symlinks followed) with its mode and owner, fsync,
 * rename, fsync of the directory.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync, fchmodSync, fchownSync, fstatSync, fsyncSync, openSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { prefixText } from './config-addr.js';
import { diffConfig } from './config-diff.js';
import type { DaemonConfig, GroupConfig } from './config-types.js';
import { EditError, editConfigText } from './config-edit.js';
import type { ConfigEdit } from './config-edit.js';
import { parseConfigYaml } from './config-yaml.js';

export type { ConfigEdit } from './config-edit.js';
export { describeEdit } from './config-edit.js';

/** The file the running configuration came from; text null when it changed since (e.g. across an upgrade). */
export interface ConfigFile {
  path: string;
  text: string | null;
}

export type PersistOutcome =
  | { ok: true; text: string; config: DaemonConfig; changed: boolean }
  | { ok: false; reason: string };

const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';

/** The group as the file should give it once `edit` is written: `g` with exactly that change. */
export function applyEdit(g: GroupConfig, edit: ConfigEdit): GroupConfig {
  switch (edit.op) {
    case 'add-ipmp': {
      let interfaces = g.interfaces;
      for (const ic of edit.interfaces) {
        interfaces = interfaces.some((i) => i.name === ic.name)
          ? interfaces.map((i) => (i.name === ic.name ? { ...ic } : i)) : [...interfaces, { ...ic }];
      }
      return { ...g, interfaces };
    }
    case 'remove-ipmp':
      return { ...g, interfaces: g.interfaces.filter((i) => !edit.interfaces.includes(i.name)) };
    case 'create-addr':
    case 'delete-addr': {
      const rest = g.addresses.filter((a) => a.family !== edit.address.family || a.address !== edit.address.address);
      return { ...g, addresses: edit.op === 'create-addr' ? [...rest, edit.address] : rest };
    }
    case 'set-ifprop': {
      const ic = edit.interface;
      return {
        ...g,
        interfaces: g.interfaces.map((i) => {
          if (i.name !== ic.name) return i;
          if (edit.prop === 'standby') return { ...i, standby: ic.standby };
          return { ...i, testAddress: ic.testAddress, testAddress6: ic.testAddress6 ?? null, linkLocalTestAddress: ic.linkLocalTestAddress ?? false };
        }),
      };
    }
  }
}

/** Why the edit cannot apply to `base` at all (the NIC or the group is not in the file), or null. */
function precondition(base: DaemonConfig, edit: ConfigEdit): string | null {
  const g = base.groups.find((x) => x.ifname === edit.group);
  if (!g) return `has no group ${edit.group} (it was not loaded from the file)`;
  if (edit.op === 'set-ifprop' && !g.interfaces.some((i) => i.name === edit.interface.name)) {
    return `has no interface ${edit.interface.name} in groups.${edit.group}.interfaces (add it with add-ipmp --persist first)`;
  }
  return null;
}

/** Writes `text` over `path` atomically, keeping its mode and owner; `before` must still be on disk. */
export function writeAtomic(path: string, text: string, before: string): void {
  const real = realpathSync(path);
  const st = statSync(real);
  const dir = dirname(real);
  const tmp = join(dir, `.${basename(real)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', st.mode & 0o7777);
  let open = true;
  try {
    writeSync(fd, text);
    fchmodSync(fd, st.mode & 0o7777);
    const own = fstatSync(fd);
    if (own.uid !== st.uid || own.gid !== st.gid) fchownSync(fd, st.uid, st.gid);
    fsyncSync(fd);
    closeSync(fd);
    open = false;
    if (readFileSync(real, 'utf8') !== before) throw new Error('it changed on disk while being rewritten');
    renameSync(tmp, real);
  } catch (e) {
    if (open) closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  const dfd = openSync(dir, 'r');
  try { fsyncSync(dfd); } finally { closeSync(dfd); }
}

/**
 * Rewrites `file` so that it gives `base` with `edit` applied. `base` is the configuration the
 * daemon loaded from `file.text` (its reload base). Never throws.
 */
export function persistEdit(file: ConfigFile | null, base: DaemonConfig, edit: ConfigEdit,
  write: (path: string, text: string, before: string) => void = writeAtomic): PersistOutcome {
  if (!file) return { ok: false, reason: 'ipmpd was started without a configuration file' };
  const p = file.path;
  let cur: string;
  try {
    cur = readFileSync(p, 'utf8');
  } catch (e) {
    return { ok: false, reason: `${p} cannot be read (${firstLine(e)})` };
  }
  if (file.text === null || cur !== file.text) {
    return { ok: false, reason: `${p} changed on disk since it was loaded (reload it with SIGHUP first)` };
  }
  const pre = precondition(base, edit);
  if (pre) return { ok: false, reason: `${p} ${pre}` };
  let next: string;
  try {
    next = editConfigText(cur, edit);
  } catch (e) {
    if (e instanceof EditError) return { ok: false, reason: `${p} ${e.message}` };
    return { ok: false, reason: `${p} cannot be edited (${firstLine(e)})` };
  }
  let groups: GroupConfig[];
  try {
    groups = parseConfigYaml(next, p).groups;
  } catch (e) {
    return { ok: false, reason: `${p} would not load after the change (${firstLine(e)})` };
  }
  const expected = base.groups.map((g) => (g.ifname === edit.group ? applyEdit(g, edit) : g));
  const diff = diffConfig({ ...base, groups: expected }, { ...base, groups });
  if (diff.length > 0) {
    const what = diff.map((c) => ('address' in c ? `${c.kind} ${prefixText(c.address)}` : c.kind)).join(', ');
    return { ok: false, reason: `${p} would not give the running configuration of ${edit.group} after the change (${what})` };
  }
  const config = { ...base, groups };
  if (next === cur) return { ok: true, text: cur, config, changed: false };
  try {
    write(p, next, cur);
  } catch (e) {
    return { ok: false, reason: `${p} cannot be rewritten (${firstLine(e)})` };
  }
  return { ok: true, text: next, config, changed: true };
}
