import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ifMpadmMain } from '../../../src/cli/if_mpadm.js';
import type { ErrorCode } from '../../../src/daemon/protocol.js';
import { ControlUnavailableError, fakeDaemon, run, snapshotDaemon } from './fake.js';
import { SNAP } from './fixtures.js';

const refuse = (code: ErrorCode, error = 'refused') => () => ({ ok: false as const, error, code });

describe('if_mpadm', () => {
  it('-d offlines an interface', async () => {
    const d = snapshotDaemon(SNAP);
    const r = await run(ifMpadmMain, ['-d', 'eth1'], d);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
    assert.deepEqual(d.requests.map((q) => q.op), ['ping', 'snapshot', 'offline']);
    assert.deepEqual(d.requests[2], { op: 'offline', ifname: 'eth1' });
    assert.equal(d.closed, 1);
  });

  it('-r undoes an offline', async () => {
    const d = snapshotDaemon(SNAP);
    const r = await run(ifMpadmMain, ['-r', 'eth3'], d);
    assert.equal(r.code, 0);
    assert.deepEqual(d.requests[2], { op: 'undo-offline', ifname: 'eth3' });
  });

  const cases: [string, string[], ((q: unknown) => unknown) | undefined, string][] = [
    ['already offline (from the snapshot)', ['-d', 'eth3'], undefined, 'interface eth3 is already offline'],
    ['not offline (from the snapshot)', ['-r', 'eth1'], undefined, 'interface eth1 is not offline'],
    ['unknown interface', ['-d', 'nosuch0'], undefined, 'not a physical interface or not in an IPMP group'],
    ['EMINRED', ['-d', 'eth1'], refuse('EMINRED'), 'cannot offline eth1: no other functioning interfaces are in its IPMP group'],
    ['EALREADY', ['-d', 'eth1'], refuse('EALREADY'), 'interface eth1 is already offline'],
    ['ENOTOFFLINE', ['-r', 'eth3'], refuse('ENOTOFFLINE'), 'interface eth3 is not offline'],
    ['EINVAL on undo', ['-r', 'eth3'], refuse('EINVAL'), 'interface eth3 is not offline'],
    ['EUNKIF', ['-d', 'eth1'], refuse('EUNKIF'), 'not a physical interface or not in an IPMP group'],
    ['EHWADDRDUP', ['-r', 'eth3'], refuse('EHWADDRDUP'), 'interface has duplicate hardware address'],
    ['EPERM', ['-d', 'eth1'], refuse('EPERM', 'permission denied'), 'permission denied'],
    ['another code keeps the daemon text', ['-d', 'eth1'], refuse('EFAILED', 'something odd'), 'something odd'],
  ];
  for (const [name, argv, handler, text] of cases) {
    it(`refusal: ${name}`, async () => {
      const d = snapshotDaemon(SNAP, {}, handler as never);
      const r = await run(ifMpadmMain, argv, d);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `if_mpadm: fatal: ${text}\n`);
      assert.equal(r.stdout, '');
    });
  }

  it('says so when the daemon cannot be contacted', async () => {
    const d = fakeDaemon(() => ({ ok: true, result: {} }), {
      connectError: new ControlUnavailableError('connect ENOENT', '/x', 'ENOENT'),
    });
    const r = await run(ifMpadmMain, ['-d', 'eth0'], d);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'if_mpadm: fatal: cannot contact ipmpd -- is IPMP in use?\n');
  });

  const usage: [string[], string][] = [
    [[], 'one of -d or -r is required'],
    [['-d'], "option requires an argument -- 'd'"],
    [['-d', 'eth0', '-r', 'eth1'], 'only one of -d or -r may be specified'],
    [['-d', 'eth0', 'eth1'], "unexpected operand 'eth1'"],
    [['-x', 'eth0'], "illegal option -- 'x'"],
  ];
  for (const [argv, msg] of usage) {
    it(`usage error: if_mpadm ${argv.join(' ')}`, async () => {
      const d = snapshotDaemon(SNAP);
      const r = await run(ifMpadmMain, argv, d);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `if_mpadm: ${msg}\nusage: if_mpadm -d | -r IFNAME\n`);
      assert.equal(d.connects.length, 0);
    });
  }

  it('--help exits 0', async () => {
    const r = await run(ifMpadmMain, ['--help'], snapshotDaemon(SNAP));
    assert.equal(r.code, 0);
    assert.match(r.stdout, /-d IFNAME/);
  });
});
