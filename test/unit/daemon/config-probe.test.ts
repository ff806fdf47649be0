/** IPv6 test addresses in the configuration: explicit link-locals and `link-local`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, diffConfig, parseConfigYaml } from '../../../src/daemon/config.js';
import type { DaemonConfig } from '../../../src/daemon/config.js';
import { eui64LinkLocal } from '../../../src/control/detectors/addr.js';

const F = '/etc/ipmp/ipmp.yaml';

function yaml(eth0: string): string {
  return `groups:\n  ipmp0:\n    interfaces:\n      eth0: ${eth0}\n      eth1: {}\n    addresses: [2001:db8::10/64]\n`;
}

function errorOf(text: string): string {
  try {
    parseConfigYaml(text, F);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.ok(!e.message.includes('\n'));
    return e.message;
  }
  assert.fail('no error');
}

test('test-address6: link-local asks for the NIC\'s own link-local', () => {
  const g = parseConfigYaml(yaml('{ test-address6: link-local }'), F).groups[0]!;
  assert.equal(g.interfaces[0]!.linkLocalTestAddress, true);
  assert.equal(g.interfaces[0]!.testAddress6, null);
  assert.equal(g.interfaces[1]!.linkLocalTestAddress, undefined);
});

test('an explicit IPv6 link-local test address and link-local together are refused', () => {
  assert.equal(errorOf(yaml('{ test-address: fe80::1/64, test-address6: link-local }')),
    `${F}:4: groups.ipmp0.interfaces.eth0.test-address6: expected one IPv6 test address (test-address and test-address6 both give one)`);
  assert.equal(errorOf(yaml('{ test-address6: link-local, test-address: fe80::1/64 }')),
    `${F}:4: groups.ipmp0.interfaces.eth0.test-address: expected one IPv6 test address (test-address and test-address6 both give one)`);
  assert.match(errorOf(yaml('{ test-address6: linklocal }')), /test-address6: expected ADDRESS\/PREFIXLEN, got "linklocal"$/);
});

test('turning link-local on is a test-address6 change', () => {
  const a = parseConfigYaml(yaml('{}'), F);
  const b = parseConfigYaml(yaml('{ test-address6: link-local }'), F);
  const cfg = (y: typeof a): DaemonConfig => ({ fdtMs: 10000, failback: true, trackInterfacesOnlyWithGroups: true, groups: y.groups });
  const ch = diffConfig(cfg(a), cfg(b)).find((c) => c.kind === 'interface-changed');
  assert.ok(ch && ch.kind === 'interface-changed' && ch.testAddress6 && !ch.testAddress && !ch.standby);
});

test('the link-local of a MAC is modified EUI-64 (RFC 4291 appendix A)', () => {
  assert.equal(eui64LinkLocal(new Uint8Array([0x02, 0, 0, 0, 0xff, 0x01])), 'fe80::ff:fe00:ff01');
  assert.equal(eui64LinkLocal(new Uint8Array([0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e])), 'fe80::21b:21ff:fe3c:4d5e');
  assert.equal(eui64LinkLocal(new Uint8Array([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff])), 'fe80::fcff:ffff:feff:ffff');
});

test('an IPv6 target that is not link-local is warned about (it is never used)', () => {
  const y = `groups:\n  ipmp0:\n    interfaces: { eth0: { test-address6: link-local } }\n    targets: [fe80::1, 2001:db8::1]\n`;
  const r = parseConfigYaml(y, F);
  assert.deepEqual(r.groups[0]!.targets, ['fe80::1', '2001:db8::1']);
  assert.deepEqual(r.warnings, [
    `${F}:4: groups.ipmp0.targets: 2001:db8::1 is not link-local; IPv6 probe targets must be link-local, so it is not used`,
  ]);
});
