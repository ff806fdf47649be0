/**
 * Loads the daemon configuration: the YAML group file (interface.md) merged over
 * the Solaris mpathd tunables file (reference §2) merged over the Solaris defaults.
 *
 *   loadConfig({ configPath, mpathdPath }) → { config, warnings }
 *
 * Fatal problems throw ConfigError with a one-line message naming the file (and,
 * for the YAML file, the line and key). Warnings are log lines: the Solaris texts
 * for clamped or invalid tunables, and ignored lines of the mpathd file.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DEFAULT_MPATHD } from './protocol.js';
import { ConfigError } from './config-types.js';
import type { DaemonConfig } from './config-types.js';
import { parseConfigYaml } from './config-yaml.js';
import { DEFAULT_FDT_MS, parseMpathd } from './mpathd-file.js';
import type { MpathdTunables } from './mpathd-file.js';

export * from './config-types.js';
export { diffConfig } from './config-diff.js';
export type { ConfigChange } from './config-diff.js';
export { parseConfigYaml } from './config-yaml.js';
export { parseMpathd, cStrtolInt, DEFAULT_FDT_MS, MIN_FDT_MS } from './mpathd-file.js';
export { canonicalAddress, parsePrefix, prefixText } from './config-addr.js';

export interface LoadConfigOptions {
  /** The YAML group file; it must exist. */
  configPath: string;
  /**
   * The mpathd tunables file. undefined: DEFAULT_MPATHD when it exists. null: none.
   * A path other than DEFAULT_MPATHD must exist.
   */
  mpathdPath?: string | null;
}

export interface LoadedConfig {
  config: DaemonConfig;
  warnings: string[];
  /** The YAML file's text as read (what `ipmp VERB --persist` checks the file against). */
  text?: string;
}

/**
 * Refuses a file others could have written: world-writable itself, or in a
 * world-writable directory without the sticky bit.
 */
export function checkFileSafety(file: string): void {
  const st = statSync(file);
  if (!st.isFile()) throw ConfigError.at(file, null, null, 'not a regular file');
  if (st.mode & 0o002) {
    throw ConfigError.at(file, null, null, 'refusing a world-writable configuration file (chmod o-w it)');
  }
  const dir = dirname(resolve(file));
  const ds = statSync(dir);
  if ((ds.mode & 0o002) && !(ds.mode & 0o1000)) {
    throw ConfigError.at(file, null, null, `refusing a configuration file in the world-writable directory ${dir}`);
  }
}

/** Reads a file after the safety check; null when it is optional and absent. */
function readConfigFile(file: string, optional: boolean): string | null {
  try {
    checkFileSafety(file);
    return readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && optional) return null;
    if (code === 'ENOENT') throw ConfigError.at(file, null, null, 'no such file');
    if (code === 'EACCES') throw ConfigError.at(file, null, null, 'permission denied');
    if (code === 'EISDIR') throw ConfigError.at(file, null, null, 'not a regular file');
    throw ConfigError.at(file, null, null, `cannot read: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** The Solaris defaults overridden by the mpathd file, then by the YAML file. */
export function mergeTunables(...layers: MpathdTunables[]): Omit<DaemonConfig, 'groups'> {
  const out = { fdtMs: DEFAULT_FDT_MS, failback: true, trackInterfacesOnlyWithGroups: true };
  for (const l of layers) {
    if (l.fdtMs !== undefined) out.fdtMs = l.fdtMs;
    if (l.failback !== undefined) out.failback = l.failback;
    if (l.trackInterfacesOnlyWithGroups !== undefined) out.trackInterfacesOnlyWithGroups = l.trackInterfacesOnlyWithGroups;
  }
  return out;
}

/** Parses both texts into one configuration (no file access). Throws ConfigError. */
export function buildConfig(yamlText: string, configPath: string, mpathdText: string | null, mpathdPath: string | null): LoadedConfig {
  const warnings: string[] = [];
  let mp: MpathdTunables = {};
  if (mpathdText !== null) {
    const r = parseMpathd(mpathdText, mpathdPath ?? DEFAULT_MPATHD);
    mp = r.tunables;
    warnings.push(...r.warnings);
  }
  const y = parseConfigYaml(yamlText, configPath);
  warnings.push(...y.warnings);
  return { config: { ...mergeTunables(mp, y.tunables), groups: y.groups }, warnings };
}

/** Reads, checks and merges the configuration files. Throws ConfigError. */
export function loadConfig(opts: LoadConfigOptions): LoadedConfig {
  const mpathdPath = opts.mpathdPath === undefined ? DEFAULT_MPATHD : opts.mpathdPath;
  const mpathdText = mpathdPath === null ? null : readConfigFile(mpathdPath, mpathdPath === DEFAULT_MPATHD);
  const yamlText = readConfigFile(opts.configPath, false) as string;
  return { ...buildConfig(yamlText, opts.configPath, mpathdText, mpathdPath), text: yamlText };
}
