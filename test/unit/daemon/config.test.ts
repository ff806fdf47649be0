import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  ConfigError, buildConfig, cStrtolInt, diffConfig, loadConfig, parseConfigYaml, parseMpathd,
} from '../../../src/daemon/config.js';
import type { DaemonConfig } from '../../../src/daemon/config.js';

const F = '/etc/ipmp/ipmp.yaml';

const EXAMPLE = `# Daemon tunables: names, units (ms) and defaults as in Solaris /etc/default/mpathd
FAILURE_DETECTION_TIME: 10000
FAILBACK: yes
TRACK_INTERFACES_ONLY_WITH_GROUPS: yes

groups:
  ipmp0:                          # the IPMP interface: a TUN device of this name
    groupname: web                # optional, defaults to the interface name
    interfaces:                   # underlying NICs, in preference order
      eth0: { test-address: 198.18.0.100/24 }
      eth1: { test-address: 198.18.0.101/24 }
      eth2: { standby: true, test-address: 198.18.0.102/24 }
    addresses:                    # data addresses, bound to active NICs (reference §9)
      - 198.18.0.10/24
      - 198.18.0.11/24
      - 2001:db8::10/64
    targets: [198.18.0.1]         # optional pinned probe targets; default: discovery (§5)
`;

function errorOf(text: string): string {
  try {
    parseConfigYaml(text, F);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `not one line: ${e.message}`);
    return e.message;
  }
  assert.fail('no error');
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'ipmp-cfg-'));

test('the interface.md example loads', () => {
  const dir = tmp();
  const file = join(dir, 'ipmp.yaml');
  writeFileSync(file, EXAMPLE, { mode: 0o644 });
  const { config, warnings } = loadConfig({ configPath: file, mpathdPath: null });
  assert.deepEqual(warnings, []);
  assert.equal(config.fdtMs, 10000);
  assert.equal(config.failback, true);
  assert.equal(config.trackInterfacesOnlyWithGroups, true);
  assert.equal(config.groups.length, 1);
  const g = config.groups[0]!;
  assert.equal(g.ifname, 'ipmp0');
  assert.equal(g.groupname, 'web');
  assert.deepEqual(g.interfaces.map((i) => [i.name, i.standby, i.testAddress?.address, i.testAddress?.prefixlen]), [
    ['eth0', false, '198.18.0.100', 24], ['eth1', false, '198.18.0.101', 24], ['eth2', true, '198.18.0.102', 24],
  ]);
  assert.deepEqual(g.addresses, [
    { family: 4, address: '198.18.0.10', prefixlen: 24 },
    { family: 4, address: '198.18.0.11', prefixlen: 24 },
    { family: 6, address: '2001:db8::10', prefixlen: 64 },
  ]);
  assert.deepEqual(g.targets, ['198.18.0.1']);
});

test('defaults, canonical addresses, link-local test-address6, list form of interfaces', () => {
  const y = parseConfigYaml(`groups:
  ipmp1:
    interfaces: [eth3, eth4]
    addresses: [2001:DB8:0:0:0::0010/64, 10.0.0.1/8]
  ipmp2:
    interfaces:
      eth5:
      eth6: { test-address6: FE80::1/64, test-address: 192.0.2.1/24, standby: false }
`, F);
  assert.deepEqual(y.tunables, {});
  const [g1, g2] = y.groups;
  assert.equal(g1!.groupname, 'ipmp1');
  assert.equal(g1!.targets, null);
  assert.deepEqual(g1!.interfaces, [
    { name: 'eth3', standby: false, testAddress: null, testAddress6: null },
    { name: 'eth4', standby: false, testAddress: null, testAddress6: null },
  ]);
  assert.equal(g1!.addresses[0]!.address, '2001:db8::10');
  assert.deepEqual(g2!.interfaces[1], {
    name: 'eth6', standby: false,
    testAddress: { family: 4, address: '192.0.2.1', prefixlen: 24 },
    testAddress6: { family: 6, address: 'fe80::1', prefixlen: 64 },
  });
  assert.deepEqual(g2!.addresses, []);
});

test('each error class: one line with file, line and key', () => {
  const cases: Array<[string, string]> = [
    [EXAMPLE.replace('eth1: { test-address: 198.18.0.101/24 }', 'eth1: { test-address: 198.18.0.101/24, standby: maybe }'),
      `${F}:11: groups.ipmp0.interfaces.eth1.standby: expected true or false, got "maybe"`],
    ['FAILUREDETECTIONTIME: 5\n', `${F}:1: FAILUREDETECTIONTIME: unknown key (expected one of FAILURE_DETECTION_TIME, FAILBACK, TRACK_INTERFACES_ONLY_WITH_GROUPS, groups)`],
    ['groups:\n  ipmp0:\n    interfaces: [eth0]\n    adresses: []\n', `${F}:4: groups.ipmp0.adresses: unknown key (expected one of groupname, interfaces, addresses, targets)`],
    ['groups:\n  ipmp0:\n    interfaces:\n      eth0: { test-adress: 1.2.3.4/24 }\n',
      `${F}:4: groups.ipmp0.interfaces.eth0.test-adress: unknown key (expected one of test-address, test-address6, standby)`],
    ['FAILBACK: perhaps\n', `${F}:1: FAILBACK: expected yes or no, got "perhaps"`],
    ['FAILURE_DETECTION_TIME: fast\n', `${F}:1: FAILURE_DETECTION_TIME: expected an integer number of milliseconds, got "fast"`],
    ['FAILURE_DETECTION_TIME: 1.5\n', `${F}:1: FAILURE_DETECTION_TIME: expected an integer number of milliseconds, got 1.5`],
    ['groups: [ipmp0]\n', `${F}:1: groups: expected a mapping, got a list`],
    ['groups:\n  ipmp0:\n    interfaces: [eth0]\n    addresses:\n      - 198.18.0.300/24\n',
      `${F}:5: groups.ipmp0.addresses: expected ADDRESS/PREFIXLEN with a valid IPv4 or IPv6 address, got "198.18.0.300/24"`],
    ['groups:\n  ipmp0:\n    interfaces: [eth0]\n    addresses: [198.18.0.3/33]\n',
      `${F}:4: groups.ipmp0.addresses: expected a prefix length of 0-32, got "198.18.0.3/33"`],
    ['groups:\n  ipmp0:\n    interfaces: [eth0]\n    addresses: [2001:db8::1/129]\n',
      `${F}:4: groups.ipmp0.addresses: expected a prefix length of 0-128, got "2001:db8::1/129"`],
    ['groups:\n  ipmp0:\n    interfaces: [eth0]\n    addresses: [198.18.0.3]\n',
      `${F}:4: groups.ipmp0.addresses: expected ADDRESS/PREFIXLEN, got "198.18.0.3"`],
    ['groups:\n  ipmp0:\n    interfaces: [eth0, eth1]\n  ipmp1:\n    interfaces:\n      eth1: {}\n',
      `${F}:6: groups.ipmp1.interfaces.eth1: interface eth1 is already in groups.ipmp0 (line 3); an interface belongs to one group`],
    ['groups:\n  ipmp0:\n    interfaces:\n      eth0: { test-address: 198.18.0.10/24 }\n    addresses: [198.18.0.10/24]\n',
      `${F}:5: groups.ipmp0.addresses: data address 198.18.0.10 is also a test address at groups.ipmp0.interfaces.eth0.test-address (line 4)`],
    ['groups:\n  ipmp0:\n    interfaces:\n      eth0: { test-address: 198.18.0.100/24 }\n      eth1: { test-address: 198.18.0.100/24 }\n',
      `${F}:5: groups.ipmp0.interfaces.eth1.test-address: duplicate test address 198.18.0.100, already at groups.ipmp0.interfaces.eth0.test-address (line 4)`],
    ['groups:\n  ipmp0:\n    interfaces: [eth0]\n  ipmp0:\n    interfaces: [eth1]\n',
      `${F}:4: groups.ipmp0: duplicate group: two groups on one TUN name`],
    ['groups:\n  averyveryverylongname:\n    interfaces: [eth0]\n',
      `${F}:2: groups.averyveryverylongname: expected an interface name of 1-15 characters without "/", ":", whitespace or control characters, got "averyveryverylongname"`],
    ['groups:\n  ipmp0:\n    interfaces:\n      eth0:1: {}\n',
      `${F}:4: groups.ipmp0.interfaces.eth0:1: expected an interface name of 1-15 characters without "/", ":", whitespace or control characters, got "eth0:1"`],
    ['groups:\n  ipmp0:\n    interfaces: {}\n', `${F}:3: groups.ipmp0.interfaces: expected at least one interface, got a mapping`],
    ['groups:\n  ipmp0:\n    groupname: web\n', `${F}:2: groups.ipmp0: expected an interfaces mapping with at least one interface`],
    ['groups:\n  ipmp0:\n    interfaces:\n      eth0: { test-address6: 2001:db8::5/64 }\n',
      `${F}:4: groups.ipmp0.interfaces.eth0.test-address6: expected an IPv6 link-local (fe80::/10) test address, got "2001:db8::5/64"`],
    ['groups:\n  ipmp0:\n    interfaces: [eth0]\n    targets: [198.18.0.1, bogus]\n',
      `${F}:4: groups.ipmp0.targets: expected an IPv4 or IPv6 address, got "bogus"`],
    ['groups:\n  ipmp0:\n    interfaces: [ipmp1]\n  ipmp1:\n    interfaces: [eth0]\n',
      `${F}:3: groups.ipmp0.interfaces.ipmp1: ipmp1 is an IPMP interface (a group's TUN name), not a NIC`],
    ['groups:\n  ipmp0:\n    interfaces: [eth0]\n    addresses: [198.18.0.1/24]\n  ipmp1:\n    interfaces: [eth1]\n    addresses: [198.18.0.1/16]\n',
      `${F}:7: groups.ipmp1.addresses: duplicate data address 198.18.0.1, already at groups.ipmp0.addresses (line 4)`],
  ];
  for (const [text, expected] of cases) assert.equal(errorOf(text), expected);
});

test('YAML syntax errors name the line', () => {
  assert.match(errorOf('groups:\n  ipmp0:\n    interfaces: [eth0\n'), /^\/etc\/ipmp\/ipmp\.yaml:\d+: YAML syntax error: /);
  assert.equal(errorOf('FAILBACK: yes\n\tgroups: {}\n'), `${F}:2: YAML syntax error: Tabs are not allowed as indentation`);
  assert.equal(errorOf('a: 1\nb:\n  - x\n  y: 2\n'), `${F}:4: YAML syntax error: All mapping items must start at the same column`);
});

test('YAML FAILURE_DETECTION_TIME is clamped with the Solaris messages', () => {
  assert.deepEqual(parseConfigYaml('FAILURE_DETECTION_TIME: 50\n', F).warnings,
    ['Too small failure detection time of 50, assuming minimum of 100 ms']);
  const y = parseConfigYaml('FAILURE_DETECTION_TIME: 0\n', F);
  assert.equal(y.tunables.fdtMs, 10000);
  assert.deepEqual(y.warnings, ['Invalid failure detection time 0, assuming default of 10000 ms']);
  assert.equal(parseConfigYaml('FAILURE_DETECTION_TIME: 0x3e8\n', F).tunables.fdtMs, 1000);
});

test('strtol(v, NULL, 0) semantics', () => {
  const cases: Array<[string, number]> = [
    ['10', 10], ['0x3e8', 1000], ['0X3E8', 1000], ['010', 8], ['08', 0], ['0x', 0], ['  42abc', 42],
    ['-5', -5], ['+7', 7], ['abc', 0], ['', 0], ['99999999999999999999', -1],
  ];
  for (const [s, n] of cases) assert.equal(cStrtolInt(s), n, s);
});

test('mpathd file: values, messages, case-insensitive names, comments', () => {
  const r = parseMpathd('# comment\nfailure_detection_time=0x3e8\nFailBack=no\nTRACK_INTERFACES_ONLY_WITH_GROUPS=NO\n', 'M');
  assert.deepEqual(r, { tunables: { fdtMs: 1000, failback: false, trackInterfacesOnlyWithGroups: false }, warnings: [] });
  assert.deepEqual(parseMpathd('FAILURE_DETECTION_TIME=010\n', 'M'), {
    tunables: { fdtMs: 100 }, warnings: ['Too small failure detection time of 010, assuming minimum of 100 ms'],
  });
  assert.deepEqual(parseMpathd('FAILURE_DETECTION_TIME=10\n', 'M').tunables, { fdtMs: 100 });
  assert.deepEqual(parseMpathd('FAILURE_DETECTION_TIME=garbage\n', 'M'), {
    tunables: { fdtMs: 10000 }, warnings: ['Invalid failure detection time garbage, assuming default of 10000 ms'],
  });
  assert.deepEqual(parseMpathd('FAILBACK=maybe\nTRACK_INTERFACES_ONLY_WITH_GROUPS=sometimes\n', 'M'), {
    tunables: {}, warnings: ['Invalid value for FAILBACK maybe', 'Invalid value for TRACK_INTERFACES_ONLY_WITH_GROUPS sometimes'],
  });
  assert.deepEqual(parseMpathd('FAILURE_DETECTION_TIME="20000"\nFAILURE_DETECTION_TIME=5\n', 'M').tunables, { fdtMs: 20000 });
  assert.deepEqual(parseMpathd('BOGUS=1\n', 'M').warnings, ['M:1: ignoring unknown setting BOGUS']);
});

test('YAML keys win over the mpathd file; the mpathd file over the defaults', () => {
  const r = buildConfig('FAILBACK: yes\n', F, 'FAILBACK=no\nFAILURE_DETECTION_TIME=2000\nTRACK_INTERFACES_ONLY_WITH_GROUPS=no\n', 'M');
  assert.deepEqual(r.config, { fdtMs: 2000, failback: true, trackInterfacesOnlyWithGroups: false, groups: [] });
  const dir = tmp();
  writeFileSync(join(dir, 'c.yaml'), 'FAILURE_DETECTION_TIME: 3000\n', { mode: 0o644 });
  writeFileSync(join(dir, 'mpathd'), 'FAILURE_DETECTION_TIME=2000\nFAILBACK=no\n', { mode: 0o644 });
  const l = loadConfig({ configPath: join(dir, 'c.yaml'), mpathdPath: join(dir, 'mpathd') });
  assert.equal(l.config.fdtMs, 3000);
  assert.equal(l.config.failback, false);
});

test('file errors: missing, world-writable file, world-writable directory', () => {
  const dir = tmp();
  const missing = join(dir, 'nope.yaml');
  assert.throws(() => loadConfig({ configPath: missing, mpathdPath: null }), { name: 'ConfigError', message: `${missing}: no such file` });
  writeFileSync(join(dir, 'ok.yaml'), '', { mode: 0o644 });
  assert.throws(() => loadConfig({ configPath: join(dir, 'ok.yaml'), mpathdPath: join(dir, 'no-mpathd') }),
    { message: `${join(dir, 'no-mpathd')}: no such file` });
  const ww = join(dir, 'ww.yaml');
  writeFileSync(ww, '');
  chmodSync(ww, 0o666);
  assert.throws(() => loadConfig({ configPath: ww, mpathdPath: null }), { message: /ww\.yaml: refusing a world-writable configuration file/ });
  const open = join(dir, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  writeFileSync(join(open, 'c.yaml'), '', { mode: 0o644 });
  assert.throws(() => loadConfig({ configPath: join(open, 'c.yaml'), mpathdPath: null }), { message: /world-writable directory/ });
  chmodSync(open, 0o1777);
  assert.deepEqual(loadConfig({ configPath: join(open, 'c.yaml'), mpathdPath: null }).config.groups, []);
});

const base = (): DaemonConfig => buildConfig(EXAMPLE, F, null, null).config;

test('diffConfig: nothing, tunables, interfaces, addresses, targets, groups', () => {
  assert.deepEqual(diffConfig(base(), base()), []);
  const b = parseConfigYaml(EXAMPLE
    .replace('FAILURE_DETECTION_TIME: 10000', 'FAILURE_DETECTION_TIME: 5000')
    .replace('      eth0: { test-address: 198.18.0.100/24 }\n', '')
    .replace('eth2: { standby: true, test-address: 198.18.0.102/24 }', 'eth2: { test-address: 198.18.0.102/24 }\n      eth3: {}')
    .replace('      - 198.18.0.11/24\n', '      - 198.18.0.12/24\n')
    .replace('targets: [198.18.0.1]', 'targets: [198.18.0.2]')
    + '  ipmp1:\n    interfaces: [eth9]\n', F);
  const after: DaemonConfig = { fdtMs: b.tunables.fdtMs!, failback: true, trackInterfacesOnlyWithGroups: true, groups: b.groups };
  const kinds = diffConfig(base(), after).map((c) => c.kind + ('name' in c ? `:${c.name}` : '') + ('address' in c ? `:${c.address.address}` : ''));
  assert.deepEqual(kinds, [
    'fdt', 'address-removed:198.18.0.11', 'interface-removed:eth0', 'interface-changed:eth2', 'targets-changed',
    'group-added', 'interface-added', 'address-added:198.18.0.12',
  ]);
  const changed = diffConfig(base(), after).find((c) => c.kind === 'interface-changed');
  assert.ok(changed && changed.kind === 'interface-changed' && changed.standby && !changed.testAddress);
  assert.deepEqual(diffConfig(after, { ...after, groups: [] }).map((c) => c.kind), ['group-removed', 'group-removed']);
  const reordered = { ...after, groups: [{ ...after.groups[0]!, interfaces: [...after.groups[0]!.interfaces].reverse() }] };
  assert.deepEqual(diffConfig({ ...after, groups: [after.groups[0]!] }, reordered).map((c) => c.kind), ['interfaces-reordered']);
});

test('fast-check: mutated and random YAML only ever throws a one-line ConfigError', () => {
  const pieces = ['groups:', '  ipmp0:', '    interfaces:', '      eth0: { test-address: 1.2.3.4/24 }', '    addresses: [5.6.7.8/24]',
    'FAILBACK: yes', 'FAILURE_DETECTION_TIME: 0x10', '  - x', ': :', '&a [*a]', '!!binary AAAA', '"\\u0000"', '{', ']', '? [a]', '  targets: []'];
  const check = (text: string): void => {
    try {
      parseConfigYaml(text, F);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      assert.ok(!e.message.includes('\n') && e.message.startsWith(`${F}`), e.message);
    }
  };
  fc.assert(fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 12 }), (ls) => check(ls.join('\n'))), { numRuns: 400 });
  fc.assert(fc.property(fc.string({ maxLength: 200 }), check), { numRuns: 400 });
  fc.assert(fc.property(fc.nat(EXAMPLE.length), fc.nat(EXAMPLE.length), fc.string({ maxLength: 8 }), (a, b, s) => {
    check(EXAMPLE.slice(0, Math.min(a, b)) + s + EXAMPLE.slice(Math.max(a, b)));
  }), { numRuns: 600 });
});
