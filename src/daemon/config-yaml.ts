/**
 * The YAML group configuration (interface.md "Configuration file"). Walks the
 * parsed document node by node so that every error names its line and key path,
 * e.g. `/etc/ipmp/ipmp.yaml:7: groups.ipmp0.interfaces.eth1.standby: expected true or false, got "maybe"`.
 * The first error found is thrown as a ConfigError; FDT clamping gives warnings.
 *
 * Collections nested deeper than MAX_NESTING are refused before the document is built
 * (building it recurses once per level, so a thousand levels would exhaust the stack).
 */
import { LineCounter, Parser, Scalar, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { CST, Node as YamlNode } from 'yaml';
import { checkGroupName, checkIfName, isLinkLocal6, parsePrefix, canonicalAddress } from './config-addr.js';
import type { Checked, IpPrefix } from './config-addr.js';
import { ConfigError } from './config-types.js';
import type { GroupConfig, InterfaceConfig } from './config-types.js';
import { clampFdt } from './mpathd-file.js';
import type { MpathdTunables } from './mpathd-file.js';

type N = YamlNode | null | undefined;

/** A null value placed at `at`, so that errors about a missing value name its line. */
function nullAt(at: YamlNode): Scalar {
  const s = new Scalar(null);
  s.range = at.range;
  return s;
}
interface Entry { name: string; keyNode: N; value: N }
interface Seen { key: string; line: number | null }

const TOP_KEYS = ['FAILURE_DETECTION_TIME', 'FAILBACK', 'TRACK_INTERFACES_ONLY_WITH_GROUPS', 'groups'];
const GROUP_KEYS = ['groupname', 'interfaces', 'addresses', 'targets'];
const IF_KEYS = ['test-address', 'test-address6', 'standby'];
const MAX_FDT_MS = 0x7fffffff;
/** Deepest nesting of mappings and lists accepted; a valid configuration needs 5. */
export const MAX_NESTING = 64;

export interface YamlConfig {
  tunables: MpathdTunables;
  groups: GroupConfig[];
  warnings: string[];
}

class Walker {
  readonly warnings: string[] = [];
  private readonly dataAddrs = new Map<string, Seen>();
  private readonly testAddrs = new Map<string, Seen>();
  private readonly members = new Map<string, Seen>();
  private readonly groupnames = new Map<string, Seen>();

  constructor(private readonly file: string, private readonly lc: LineCounter, private readonly tunNames: Set<string>) {}

  line(node: N): number | null {
    const off = node?.range?.[0];
    return off === undefined ? null : this.lc.linePos(off).line;
  }

  fail(node: N, key: string | null, text: string): never {
    throw ConfigError.at(this.file, this.line(node), key, text);
  }

  got(node: N): string {
    if (!node || (isScalar(node) && node.value === null)) return 'nothing';
    if (isMap(node)) return 'a mapping';
    if (isSeq(node)) return 'a list';
    if (isScalar(node)) {
      const v = node.value;
      if (typeof v === 'string') return JSON.stringify(v);
      return node.source !== undefined ? String(node.source) : String(v);
    }
    return 'an unsupported value';
  }

  expect(node: N, key: string, what: string): never {
    return this.fail(node, key, `expected ${what}, got ${this.got(node)}`);
  }

  check<T>(node: N, key: string, r: Checked<T>): T {
    if (!r.ok) this.expect(node, key, r.expected);
    return r.value;
  }

  isNull(node: N): boolean {
    return !node || (isScalar(node) && node.value === null);
  }

  /** A mapping's entries in order; duplicate and non-scalar keys are errors. */
  entries(node: N, path: string, allowed: string[] | null, dupText = 'duplicate key'): Entry[] {
    if (isAlias(node)) this.fail(node, path, 'aliases are not supported');
    if (!isMap(node)) this.expect(node, path, 'a mapping');
    const out: Entry[] = [];
    const names = new Set<string>();
    for (const pair of node.items) {
      const k = pair.key as N;
      if (!isScalar(k) || (typeof k.value !== 'string' && typeof k.value !== 'number')) {
        this.fail(k ?? node, path, `expected a name as key, got ${this.got(k)}`);
      }
      const name = typeof k.value === 'string' ? k.value : String(k.source ?? k.value);
      const keyPath = path ? `${path}.${name}` : name;
      if (allowed && !allowed.includes(name)) {
        this.fail(k, keyPath, `unknown key (expected one of ${allowed.join(', ')})`);
      }
      if (names.has(name)) this.fail(k, keyPath, dupText);
      names.add(name);
      const value = pair.value as N;
      if (isAlias(value)) this.fail(value, keyPath, 'aliases are not supported');
      out.push({ name, keyNode: k, value: value ?? nullAt(k) });
    }
    return out;
  }

  list(node: N, path: string): YamlNode[] {
    if (isAlias(node)) this.fail(node, path, 'aliases are not supported');
    if (!isSeq(node)) this.expect(node, path, 'a list');
    return node.items as YamlNode[];
  }

  str(node: N, key: string, what: string): string {
    if (!isScalar(node) || typeof node.value !== 'string') this.expect(node, key, what);
    return node.value;
  }

  bool(node: N, key: string, words: 'yes or no' | 'true or false'): boolean {
    if (isScalar(node)) {
      if (typeof node.value === 'boolean') return node.value;
      if (typeof node.value === 'string') {
        const v = node.value.toLowerCase();
        if (v === 'yes' || v === 'true' || v === 'on') return true;
        if (v === 'no' || v === 'false' || v === 'off') return false;
      }
    }
    return this.expect(node, key, words);
  }

  fdt(node: N, key: string): number {
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isInteger(node.value)
      || (node.source !== undefined && !/^[-+]?(0x[0-9a-f]+|0o[0-7]+|[0-9]+)$/i.test(String(node.source)))) {
      this.expect(node, key, 'an integer number of milliseconds');
    }
    if (node.value > MAX_FDT_MS) this.expect(node, key, `at most ${MAX_FDT_MS} ms`);
    const r = clampFdt(node.value, String(node.source ?? node.value));
    if (r.warning) this.warnings.push(r.warning);
    return r.fdtMs;
  }

  /** Records `addr` in `seen`, failing on a repeat or a clash with `other`. */
  unique(node: N, key: string, addr: string, seen: Map<string, Seen>, what: string,
    other: Map<string, Seen>, otherWhat: string): void {
    const clash = other.get(addr);
    if (clash) this.fail(node, key, `${what} ${addr} is also ${otherWhat} at ${clash.key} (line ${clash.line})`);
    const prev = seen.get(addr);
    if (prev) this.fail(node, key, `duplicate ${what} ${addr}, already at ${prev.key} (line ${prev.line})`);
    seen.set(addr, { key, line: this.line(node) });
  }

  top(root: N): YamlConfig {
    const tunables: MpathdTunables = {};
    const groups: GroupConfig[] = [];
    if (this.isNull(root)) return { tunables, groups, warnings: this.warnings };
    for (const e of this.entries(root, '', TOP_KEYS)) {
      if (e.name === 'FAILURE_DETECTION_TIME') tunables.fdtMs = this.fdt(e.value, e.name);
      else if (e.name === 'FAILBACK') tunables.failback = this.bool(e.value, e.name, 'yes or no');
      else if (e.name === 'TRACK_INTERFACES_ONLY_WITH_GROUPS') {
        tunables.trackInterfacesOnlyWithGroups = this.bool(e.value, e.name, 'yes or no');
      } else if (!this.isNull(e.value)) {
        const gs = this.entries(e.value, 'groups', null, 'duplicate group: two groups on one TUN name');
        for (const g of gs) this.tunNames.add(g.name);
        for (const g of gs) groups.push(this.group(g));
      }
    }
    return { tunables, groups, warnings: this.warnings };
  }

  group(g: Entry): GroupConfig {
    const path = `groups.${g.name}`;
    const ifname = this.check(g.keyNode, path, checkIfName(g.name));
    const cfg: GroupConfig = { ifname, groupname: ifname, interfaces: [], addresses: [], targets: null };
    const es = this.entries(g.value, path, GROUP_KEYS);
    for (const e of es) {
      const key = `${path}.${e.name}`;
      if (e.name === 'groupname') {
        cfg.groupname = this.check(e.value, key, checkGroupName(this.str(e.value, key, 'a group name')));
      } else if (e.name === 'interfaces') {
        cfg.interfaces = this.interfaces(e.value, key, ifname);
      } else if (e.name === 'addresses') {
        if (this.isNull(e.value)) continue;
        for (const n of this.list(e.value, key)) cfg.addresses.push(this.dataAddress(n, key));
      } else if (e.name === 'targets') {
        if (!this.isNull(e.value)) cfg.targets = this.targets(e.value, key);
      }
    }
    if (!es.some((e) => e.name === 'interfaces')) {
      this.fail(g.keyNode, path, 'expected an interfaces mapping with at least one interface');
    }
    const prevName = this.groupnames.get(cfg.groupname);
    if (prevName) this.fail(g.keyNode, path, `groupname ${cfg.groupname} is already used by ${prevName.key} (line ${prevName.line})`);
    this.groupnames.set(cfg.groupname, { key: path, line: this.line(g.keyNode) });
    return cfg;
  }

  interfaces(node: N, path: string, group: string): InterfaceConfig[] {
    const entries: Entry[] = isSeq(node)
      ? this.list(node, path).map((n) => ({ name: this.str(n, path, 'an interface name'), keyNode: n, value: null }))
      : this.entries(node, path, null);
    if (entries.length === 0) this.expect(node, path, 'at least one interface');
    const names = new Set<string>();
    const out: InterfaceConfig[] = [];
    for (const e of entries) {
      const key = `${path}.${e.name}`;
      this.check(e.keyNode, key, checkIfName(e.name));
      if (names.has(e.name)) this.fail(e.keyNode, key, 'duplicate interface');
      names.add(e.name);
      if (this.tunNames.has(e.name)) this.fail(e.keyNode, key, `${e.name} is an IPMP interface (a group's TUN name), not a NIC`);
      const other = this.members.get(e.name);
      if (other) this.fail(e.keyNode, key, `interface ${e.name} is already in ${other.key} (line ${other.line}); an interface belongs to one group`);
      this.members.set(e.name, { key: `groups.${group}`, line: this.line(e.keyNode) });
      out.push(this.iface(e, key));
    }
    return out;
  }

  iface(e: Entry, path: string): InterfaceConfig {
    const cfg: InterfaceConfig = { name: e.name, standby: false, testAddress: null, testAddress6: null };
    if (this.isNull(e.value)) return cfg;
    for (const p of this.entries(e.value, path, IF_KEYS)) {
      const key = `${path}.${p.name}`;
      if (p.name === 'standby') { cfg.standby = this.bool(p.value, key, 'true or false'); continue; }
      if (this.isNull(p.value) || (isScalar(p.value) && p.value.value === 'none')) continue;
      const want6 = p.name === 'test-address6';
      if (want6 && isScalar(p.value) && p.value.value === 'link-local') {
        if (cfg.testAddress6) this.fail(p.value, key, 'expected one IPv6 test address (test-address and test-address6 both give one)');
        cfg.linkLocalTestAddress = true;
        continue;
      }
      const what = want6 ? 'an IPv6 link-local ADDRESS/PREFIXLEN or link-local' : 'ADDRESS/PREFIXLEN';
      const addr = this.check(p.value, key, parsePrefix(this.str(p.value, key, what)));
      if (addr.family === 6 && !isLinkLocal6(addr.address)) this.expect(p.value, key, 'an IPv6 link-local (fe80::/10) test address');
      if (want6 && addr.family !== 6) this.expect(p.value, key, 'an IPv6 link-local ADDRESS/PREFIXLEN or link-local');
      if (addr.family === 6 && (cfg.testAddress6 || cfg.linkLocalTestAddress)) this.fail(p.value, key, 'expected one IPv6 test address (test-address and test-address6 both give one)');
      this.unique(p.value, key, addr.address, this.testAddrs, 'test address', this.dataAddrs, 'a data address');
      if (addr.family === 4) cfg.testAddress = addr; else cfg.testAddress6 = addr;
    }
    return cfg;
  }

  dataAddress(n: YamlNode, key: string): IpPrefix {
    const addr = this.check(n, key, parsePrefix(this.str(n, key, 'ADDRESS/PREFIXLEN')));
    this.unique(n, key, addr.address, this.dataAddrs, 'data address', this.testAddrs, 'a test address');
    return addr;
  }

  targets(node: N, key: string): string[] {
    const items = this.list(node, key);
    if (items.length === 0) this.expect(node, key, 'at least one target (leave targets out for discovery)');
    const out: string[] = [];
    for (const n of items) {
      const addr = canonicalAddress(this.str(n, key, 'an IPv4 or IPv6 address'));
      if (!addr) this.expect(n, key, 'an IPv4 or IPv6 address');
      if (out.includes(addr.address)) this.fail(n, key, `duplicate target ${addr.address}`);
      if (addr.family === 6 && !isLinkLocal6(addr.address)) {
        this.warnings.push(`${this.file}:${this.line(n)}: ${key}: ${addr.address} is not link-local; IPv6 probe targets must be link-local, so it is not used`);
      }
      out.push(addr.address);
    }
    return out;
  }
}

/**
 * The offset of the first collection nested deeper than `max` levels in the parsed (not
 * yet built) token stream, or null. Walks with its own stack, so any depth is safe.
 */
export function tooDeepAt(text: string, max: number): number | null {
  const stack: [CST.Token | undefined, number][] = [];
  for (const doc of new Parser().parse(text)) {
    if (doc.type === 'document') stack.push([doc.value, 0]);
    while (stack.length > 0) {
      const [t, depth] = stack.pop()!;
      if (!t || (t.type !== 'block-map' && t.type !== 'block-seq' && t.type !== 'flow-collection')) continue;
      if (depth + 1 > max) return t.offset;
      for (const it of t.items) {
        stack.push(['key' in it ? it.key ?? undefined : undefined, depth + 1], [it.value, depth + 1]);
      }
    }
  }
  return null;
}

/** Parses the YAML text of `file`. Throws ConfigError. */
export function parseConfigYaml(text: string, file: string): YamlConfig {
  const deep = tooDeepAt(text, MAX_NESTING);
  if (deep !== null) {
    let line = 1;
    for (let i = text.indexOf('\n'); i >= 0 && i < deep; i = text.indexOf('\n', i + 1)) line++;
    throw ConfigError.at(file, line, null, `nesting deeper than ${MAX_NESTING} levels`);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: true });
  const err = doc.errors[0];
  if (err) {
    const line = err.linePos?.[0]?.line ?? null;
    const msg = (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw ConfigError.at(file, line, null, `YAML syntax error: ${msg}`);
  }
  return new Walker(file, lc, new Set()).top(doc.contents as N);
}
