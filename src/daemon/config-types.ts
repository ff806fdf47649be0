/**
 * The daemon's configuration, as loaded from the YAML group file and the Solaris
 * mpathd tunables file.
 */
import type { IpPrefix } from './config-addr.js';

export type { IpPrefix } from './config-addr.js';

export interface InterfaceConfig {
  /** The underlying NIC, e.g. "eth0". It may be absent at start (tracked as failed). */
  name: string;
  standby: boolean;
  /**
   * IPv4 test address (`test-address`), or null: no IPv4 probing. The loader always
   * puts an IPv4 address here; an IPv6 link-local given as `test-address` goes to
   * testAddress6.
   */
  testAddress: IpPrefix | null;
  /** IPv6 test address (`test-address6`, link-local only, reference §3), or null. */
  testAddress6?: IpPrefix | null;
  /**
   * `test-address6: link-local`: the IPv6 test address is the link-local the NIC forms from
   * its MAC (modified EUI-64, fe80::/64), as on Solaris.
   */
  linkLocalTestAddress?: boolean;
}

export interface GroupConfig {
  /** The IPMP interface: the TUN device name, e.g. "ipmp0". */
  ifname: string;
  /** The IPMP group name; defaults to ifname. */
  groupname: string;
  /** Underlying NICs in preference order. */
  interfaces: InterfaceConfig[];
  /** Data addresses, in file order. */
  addresses: IpPrefix[];
  /** Pinned probe targets (canonical addresses), or null for discovery. */
  targets: string[] | null;
}

export interface DaemonConfig {
  fdtMs: number;
  failback: boolean;
  trackInterfacesOnlyWithGroups: boolean;
  groups: GroupConfig[];
}

/** A configuration problem, as one line: `FILE:LINE: KEY: what was expected, got what`. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly file: string,
    readonly line: number | null = null,
    readonly key: string | null = null,
  ) {
    super(message);
  }

  static at(file: string, line: number | null, key: string | null, text: string): ConfigError {
    const where = line === null ? file : `${file}:${line}`;
    return new ConfigError(printable(key ? `${where}: ${key}: ${text}` : `${where}: ${text}`), file, line, key);
  }
}

/**
 * Text from a file made safe for a one-line message: line breaks and other
 * control characters (tab excepted) are shown as \u escapes.
 */
export function printable(s: string): string {
  return s.replace(/[\x00-\x08\x0a-\x1f\x7f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
