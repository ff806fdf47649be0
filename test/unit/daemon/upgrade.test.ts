/**
 * The pure parts of in-place re-execution and privileges: the handover's parsing (every
 * malformed field named, the variable removed once read), the privilege plan for each way
 * the daemon can be started, and the control socket directory check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HANDOVER_ENV, handoverFds, parseHandover, takeHandover, type Handover } from '../../../src/daemon/upgrade.js';
import { KEEP_CAPS, checkSocketDir, planPrivileges } from '../../../src/daemon/privileges.js';
import type { CapState } from '../../../src/io/native.js';

const H: Handover = {
  v: 1, reason: 'upgrade', control: 9,
  groups: [{ tun: 'ipmp0', tunFd: 20, nics: [{ name: 'eth0', ifindex: 2, fd: 21 }, { name: 'eth1', ifindex: 3, fd: 22 }],
    nd: { fd: 21, ifindex: 2, macs: ['33:33:00:00:00:01'] } }],
};

test('a handover round-trips and names its descriptors once each', () => {
  assert.deepEqual(parseHandover(JSON.stringify(H)), H);
  assert.deepEqual(handoverFds(H).sort((a, b) => a - b), [9, 20, 21, 22]);
});

test('a malformed handover is refused with what is wrong', () => {
  const bad = (h: unknown): string => {
    try { parseHandover(typeof h === 'string' ? h : JSON.stringify(h)); } catch (e) { return (e as Error).message; }
    return 'accepted';
  };
  assert.equal(bad('{'), `${HANDOVER_ENV}: not JSON`);
  assert.equal(bad({ ...H, v: 2 }), `${HANDOVER_ENV}: unknown version`);
  assert.equal(bad({ ...H, reason: 'x' }), `${HANDOVER_ENV}: bad reason`);
  assert.equal(bad({ ...H, control: 1 }), `${HANDOVER_ENV}: bad control descriptor`, 'standard descriptors are never handed over');
  assert.equal(bad({ ...H, groups: [{ ...H.groups[0], tunFd: -1 }] }), `${HANDOVER_ENV}: bad group entry`);
  assert.equal(bad({ ...H, groups: [{ ...H.groups[0], tun: 'a'.repeat(16) }] }), `${HANDOVER_ENV}: bad group entry`);
  assert.equal(bad({ ...H, groups: [{ ...H.groups[0], nics: [{ name: 'eth0', ifindex: 2, fd: 2.5 }] }] }),
    `${HANDOVER_ENV}: bad interface entry in ipmp0`);
  assert.equal(bad({ ...H, config: { groups: 'x' } }), `${HANDOVER_ENV}: bad configuration`);
});

test('takeHandover removes the variable, so no child process sees it', () => {
  const env: NodeJS.ProcessEnv = { [HANDOVER_ENV]: JSON.stringify(H), PATH: '/bin' };
  assert.deepEqual(takeHandover(env), H);
  assert.equal(env[HANDOVER_ENV], undefined);
  assert.equal(takeHandover(env), null);
});

const caps = (eff: number, bnd = eff, amb = 0): CapState => ({ effective: eff, permitted: eff, inheritable: 0, bounding: bnd, ambient: amb, lastCap: 40 });
const ALL = 2 ** 41 - 1;

test('privilege plan: root with every capability drops them before set-up', () => {
  assert.deepEqual(planPrivileges(caps(ALL), 0, null), { kind: 'drop-now' });
  assert.deepEqual(planPrivileges(caps(KEEP_CAPS + 2 ** 8, ALL), 0, null), { kind: 'drop-now' }, 'a wider bounding set is dropped too (CAP_SETPCAP)');
});

test('privilege plan: a wide bounding set matters for root only, and is dropped only with CAP_SETPCAP', () => {
  assert.deepEqual(planPrivileges(caps(KEEP_CAPS, ALL, KEEP_CAPS), 998, null), { kind: 'keep' }, 'systemd User= with AmbientCapabilities');
  const r = planPrivileges(caps(KEEP_CAPS, ALL), 0, null);
  assert.equal(r.kind, 'keep');
  assert.match(r.kind === 'keep' ? r.warning ?? '' : '', /^cannot drop capabilities from the bounding set without CAP_SETPCAP; running with CapEff 0000000000003000/);
  assert.deepEqual(planPrivileges(caps(ALL, KEEP_CAPS, KEEP_CAPS), 998, null), { kind: 'drop-now' }, 'a non-root uid with more than the two');
});

test('privilege plan: exactly CAP_NET_ADMIN|CAP_NET_RAW is kept (systemd bounding set, after re-execution)', () => {
  assert.equal(KEEP_CAPS, 0x3000);
  assert.deepEqual(planPrivileges(caps(KEEP_CAPS), 0, null), { kind: 'keep' });
  assert.deepEqual(planPrivileges(caps(KEEP_CAPS, KEEP_CAPS, KEEP_CAPS), 65534, { name: 'nobody', uid: 65534, gid: 65534 }), { kind: 'keep' });
});

test('privilege plan: --user switches after set-up only from root', () => {
  const u = { name: 'nobody', uid: 65534, gid: 65534 };
  assert.deepEqual(planPrivileges(caps(ALL), 0, u), { kind: 'switch-user', user: u });
  assert.equal(planPrivileges(caps(KEEP_CAPS), 1000, u).kind, 'missing');
});

test('privilege plan: without CAP_NET_ADMIN or CAP_NET_RAW the daemon refuses to start', () => {
  const r = planPrivileges(caps(2 ** 12), 0, null);
  assert.deepEqual(r, { kind: 'missing', error: 'needs CAP_NET_ADMIN and CAP_NET_RAW: run it as root or grant both capabilities' });
  assert.equal(planPrivileges(caps(0), 1000, null).kind, 'missing');
});

test('control socket directory: created when missing, refused when others can write it', () => {
  const base = mkdtempSync(join(tmpdir(), 'ipmp-sockdir-'));
  try {
    chmodSync(base, 0o755);
    checkSocketDir(join(base, 'run', 'ipmpd.sock'));
    assert.ok(existsSync(join(base, 'run')));
    for (const mode of [0o777, 0o1777, 0o757]) {
      chmodSync(join(base, 'run'), mode);
      assert.throws(() => checkSocketDir(join(base, 'run', 'ipmpd.sock')),
        { message: `refusing the control socket in the world-writable directory ${join(base, 'run')}` }, mode.toString(8));
    }
    chmodSync(join(base, 'run'), 0o750);
    checkSocketDir(join(base, 'run', 'ipmpd.sock'));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
