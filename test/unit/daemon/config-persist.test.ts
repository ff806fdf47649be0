import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { editConfigText, EditError } from '../../../src/daemon/config-edit.js';
import type { ConfigEdit } from '../../../src/daemon/config-edit.js';
import { applyEdit, persistEdit } from '../../../src/daemon/config-persist.js';
import { buildConfig, diffConfig, parsePrefix } from '../../../src/daemon/config.js';
import type { DaemonConfig, InterfaceConfig, IpPrefix } from '../../../src/daemon/config.js';

const FILE = `# Daemon tunables
FAILBACK: yes   # aligned comment

groups:
  ipmp0:                          # the IPMP interface
    groupname: web                # optional
    interfaces:                   # underlying NICs
      eth0: { test-address: 198.18.0.100/24 }   # flow map
      eth1:
      eth2:
        standby: true
        test-address: 198.18.0.102/24  # block map
    addresses:                    # data addresses
      - 198.18.0.10/24
      - 198.18.0.11/24   # second
    targets: [198.18.0.1]
  ipmp1:
    interfaces: [eth5, eth6]
    addresses:
  ipmp2:
    interfaces:
    - eth7
    - eth8   # listed
    addresses: [198.18.2.1/24]
`;

const P = (s: string): IpPrefix => { const p = parsePrefix(s); assert.ok(p.ok); return p.value; };
const nic = (name: string, o: Partial<InterfaceConfig> = {}): InterfaceConfig => ({ name, standby: false, testAddress: null, testAddress6: null, ...o });
const load = (text: string): DaemonConfig => buildConfig(text, 'ipmp.yaml', null, null).config;

/**
 * Applies `edit`; checks the lines that differ from FILE are exactly `removed` → `added`
 * (everything else byte for byte), and that the result loads as FILE's configuration with the edit.
 */
function check(edit: ConfigEdit, removed: string[], added: string[]): string {
  const out = editConfigText(FILE, edit);
  const a = FILE.split('\n');
  const b = out.split('\n');
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  let j = 0;
  while (j < a.length - i && j < b.length - i && a[a.length - 1 - j] === b[b.length - 1 - j]) j++;
  assert.deepEqual({ removed: a.slice(i, a.length - j), added: b.slice(i, b.length - j) }, { removed, added }, out);
  const base = load(FILE);
  const expected = { ...base, groups: base.groups.map((g) => (g.ifname === edit.group ? applyEdit(g, edit) : g)) };
  assert.deepEqual(diffConfig(expected, load(out)), [], 'the new text loads as the running configuration');
  return out;
}

describe('config-edit: the YAML file rewritten in place', () => {
  it('create-addr appends to a block list, a flow list, an empty key, and adds a missing key', () => {
    check({ op: 'create-addr', group: 'ipmp0', address: P('198.18.0.12/24') }, [], ['      - 198.18.0.12/24']);
    check({ op: 'create-addr', group: 'ipmp2', address: P('2001:db8::12/64') },
      ['    addresses: [198.18.2.1/24]'], ['    addresses: [198.18.2.1/24, 2001:db8::12/64]']);
    check({ op: 'create-addr', group: 'ipmp1', address: P('198.18.1.1/24') }, [], ['      - 198.18.1.1/24']);
    const noKey = FILE.replace('    addresses: [198.18.2.1/24]\n', '');
    const out = editConfigText(noKey, { op: 'create-addr', group: 'ipmp2', address: P('198.18.2.5/24') });
    assert.equal(out, `${noKey}    addresses:\n      - 198.18.2.5/24\n`);
  });

  it('create-addr of an address already in the file changes nothing; another prefix length replaces it', () => {
    assert.equal(editConfigText(FILE, { op: 'create-addr', group: 'ipmp0', address: P('198.18.0.10/24') }), FILE);
    check({ op: 'create-addr', group: 'ipmp0', address: P('198.18.0.10/25') }, ['      - 198.18.0.10/24'], ['      - 198.18.0.10/25']);
  });

  it('delete-addr removes the item line with its comment, or the flow item with its comma', () => {
    check({ op: 'delete-addr', group: 'ipmp0', address: P('198.18.0.11/24') }, ['      - 198.18.0.11/24   # second'], []);
    check({ op: 'delete-addr', group: 'ipmp2', address: P('198.18.2.1/24') }, ['    addresses: [198.18.2.1/24]'], ['    addresses: []']);
    assert.equal(editConfigText(FILE, { op: 'delete-addr', group: 'ipmp0', address: P('198.18.9.9/24') }), FILE);
  });

  it('add-ipmp adds a mapping key or a list item', () => {
    check({ op: 'add-ipmp', group: 'ipmp0', interfaces: [nic('eth3')] }, [], ['      eth3:']);
    check({ op: 'add-ipmp', group: 'ipmp1', interfaces: [nic('eth9'), nic('eth10')] },
      ['    interfaces: [eth5, eth6]'], ['    interfaces: [eth5, eth6, eth9, eth10]']);
    check({ op: 'add-ipmp', group: 'ipmp2', interfaces: [nic('eth9')] }, [], ['    - eth9']);
  });

  it('add-ipmp of a NIC the file lists with properties makes the entry match the running NIC', () => {
    check({ op: 'add-ipmp', group: 'ipmp0', interfaces: [nic('eth2')] },
      ['        standby: true', '        test-address: 198.18.0.102/24  # block map'], []);
  });

  it('remove-ipmp removes a NIC with its nested properties, or from a list', () => {
    check({ op: 'remove-ipmp', group: 'ipmp0', interfaces: ['eth2'] },
      ['      eth2:', '        standby: true', '        test-address: 198.18.0.102/24  # block map'], []);
    check({ op: 'remove-ipmp', group: 'ipmp0', interfaces: ['eth0'] }, ['      eth0: { test-address: 198.18.0.100/24 }   # flow map'], []);
    check({ op: 'remove-ipmp', group: 'ipmp1', interfaces: ['eth6'] }, ['    interfaces: [eth5, eth6]'], ['    interfaces: [eth5]']);
    check({ op: 'remove-ipmp', group: 'ipmp2', interfaces: ['eth7'] }, ['    - eth7'], []);
  });

  it('set-ifprop standby on/off in a flow map, a block map, an empty entry', () => {
    check({ op: 'set-ifprop', group: 'ipmp0', prop: 'standby', interface: nic('eth0', { standby: true, testAddress: P('198.18.0.100/24') }) },
      ['      eth0: { test-address: 198.18.0.100/24 }   # flow map'], ['      eth0: { test-address: 198.18.0.100/24, standby: true }   # flow map']);
    check({ op: 'set-ifprop', group: 'ipmp0', prop: 'standby', interface: nic('eth1', { standby: true }) }, ['      eth1:'], ['      eth1: { standby: true }']);
    check({ op: 'set-ifprop', group: 'ipmp0', prop: 'standby', interface: nic('eth2', { testAddress: P('198.18.0.102/24') }) }, ['        standby: true'], []);
    // Already so: nothing changes (the admin's spelling stays).
    assert.equal(editConfigText(FILE, { op: 'set-ifprop', group: 'ipmp0', prop: 'standby', interface: nic('eth2', { standby: true }) }), FILE);
    assert.equal(editConfigText(FILE, { op: 'set-ifprop', group: 'ipmp0', prop: 'standby', interface: nic('eth1') }), FILE);
  });

  it('set-ifprop on a NIC of a list turns the list into a mapping', () => {
    check({ op: 'set-ifprop', group: 'ipmp1', prop: 'standby', interface: nic('eth6', { standby: true }) },
      ['    interfaces: [eth5, eth6]'], ['    interfaces: { eth5, eth6: { standby: true } }']);
    check({ op: 'set-ifprop', group: 'ipmp2', prop: 'standby', interface: nic('eth8', { standby: true }) },
      ['    - eth7', '    - eth8   # listed'], ['      eth7:', '      eth8: { standby: true }   # listed']);
  });

  it('set-ifprop test-address: set, replace, link-local, none', () => {
    check({ op: 'set-ifprop', group: 'ipmp0', prop: 'test-address', interface: nic('eth0', { testAddress: P('198.18.0.110/24') }) },
      ['      eth0: { test-address: 198.18.0.100/24 }   # flow map'], ['      eth0: { test-address: 198.18.0.110/24 }   # flow map']);
    check({ op: 'set-ifprop', group: 'ipmp0', prop: 'test-address', interface: nic('eth1', { testAddress: P('198.18.0.101/24') }) },
      ['      eth1:'], ['      eth1: { test-address: 198.18.0.101/24 }']);
    check({ op: 'set-ifprop', group: 'ipmp0', prop: 'test-address', interface: nic('eth2', { standby: true, testAddress: P('198.18.0.102/24'), linkLocalTestAddress: true }) },
      [], ['        test-address6: link-local']);
    check({ op: 'set-ifprop', group: 'ipmp0', prop: 'test-address', interface: nic('eth0') },
      ['      eth0: { test-address: 198.18.0.100/24 }   # flow map'], ['      eth0:   # flow map']);
    check({ op: 'set-ifprop', group: 'ipmp0', prop: 'test-address', interface: nic('eth2', { standby: true }) },
      ['        test-address: 198.18.0.102/24  # block map'], []);
  });

  it('an IPv6 test address written under test-address moves to test-address6 when IPv4 takes test-address', () => {
    const text = 'groups:\n  ipmp0:\n    interfaces:\n      eth0: { test-address: fe80::1/64 }\n';
    const out = editConfigText(text, {
      op: 'set-ifprop', group: 'ipmp0', prop: 'test-address', interface: nic('eth0', { testAddress: P('198.18.0.100/24'), testAddress6: P('fe80::1/64') }),
    });
    assert.equal(out, 'groups:\n  ipmp0:\n    interfaces:\n      eth0: { test-address: 198.18.0.100/24, test-address6: fe80::1/64 }\n');
  });

  it('a group written as one flow map, quoted keys, and empty {} entries', () => {
    const flow = 'groups:\n  ipmp0: { interfaces: { eth0: {}, "eth1": {} } }   # one line\n';
    const added = editConfigText(flow, { op: 'create-addr', group: 'ipmp0', address: P('198.18.0.12/24') });
    assert.equal(added, 'groups:\n  ipmp0: { interfaces: { eth0: {}, "eth1": {} }, addresses: [198.18.0.12/24] }   # one line\n');
    const standby = editConfigText(flow, { op: 'set-ifprop', group: 'ipmp0', prop: 'standby', interface: nic('eth1', { standby: true }) });
    assert.equal(standby, 'groups:\n  ipmp0: { interfaces: { eth0: {}, "eth1": {standby: true} } }   # one line\n');
    const removed = editConfigText(flow, { op: 'remove-ipmp', group: 'ipmp0', interfaces: ['eth0'] });
    assert.equal(removed, 'groups:\n  ipmp0: { interfaces: { "eth1": {} } }   # one line\n');
    for (const out of [added, standby, removed]) load(out);
  });

  it('a file without a final newline, and CRLF line ends', () => {
    const text = 'groups:\n  ipmp0:\n    interfaces:\n      eth0:';
    assert.equal(editConfigText(text, { op: 'add-ipmp', group: 'ipmp0', interfaces: [nic('eth1')] }), `${text}\n      eth1:\n`);
    const crlf = 'groups:\r\n  ipmp0:\r\n    interfaces:\r\n      eth0:\r\n    addresses:\r\n      - 198.18.0.10/24\r\n';
    assert.equal(editConfigText(crlf, { op: 'create-addr', group: 'ipmp0', address: P('198.18.0.11/24') }), `${crlf}      - 198.18.0.11/24\r\n`);
  });

  it('refuses a group or NIC the file does not have', () => {
    assert.throws(() => editConfigText(FILE, { op: 'create-addr', group: 'ipmp9', address: P('198.18.0.12/24') }),
      (e: unknown) => e instanceof EditError && e.message === 'has no group ipmp9 under groups');
    assert.throws(() => editConfigText(FILE, { op: 'set-ifprop', group: 'ipmp0', prop: 'standby', interface: nic('eth4', { standby: true }) }),
      (e: unknown) => e instanceof EditError && e.message === 'has no interface eth4 in groups.ipmp0.interfaces');
  });
});

describe('config-persist: the file on disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipmp-persist-'));
  after(() => { chmodSync(dir, 0o700); rmSync(dir, { recursive: true, force: true }); });
  let n = 0;
  const fresh = (): { path: string; base: DaemonConfig } => {
    const path = join(dir, `ipmp${n++}.yaml`);
    writeFileSync(path, FILE, { mode: 0o640 });
    chmodSync(path, 0o640);
    return { path, base: load(FILE) };
  };
  const add12: ConfigEdit = { op: 'create-addr', group: 'ipmp0', address: P('198.18.0.12/24') };

  it('rewrites the file atomically with its mode, and returns the new reload base', () => {
    const { path, base } = fresh();
    const r = persistEdit({ path, text: FILE }, base, add12);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.changed, true);
    assert.equal(readFileSync(path, 'utf8'), r.text);
    assert.ok(r.text.includes('      - 198.18.0.12/24\n'));
    assert.equal(statSync(path).mode & 0o777, 0o640);
    assert.deepEqual(diffConfig(r.config, load(r.text)), []);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
  });

  it('refuses when the file changed on disk since it was loaded, and leaves it alone', () => {
    const { path, base } = fresh();
    const edited = FILE.replace('FAILBACK: yes', 'FAILBACK: no');
    writeFileSync(path, edited);
    const r = persistEdit({ path, text: FILE }, base, add12);
    assert.deepEqual(r, { ok: false, reason: `${path} changed on disk since it was loaded (reload it with SIGHUP first)` });
    assert.equal(readFileSync(path, 'utf8'), edited);
    const stale = persistEdit({ path, text: null }, base, add12);
    assert.equal(stale.ok, false);
  });

  it('refuses when the directory is not writable, and leaves the file alone', () => {
    const { path } = fresh();
    // Root writes anyway: then the attempt runs in a child as nobody, who may read but not write.
    const root = process.getuid?.() === 0;
    chmodSync(dir, root ? 0o755 : 0o500);
    chmodSync(path, 0o644);
    const mod = new URL('../../../src/daemon/config-persist.js', import.meta.url).href;
    const cfg = new URL('../../../src/daemon/config.js', import.meta.url).href;
    const script = `const { persistEdit } = await import(${JSON.stringify(mod)});
      const { buildConfig, parsePrefix } = await import(${JSON.stringify(cfg)});
      const fs = await import('node:fs');
      const text = fs.readFileSync(${JSON.stringify(path)}, 'utf8');
      const r = persistEdit({ path: ${JSON.stringify(path)}, text }, buildConfig(text, 'f', null, null).config,
        { op: 'create-addr', group: 'ipmp0', address: parsePrefix('198.18.0.12/24').value });
      process.stdout.write(JSON.stringify(r));`;
    try {
      const c = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8', timeout: 20_000, ...(root ? { uid: 65534, gid: 65534 } : {}),
      });
      assert.equal(c.status, 0, c.stderr);
      const r = JSON.parse(c.stdout) as { ok: boolean; reason?: string };
      assert.equal(r.ok, false);
      assert.match(r.reason ?? '', new RegExp(`^${path} cannot be rewritten \\(EACCES: permission denied`));
    } finally {
      chmodSync(dir, 0o700);
    }
    assert.equal(readFileSync(path, 'utf8'), FILE);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  });

  it('refuses when the write fails, and leaves the file alone', () => {
    const { path, base } = fresh();
    const r = persistEdit({ path, text: FILE }, base, add12, () => { throw new Error("EACCES: permission denied, open '/x'"); });
    assert.deepEqual(r, { ok: false, reason: `${path} cannot be rewritten (EACCES: permission denied, open '/x')` });
    assert.equal(readFileSync(path, 'utf8'), FILE);
  });

  it('refuses a change the new file would not load with (the last NIC removed)', () => {
    const { path, base } = fresh();
    const r = persistEdit({ path, text: FILE }, base, { op: 'remove-ipmp', group: 'ipmp1', interfaces: ['eth5', 'eth6'] });
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, new RegExp(`^${path} would not load after the change \\(.*ipmp1.interfaces: expected at least one interface`));
    assert.equal(readFileSync(path, 'utf8'), FILE);
  });

  it('refuses set-ifprop on a NIC the file does not list; nothing to write when the file already holds the change', () => {
    const { path, base } = fresh();
    const r = persistEdit({ path, text: FILE }, base, { op: 'set-ifprop', group: 'ipmp0', prop: 'standby', interface: nic('eth4', { standby: true }) });
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /has no interface eth4 in groups\.ipmp0\.interfaces \(add it with add-ipmp --persist first\)$/);
    const same = persistEdit({ path, text: FILE }, base, { op: 'create-addr', group: 'ipmp0', address: P('198.18.0.10/24') });
    assert.ok(same.ok && !same.changed);
  });

  it('refuses without a configuration file', () => {
    assert.deepEqual(persistEdit(null, load(FILE), add12), { ok: false, reason: 'ipmpd was started without a configuration file' });
  });
});
