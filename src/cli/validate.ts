/** Local checks of names and addresses given on the command line, before they are sent. */
import { isIP } from 'node:net';
import { UsageError } from './common.js';

/** Linux IFNAMSIZ less the terminating NUL. */
export const MAX_IFNAME = 15;

/** Accepts an interface or IPMP interface name; throws UsageError otherwise. */
export function checkIfname(name: string): string {
  if (name === '') throw new UsageError('empty interface name');
  if (name.length > MAX_IFNAME) {
    throw new UsageError(`interface name '${name}' is longer than ${MAX_IFNAME} characters`);
  }
  if (name === '.' || name === '..' || /[\s/:]/.test(name)) {
    throw new UsageError(`invalid interface name '${name}'`);
  }
  return name;
}

/** Accepts ADDR/PLEN (IPv4 0-32, IPv6 0-128) and returns it unchanged; throws UsageError otherwise. */
export function checkAddrPrefix(text: string): string {
  const slash = text.lastIndexOf('/');
  if (slash < 0) throw new UsageError(`'${text}' lacks a prefix length (ADDR/PLEN)`);
  const addr = text.slice(0, slash);
  const plen = text.slice(slash + 1);
  const family = isIP(addr);
  if (family === 0) throw new UsageError(`invalid address '${addr}'`);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(plen) || Number(plen) > max) {
    throw new UsageError(`invalid prefix length '${plen}' for IPv${family} (0-${max})`);
  }
  return text;
}
