/**
 * The configuration loader (src/daemon/config*.ts) on YAML text: valid
 * configurations mutated at line, token and byte level, configurations
 * generated from the schema with random values, random YAML and random text.
 *
 * Properties: buildConfig returns a configuration or throws ConfigError whose
 * message is one line naming the file (and, when it has them, the line and
 * key), nothing else; warnings are one line each; an accepted configuration
 * is consistent (interface and group names valid and unique, canonical
 * addresses, the FDT within range) and, written back as YAML, loads again to
 * the same configuration; the reload difference between accepted configurations
 * is computed without error, and is empty from one to itself.
 */
import fc from 'fast-check';
import { stringify } from 'yaml';
import { buildConfig, ConfigError, diffConfig, type DaemonConfig } from '../../../src/daemon/config.js';
import { checkIfName, parsePrefix, prefixText } from '../../../src/daemon/config-addr.js';
import { assertOneLine, check, PropertyViolation, Tally, type FuzzTarget } from '../harness.js';
import { anyText, decodeUtf8, mutatedText, tokenText, utf8 } from '../mutate.js';

const FILE = '/etc/ipmp/ipmp.yaml';

export const CONFIG_SEEDS = [
  `# Daemon tunables
FAILURE_DETECTION_TIME: 10000
FAILBACK: yes
TRACK_INTERFACES_ONLY_WITH_GROUPS: yes

groups:
  ipmp0:
    groupname: web
    interfaces:
      eth0: { test-address: 198.18.0.100/24 }
      eth1: { test-address: 198.18.0.101/24 }
      eth2: { standby: true, test-address: 198.18.0.102/24 }
    addresses:
      - 198.18.0.10/24
      - 198.18.0.11/24
      - 2001:db8::10/64
    targets: [198.18.0.1]
`,
  `groups:
  ipmp1:
    interfaces: [eth3, eth4]
    addresses: [2001:DB8:0:0:0::0010/64, 198.18.1.1/24]
  ipmp2:
    interfaces:
      eth5:
      eth6: { test-address6: FE80::1/64, test-address: 198.18.2.1/24, standby: false }
      eth7: { test-address6: link-local }
`,
  `FAILURE_DETECTION_TIME: 0x2710
FAILBACK: no
groups:
  ipmp0:
    interfaces:
      eth0:
        test-address: none
        standby: off
    addresses: []
    targets:
      - 198.18.0.1
      - 2001:db8::1
`,
  `{FAILURE_DETECTION_TIME: 50, groups: {ipmp0: {interfaces: {eth0: {}, eth1: {standby: yes}}, addresses: [198.18.0.10/32]}}}
`,
  `# empty
`,
  `TRACK_INTERFACES_ONLY_WITH_GROUPS: no
groups:
`,
];

export const YAML_TOKENS = [
  ':', ': ', '- ', '-', '{', '}', '[', ']', ',', '#', '&a ', '*a', '!!str ', '!!int ', '!!binary ', '!tag ', '<<: *a', '? ',
  '|', '>-', "'", '"', '\\', '\t', '  ', '---', '...', '%YAML 1.2', '~', 'null', 'true', 'yes', 'no', 'on', 'maybe',
  '0', '-1', '0x10', '0o17', '1e3', '.inf', '.nan', '99999999999999999999', '2147483648', '10000', '100', '99',
  'ipmp0', 'eth0', 'eth1', 'groups', 'interfaces', 'addresses', 'targets', 'standby', 'test-address', 'test-address6',
  'groupname', 'link-local', 'FAILURE_DETECTION_TIME', 'FAILBACK', '198.18.0.10/24', '198.18.0.10', '2001:db8::10/64', 'fe80::1/64',
  '198.18.0.300/24', '198.18.0.1/33', '::/0', '0.0.0.0/0', 'a/b', '/', 'x'.repeat(16), 'é', '\u0000', '\u2028', '\r', '\n',
  '"a\\nb"', "'a\nb'", '"eth\\u0000"', '"\\x7f"',
];

/** A configuration-shaped document with random values, as YAML. */
const leaf = fc.oneof(
  fc.constantFrom('198.18.0.10/24', '2001:db8::10/64', 'fe80::1/64', '198.18.0.1', 'eth0', 'ipmp0', 'yes', 'no', 'none', ''),
  anyText(20), fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
);
const ifaceMap = fc.dictionary(fc.oneof(fc.constantFrom('eth0', 'eth1', 'eth2', 'ipmp0'), anyText(17)),
  fc.oneof(fc.constant(null), fc.record({ 'test-address': leaf, 'test-address6': leaf, standby: leaf }, { requiredKeys: [] })),
  { maxKeys: 4 });
const groupDoc = fc.record({
  groupname: leaf, interfaces: fc.oneof(ifaceMap, fc.array(leaf, { maxLength: 4 })),
  addresses: fc.oneof(fc.array(leaf, { maxLength: 4 }), leaf), targets: fc.oneof(fc.array(leaf, { maxLength: 3 }), leaf),
}, { requiredKeys: [] });
const configDoc = fc.record({
  FAILURE_DETECTION_TIME: leaf, FAILBACK: leaf, TRACK_INTERFACES_ONLY_WITH_GROUPS: leaf,
  groups: fc.oneof(fc.dictionary(fc.oneof(fc.constantFrom('ipmp0', 'ipmp1'), anyText(17)), groupDoc, { maxKeys: 3 }), leaf),
}, { requiredKeys: [] });
const generated = fc.tuple(configDoc, fc.boolean()).map(([d, flow]) => stringify(d, { collectionStyle: flow ? 'flow' : 'block' }));

/** The configuration written back as YAML (block style, quoted strings). */
export function configToYaml(c: DaemonConfig): string {
  const groups: Record<string, unknown> = {};
  for (const g of c.groups) {
    const ifs: Record<string, unknown> = {};
    for (const i of g.interfaces) {
      const e: Record<string, unknown> = { standby: i.standby };
      if (i.testAddress) e['test-address'] = prefixText(i.testAddress);
      if (i.testAddress6) e['test-address6'] = prefixText(i.testAddress6);
      if (i.linkLocalTestAddress) e['test-address6'] = 'link-local';
      ifs[i.name] = e;
    }
    const gd: Record<string, unknown> = { groupname: g.groupname, interfaces: ifs, addresses: g.addresses.map(prefixText) };
    if (g.targets) gd.targets = g.targets;
    groups[g.ifname] = gd;
  }
  return stringify({
    FAILURE_DETECTION_TIME: c.fdtMs, FAILBACK: c.failback ? 'yes' : 'no',
    TRACK_INTERFACES_ONLY_WITH_GROUPS: c.trackInterfacesOnlyWithGroups ? 'yes' : 'no', groups,
  }, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN' });
}

function checkConfig(c: DaemonConfig): void {
  check(Number.isInteger(c.fdtMs) && c.fdtMs >= 100 && c.fdtMs <= 0x7fffffff, `accepted FDT ${c.fdtMs}`);
  check(typeof c.failback === 'boolean' && typeof c.trackInterfacesOnlyWithGroups === 'boolean', 'tunable not a boolean');
  const seen = new Set<string>();
  for (const g of c.groups) {
    check(checkIfName(g.ifname).ok, `accepted group interface name ${JSON.stringify(g.ifname)}`);
    check(g.interfaces.length > 0, `group ${g.ifname} accepted without interfaces`);
    for (const i of g.interfaces) {
      check(checkIfName(i.name).ok, `accepted interface name ${JSON.stringify(i.name)}`);
      check(!seen.has(i.name), `interface ${i.name} accepted in two places`);
      seen.add(i.name);
    }
    for (const a of [...g.addresses, ...g.interfaces.flatMap((i) => [i.testAddress, i.testAddress6 ?? null])]) {
      if (a === null) continue;
      const p = parsePrefix(prefixText(a));
      check(p.ok && p.value.address === a.address && p.value.prefixlen === a.prefixlen, `address ${prefixText(a)} is not canonical`);
    }
  }
}

/** Loads YAML text; the configuration, or null after checking the ConfigError. */
export function loadOrError(text: string, file: string, tally: Tally): DaemonConfig | null {
  try {
    const r = buildConfig(text, file, null, null);
    for (const w of r.warnings) assertOneLine('configuration warning', w);
    return r.config;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    assertOneLine('ConfigError', e.message);
    check(e.message.startsWith(`${file}:`) || e.message.startsWith(`${file} `), () => `ConfigError does not name the file: ${e.message}`);
    const kind = /: YAML syntax error/.test(e.message) ? 'error:syntax' : /: expected /.test(e.message) ? 'error:expected' : 'error:other';
    tally.add(kind);
    return null;
  }
}

export function configTarget(): FuzzTarget {
  const tally = new Tally();
  let previous: DaemonConfig | null = null;
  return {
    name: 'config',
    about: 'YAML configuration loader: only one-line ConfigErrors naming file/line/key; accepted configs consistent and stable when written back',
    input: () => fc.oneof(
      { weight: 5, arbitrary: mutatedText(CONFIG_SEEDS, YAML_TOKENS, 8192) },
      { weight: 3, arbitrary: utf8(generated) },
      { weight: 1, arbitrary: utf8(anyText(200)) },
      { weight: 1, arbitrary: utf8(tokenText([...YAML_TOKENS, 'a', ' ', '\n'], 60)) },
    ),
    run(input) {
      const text = decodeUtf8(input);
      const c = loadOrError(text, FILE, tally);
      if (c === null) return;
      tally.add(`ok:${c.groups.length === 0 ? 'no-groups' : 'groups'}`);
      checkConfig(c);
      const again = loadOrError(configToYaml(c), FILE, new Tally());
      if (again === null) throw new PropertyViolation(`accepted configuration does not load again once written back:\n${configToYaml(c)}`);
      const a = JSON.stringify(c);
      const b = JSON.stringify(again);
      check(a === b, () => `configuration written back loads differently:\n  ${a}\n  ${b}`);
      // A reload between any two accepted configurations: no change from one to itself.
      check(diffConfig(c, again).length === 0, 'a configuration differs from itself');
      if (previous !== null) tally.add(`reload:${diffConfig(previous, c).length > 0 ? 'changes' : 'none'}`);
      previous = c;
    },
    outcomes: () => tally.toJSON(),
  };
}
