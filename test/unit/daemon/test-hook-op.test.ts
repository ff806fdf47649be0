// The control socket's test-hook op: refused unless ipmpd runs with IPMPD_TEST_HOOKS=1, for
// the forwarding hooks as for the probe worker's.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Daemon } from '../../../src/daemon/daemon.js';
import { validateRequest } from '../../../src/daemon/control-server.js';

const CONFIG = { fdtMs: 10000, failback: true, trackInterfacesOnlyWithGroups: true, groups: [] };

describe('test-hook op', () => {
  const saved = process.env.IPMPD_TEST_HOOKS;
  afterEach(() => {
    if (saved === undefined) delete process.env.IPMPD_TEST_HOOKS;
    else process.env.IPMPD_TEST_HOOKS = saved;
  });

  for (const hook of ['forwarding-stall', 'forwarding-crash', 'probe-worker-crash', 'probe-worker-crash-loop', 'probe-worker-crash-loop-end'] as const) {
    it(`refuses ${hook} without IPMPD_TEST_HOOKS=1`, async () => {
      for (const env of [undefined, '', '0', '/tmp/hook-file']) {
        if (env === undefined) delete process.env.IPMPD_TEST_HOOKS;
        else process.env.IPMPD_TEST_HOOKS = env;
        const d = new Daemon({ config: CONFIG, socketPath: '', log: () => undefined });
        await assert.rejects(d.handle({ id: 1, op: 'test-hook', group: 'ipmp0', hook }),
          (e: Error & { code?: string }) => e.code === 'EINVAL' && /^test hooks are off/.test(e.message));
      }
    });
  }

  it('with IPMPD_TEST_HOOKS=1 gets past the gate to the group lookup', async () => {
    process.env.IPMPD_TEST_HOOKS = '1';
    const d = new Daemon({ config: CONFIG, socketPath: '', log: () => undefined });
    await assert.rejects(d.handle({ id: 1, op: 'test-hook', group: 'ipmp0', hook: 'forwarding-crash' }),
      (e: Error & { code?: string }) => e.code === 'EUNKGROUP');
  });

  it('is a well-formed request for the forwarding hooks', () => {
    const v = validateRequest({ id: 3, op: 'test-hook', group: 'ipmp0', hook: 'forwarding-stall' });
    assert.equal(v.ok, true);
  });
});
