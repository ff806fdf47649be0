import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ipmpMain, parseVerb } from '../../../src/cli/ipmp.js';
import { UsageError } from '../../../src/cli/common.js';
import { ControlUnavailableError, fakeDaemon, run, snapshotDaemon } from './fake.js';
import { SNAP } from './fixtures.js';

describe('ipmp verb parsing', () => {
  const good: [string, string[], unknown][] = [
    ['add-ipmp', ['-i', 'eth0,eth1', 'ipmp0'], { op: 'add-ipmp', group: 'ipmp0', interfaces: ['eth0', 'eth1'] }],
    ['add-ipmp', ['-i', 'eth0', '-i', 'enp0s31f6abcdef', 'ipmp0'], { op: 'add-ipmp', group: 'ipmp0', interfaces: ['eth0', 'enp0s31f6abcdef'] }],
    ['remove-ipmp', ['-ieth2', 'ipmp0'], { op: 'remove-ipmp', group: 'ipmp0', interfaces: ['eth2'] }],
    ['create-addr', ['-a', '198.18.0.12/24', 'ipmp0'], { op: 'create-addr', group: 'ipmp0', address: '198.18.0.12/24' }],
    ['create-addr', ['-a', '2001:db8::10/64', 'ipmp0'], { op: 'create-addr', group: 'ipmp0', address: '2001:db8::10/64' }],
    ['delete-addr', ['198.18.0.12/24', 'ipmp0'], { op: 'delete-addr', group: 'ipmp0', address: '198.18.0.12/24' }],
    ['set-ifprop', ['-p', 'standby=on', 'eth2'], { op: 'set-ifprop', ifname: 'eth2', prop: 'standby', value: 'on' }],
    ['set-ifprop', ['-p', 'standby=OFF', 'eth2'], { op: 'set-ifprop', ifname: 'eth2', prop: 'standby', value: 'off' }],
    ['set-ifprop', ['-p', 'test-address=198.18.0.102/24', 'eth2'], { op: 'set-ifprop', ifname: 'eth2', prop: 'test-address', value: '198.18.0.102/24' }],
    ['set-ifprop', ['-p', 'test-address=none', 'eth2'], { op: 'set-ifprop', ifname: 'eth2', prop: 'test-address', value: 'none' }],
    ['set-ifprop', ['-p', 'test-address=fe80::1:2/64', 'eth2'], { op: 'set-ifprop', ifname: 'eth2', prop: 'test-address', value: 'fe80::1:2/64' }],
    ['set-ifprop', ['-p', 'test-address=Link-Local', 'eth2'], { op: 'set-ifprop', ifname: 'eth2', prop: 'test-address', value: 'link-local' }],
    ['create-addr', ['--persist', '-a', '198.18.0.12/24', 'ipmp0'], { op: 'create-addr', group: 'ipmp0', address: '198.18.0.12/24', persist: true }],
    ['remove-ipmp', ['-i', 'eth2', 'ipmp0', '--persist'], { op: 'remove-ipmp', group: 'ipmp0', interfaces: ['eth2'], persist: true }],
    ['set-ifprop', ['-p', 'standby=on', '--persist', 'eth2'], { op: 'set-ifprop', ifname: 'eth2', prop: 'standby', value: 'on', persist: true }],
  ];
  for (const [verb, argv, req] of good) {
    it(`${verb} ${argv.join(' ')}`, () => assert.deepEqual(parseVerb(verb, argv), req));
  }

  const bad: [string, string[], RegExp][] = [
    ['add-ipmp', ['ipmp0'], /-i IF\[,IF\.\.\.\] is required/],
    ['add-ipmp', ['-i', 'eth0'], /missing GROUP/],
    ['add-ipmp', ['-i', 'eth0', 'ipmp0', 'x'], /unexpected operand 'x'/],
    ['add-ipmp', ['-i', 'enp0s31f6abcdefg', 'ipmp0'], /longer than 15 characters/],
    ['add-ipmp', ['-i', 'eth0,,eth1', 'ipmp0'], /empty interface name/],
    ['add-ipmp', ['-i', 'eth0,eth0', 'ipmp0'], /named twice/],
    ['add-ipmp', ['-i', 'eth0', 'ipmp/0'], /invalid interface name/],
    ['create-addr', ['ipmp0'], /exactly one -a/],
    ['create-addr', ['-a', '198.18.0.12', 'ipmp0'], /lacks a prefix length/],
    ['create-addr', ['-a', '198.18.0.300/24', 'ipmp0'], /invalid address '198\.18\.0\.300'/],
    ['create-addr', ['-a', '198.18.0.1/33', 'ipmp0'], /invalid prefix length '33' for IPv4 \(0-32\)/],
    ['create-addr', ['-a', '2001:db8::1/129', 'ipmp0'], /for IPv6 \(0-128\)/],
    ['create-addr', ['-a', '2001:db8::1/', 'ipmp0'], /invalid prefix length ''/],
    ['delete-addr', ['198.18.0.12/24'], /missing GROUP/],
    ['set-ifprop', ['eth2'], /exactly one -p/],
    ['set-ifprop', ['-p', 'standby', 'eth2'], /not PROP=VALUE/],
    ['set-ifprop', ['-p', 'standby=maybe', 'eth2'], /standby must be on or off/],
    ['set-ifprop', ['-p', 'mtu=1500', 'eth2'], /unknown property 'mtu'/],
    ['set-ifprop', ['-p', 'test-address=fe80::1', 'eth2'], /lacks a prefix length/],
    ['set-ifprop', ['-p', 'test-address=2001:db8::5/64', 'eth2'], /^set-ifprop: an IPv6 test address must be link-local \(fe80::\/10\), not '2001:db8::5'$/],
    ['set-ifprop', ['-p', 'test-address=fe80::zz/64', 'eth2'], /invalid address 'fe80::zz'/],
    ['set-ifprop', ['-p', 'standby=on'], /missing IF/],
  ];
  for (const [verb, argv, re] of bad) {
    it(`rejects ${verb} ${argv.join(' ')}`, () => {
      assert.throws(() => parseVerb(verb, argv), (e: unknown) => e instanceof UsageError && re.test(e.message));
    });
  }
});

describe('ipmp command', () => {
  it('sends the request and exits 0', async () => {
    const d = snapshotDaemon(SNAP);
    const r = await run(ipmpMain, ['--socket', '/tmp/s', 'create-addr', '-a', '198.18.0.20/24', 'ipmp0'], d);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
    assert.deepEqual(d.connects, ['/tmp/s']);
    assert.deepEqual(d.requests.at(-1), { op: 'create-addr', group: 'ipmp0', address: '198.18.0.20/24' });
  });

  it('reports a refusal with the verb, exit 1', async () => {
    const d = snapshotDaemon(SNAP, {}, () => ({ ok: false, error: 'permission denied', code: 'EPERM' }));
    const r = await run(ipmpMain, ['add-ipmp', '-i', 'eth7', 'ipmp0'], d);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'ipmp: add-ipmp: permission denied\n');
  });

  it('--persist: a change written to the file exits 0 silently', async () => {
    const d = snapshotDaemon(SNAP, {}, () => ({ ok: true, result: { ok: true, persisted: true, file: '/etc/ipmp/ipmp.yaml' } }));
    const r = await run(ipmpMain, ['--persist', 'create-addr', '-a', '198.18.0.20/24', 'ipmp0'], d);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
    assert.deepEqual(d.requests.at(-1), { op: 'create-addr', group: 'ipmp0', address: '198.18.0.20/24', persist: true });
  });

  it('--persist: a change applied but not written exits 1 with the daemon\'s reason', async () => {
    const why = '/etc/ipmp/ipmp.yaml changed on disk since it was loaded (reload it with SIGHUP first)';
    const d = snapshotDaemon(SNAP, {}, () => ({ ok: true, result: { ok: true, persisted: false, warning: why } }));
    const r = await run(ipmpMain, ['create-addr', '-a', '198.18.0.20/24', '--persist', 'ipmp0'], d);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `ipmp: create-addr applied, but not persisted: ${why}\n`);
    const old = snapshotDaemon(SNAP, {}, () => ({ ok: true, result: { ok: true } }));
    const r2 = await run(ipmpMain, ['create-addr', '-a', '198.18.0.20/24', '--persist', 'ipmp0'], old);
    assert.equal(r2.code, 1, 'a reply that does not confirm the write is not success');
    assert.match(r2.stderr, /^ipmp: create-addr applied, but not persisted: ipmpd did not confirm the write\n$/);
  });

  it('--persist is refused for lab and bench', async () => {
    const r = await run(ipmpMain, ['--persist', 'lab', 'status'], snapshotDaemon(SNAP));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--persist applies to the live verbs only/);
  });

  it('usage errors exit 2 with the verb usage and never connect', async () => {
    const d = snapshotDaemon(SNAP);
    const r = await run(ipmpMain, ['delete-addr', 'bogus', 'ipmp0'], d);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "ipmp: 'bogus' lacks a prefix length (ADDR/PLEN)\nusage: ipmp delete-addr [--persist] ADDR/PLEN GROUP\n");
    assert.equal(d.connects.length, 0);
  });

  it('rejects an unknown verb and a missing verb', async () => {
    const d = snapshotDaemon(SNAP);
    const a = await run(ipmpMain, ['frobnicate'], d);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /^ipmp: unknown verb 'frobnicate'\nusage: ipmp add-ipmp/);
    const b = await run(ipmpMain, [], d);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /^ipmp: a verb is required\n/);
  });

  it('says so when the daemon cannot be contacted', async () => {
    const d = fakeDaemon(() => ({ ok: true, result: {} }), {
      connectError: new ControlUnavailableError('connect ECONNREFUSED', '/x', 'ECONNREFUSED'),
    });
    const r = await run(ipmpMain, ['set-ifprop', '-p', 'standby=on', 'eth2'], d);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'ipmp: cannot contact ipmpd -- is IPMP in use?\n');
  });

  it('--help lists every verb', async () => {
    const r = await run(ipmpMain, ['--help'], snapshotDaemon(SNAP));
    assert.equal(r.code, 0);
    for (const verb of ['add-ipmp', 'remove-ipmp', 'create-addr', 'delete-addr', 'set-ifprop', 'lab', 'bench']) {
      assert.ok(r.stdout.includes(`ipmp ${verb}`), verb);
    }
  });

  it('VERB --help prints that verb\'s usage', async () => {
    const r = await run(ipmpMain, ['set-ifprop', '--help'], snapshotDaemon(SNAP));
    assert.equal(r.code, 0);
    assert.match(r.stdout, /standby=on\|off/);
  });
});
