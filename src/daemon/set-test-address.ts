/**
 * `ipmp set-ifprop -p test-address=VALUE IF`: the interface's test addresses after the change.
 *
 *   ADDR/PLEN   the test address of ADDR's family (IPv6: link-local only, reference §3)
 *   link-local  the IPv6 test address is the link-local the NIC forms from its MAC
 *   none        no test addresses (link-based detection only)
 *
 * The other family's test address is kept. Refused with a one-line reason: a malformed
 * value, a global IPv6 address, an address that is a data address or another member's test
 * address.
 */
import type { InterfaceConfig, IpPrefix } from './config-types.js';
import { isLinkLocal6, parsePrefix } from './config-addr.js';

export type TestAddressChange = { ok: true; config: InterfaceConfig } | { ok: false; error: string };

/**
 * `cur` is the interface as it runs; `taken` the group's data addresses and the other
 * members' test addresses (canonical text, no prefix).
 */
export function setTestAddress(cur: InterfaceConfig, value: string, taken: { data: string[]; tests: string[] }): TestAddressChange {
  const v = value.trim();
  if (v.toLowerCase() === 'none') return { ok: true, config: { ...cur, testAddress: null, testAddress6: null, linkLocalTestAddress: false } };
  if (v.toLowerCase() === 'link-local') return { ok: true, config: { ...cur, testAddress6: null, linkLocalTestAddress: true } };
  const p = parsePrefix(v);
  if (!p.ok) return { ok: false, error: `test-address: bad value "${value}": expected ${p.expected}, link-local or none` };
  const a: IpPrefix = p.value;
  if (a.family === 6 && !isLinkLocal6(a.address)) {
    return { ok: false, error: `test-address: ${a.address} is not link-local: an IPv6 test address must be in fe80::/10` };
  }
  if (taken.data.includes(a.address)) return { ok: false, error: `test-address: ${a.address} is a data address of the group` };
  if (taken.tests.includes(a.address)) return { ok: false, error: `test-address: ${a.address} is another interface's test address` };
  return {
    ok: true,
    config: a.family === 4 ? { ...cur, testAddress: a } : { ...cur, testAddress6: a, linkLocalTestAddress: false },
  };
}
