/**
 * Least privilege of a live daemon in the lab: every thread holds exactly CAP_NET_ADMIN and
 * CAP_NET_RAW (0x3000) after a start as root, changes that run `nft` still work, an in-place
 * upgrade keeps the same sets, an unprivileged uid is refused every state-changing request,
 * and `--user nobody` runs as that uid with the two capabilities through an upgrade and a
 * clean stop that restores the host. Start-up refusals: a world-writable configuration, a
 * control socket in a world-writable directory, no CAP_NET_ADMIN: exit 1 and one line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { uniquePrefix } from '../../src/lab/fixture.js';
import { hostNs, labDown, labDownSync, labUp } from '../../src/lab/lab.js';
import { REPO, startDaemon, snapshot, writeConfig, type RunningDaemon } from './helpers/daemon.js';

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;

/**
 * Removes the daemon's state files of this process's TUN name (offline NICs outlive a clean
 * stop by design; an unprivileged instance can only empty its files).
 */
function removeStateOf(tun: string): void {
  for (const f of existsSync('/run/ipmp') ? readdirSync('/run/ipmp') : []) {
    if (f.startsWith(`${tun}.`) && f.endsWith('.json')) rmSync(join('/run/ipmp', f), { force: true });
  }
}
const BIN = (name: string): string => join(REPO, 'bin', name);
const TUN = `ipv${process.pid % 100000}`;
const CAPS = '0000000000003000';
const NOBODY = 65534;

const YAML = `groups:
  ${TUN}:
    interfaces: { eth0: {}, eth1: {} }
    addresses: [198.18.0.10/24, 198.18.0.11/24]
`;

function status(pid: number, task?: string): Record<string, string> {
  const file = task ? `/proc/${pid}/task/${task}/status` : `/proc/${pid}/status`;
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** CapEff of every thread of pid (name → value). */
function threadCaps(pid: number): Map<string, string> {
  const m = new Map<string, string>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const s = status(pid, t);
      m.set(`${t} ${s.Name}`, s.CapEff);
    } catch { /* the thread ended */ }
  }
  return m;
}

function assertReduced(pid: number, amb: string): void {
  const s = status(pid);
  assert.equal(s.CapEff, CAPS, 'CapEff');
  assert.equal(s.CapPrm, CAPS, 'CapPrm');
  assert.equal(s.CapBnd, CAPS, 'CapBnd');
  assert.equal(s.CapAmb, amb, 'CapAmb');
  const threads = threadCaps(pid);
  assert.ok(threads.size > 1, 'the daemon has threads');
  for (const [t, eff] of threads) assert.equal(eff, CAPS, `thread ${t}`);
}

function inHost(prefix: string, argv: string[], uid?: number): { code: number; out: string; err: string } {
  const base = ['netns', 'exec', hostNs(prefix)];
  const cmd = uid === undefined ? [...base, process.execPath, ...argv]
    : [...base, 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, ...argv];
  const r = spawnSync('ip', cmd, { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Runs ipmpd to completion (it must refuse to start) and returns its exit code and stderr lines. */
function refused(prefix: string, args: string[], uid?: number): { code: number; lines: string[] } {
  const r = inHost(prefix, [BIN('ipmpd'), ...args], uid);
  return { code: r.code, lines: r.err.split('\n').filter((l) => l !== '') };
}

describe('least privilege', { skip, timeout: 240_000 }, () => {
  const prefix = uniquePrefix();
  let d: RunningDaemon | undefined;

  before(async () => {
    await labUp({ prefix, nics: 3 });
  });
  after(async () => {
    try {
      if (d?.alive()) await d.stop().catch(() => undefined);
    } finally {
      await labDown(prefix).catch(() => labDownSync(prefix));
      removeStateOf(TUN);
    }
  });

  test('every thread keeps exactly CAP_NET_ADMIN|CAP_NET_RAW; nft changes and an upgrade still work', async () => {
    d = await startDaemon(prefix, YAML);
    assert.equal(status(d.pid).Uid.split(/\s+/)[0], '0');
    assertReduced(d.pid, '0000000000000000');
    assert.match(d.log(), /ipmpd: ready \(.*CapEff 0000000000003000\)/);
    // A live change rewrites the nftables table through an `nft` child process.
    const add = inHost(prefix, [BIN('ipmp'), '--socket', d.socket, 'add-ipmp', '-i', 'eth2', TUN]);
    assert.equal(add.code, 0, add.err);
    const table = spawnSync('ip', ['netns', 'exec', hostNs(prefix), 'nft', 'list', 'table', 'netdev', `ipmp_${TUN}`], { encoding: 'utf8' });
    assert.match(table.stdout, /devices = \{ "?eth0"?, "?eth1"?, "?eth2"? \}/, table.stdout + table.stderr);
    const from = d.log().length;
    process.kill(d.pid, 'SIGUSR2');
    await d.waitLog(/ipmpd: ready \([^)]*upgraded in place/, 30_000, from);
    assertReduced(d.pid, '0000000000000000');
    const s = await snapshot(d.socket);
    assert.ok(s.interfaces.some((i) => i.name === 'eth2'), 'eth2 still in the group after the upgrade');
  });

  test('an unprivileged uid may query but every state-changing request is refused', async () => {
    d = d?.alive() ? d : await startDaemon(prefix, YAML);
    const before = await snapshot(d.socket);
    const requests = [
      { op: 'offline', ifname: 'eth1' },
      { op: 'undo-offline', ifname: 'eth1' },
      { op: 'add-ipmp', group: TUN, interfaces: ['eth2'] },
      { op: 'remove-ipmp', group: TUN, interfaces: ['eth0'] },
      { op: 'create-addr', group: TUN, address: '198.18.0.99/24' },
      { op: 'delete-addr', group: TUN, address: '198.18.0.10/24' },
      { op: 'set-ifprop', ifname: 'eth0', prop: 'standby', value: 'on' },
      { op: 'set-ifprop', ifname: 'eth0', prop: 'test-address', value: '198.18.0.100/24' },
      { op: 'probe-subscribe' },
      { op: 'snapshot' },
      { op: 'ping' },
    ].map((r, i) => ({ id: i + 1, ...r }));
    const script = `
      const net = require('node:net');
      const s = net.connect(${JSON.stringify(d.socket)});
      const reqs = ${JSON.stringify(requests)};
      let buf = ''; const replies = [];
      s.on('data', (x) => {
        buf += x;
        for (let i = buf.indexOf('\\n'); i >= 0; i = buf.indexOf('\\n')) { replies.push(JSON.parse(buf.slice(0, i))); buf = buf.slice(i + 1); }
        if (replies.length === reqs.length) { console.log(JSON.stringify(replies)); process.exit(0); }
      });
      s.on('connect', () => { for (const r of reqs) s.write(JSON.stringify(r) + '\\n'); });
      setTimeout(() => { console.log(JSON.stringify(replies)); process.exit(1); }, 10000);`;
    const r = inHost(prefix, ['-e', script], NOBODY);
    assert.equal(r.code, 0, r.out + r.err);
    const replies = JSON.parse(r.out) as Array<{ id: number; ok: boolean; code?: string; error?: string }>;
    for (const req of requests) {
      const rep = replies.find((x) => x.id === req.id);
      if (req.op === 'snapshot' || req.op === 'ping') {
        assert.equal(rep?.ok, true, `${req.op} answered: ${JSON.stringify(rep)}`);
      } else {
        assert.deepEqual({ ok: rep?.ok, code: rep?.code, error: rep?.error }, { ok: false, code: 'EPERM', error: 'permission denied' },
          `${JSON.stringify(req)} refused`);
      }
    }
    const now = await snapshot(d.socket);
    const view = (x: typeof now): string => JSON.stringify(x.interfaces.map((i) => [i.name, i.state, i.active, i.flags]));
    assert.equal(view(now), view(before), 'interfaces unchanged');
    assert.deepEqual(now.addresses.map((a) => a.address).sort(), before.addresses.map((a) => a.address).sort(), 'addresses unchanged');
  });

  test('refusals at start: world-writable configuration, socket directory, no CAP_NET_ADMIN (exit 1, one line)', () => {
    const { dir, file } = writeConfig(YAML);
    const sock = join(dir, 'run', 'ipmpd.sock');
    chmodSync(file, 0o666);
    let r = refused(prefix, ['-c', file, '--socket', sock]);
    assert.equal(r.code, 1, r.lines.join('\n'));
    assert.deepEqual(r.lines, [`ipmpd: ${file}: refusing a world-writable configuration file (chmod o-w it)`]);
    chmodSync(file, 0o644);
    chmodSync(dir, 0o777);
    r = refused(prefix, ['-c', file, '--socket', sock]);
    assert.equal(r.code, 1, r.lines.join('\n'));
    assert.deepEqual(r.lines, [`ipmpd: ${file}: refusing a configuration file in the world-writable directory ${dir}`]);
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'run'), { mode: 0o755 });
    chmodSync(join(dir, 'run'), 0o1777);
    r = refused(prefix, ['-c', file, '--socket', sock]);
    assert.equal(r.code, 1, r.lines.join('\n'));
    assert.deepEqual(r.lines, [`ipmpd: refusing the control socket in the world-writable directory ${join(dir, 'run')}`]);
    assert.ok(!existsSync(sock), 'no socket was created');
    r = refused(prefix, ['-c', file, '--socket', join(dir, 'ipmpd.sock')], NOBODY);
    assert.equal(r.code, 1, r.lines.join('\n'));
    assert.deepEqual(r.lines, ['ipmpd: needs CAP_NET_ADMIN and CAP_NET_RAW: run it as root or grant both capabilities']);
  });

  test('--user nobody: uid 65534 with CAP_NET_ADMIN|CAP_NET_RAW (ambient), through offline, an upgrade and a clean stop', async () => {
    if (d?.alive()) assert.equal(await d.stop(), 0);
    d = await startDaemon(prefix, YAML, { args: ['--user', 'nobody'] });
    assert.match(d.log(), /ipmpd: set up; continuing as user nobody with CAP_NET_ADMIN and CAP_NET_RAW/);
    assert.equal(status(d.pid).Uid.split(/\s+/)[0], String(NOBODY));
    assertReduced(d.pid, CAPS);
    const off = inHost(prefix, [BIN('if_mpadm'), '--socket', d.socket, '-d', 'eth1']);
    assert.equal(off.code, 0, off.err);
    const from = d.log().length;
    process.kill(d.pid, 'SIGUSR2');
    await d.waitLog(/ipmpd: ready \([^)]*upgraded in place, pid \d+, uid 65534, CapEff 0000000000003000\)/, 30_000, from);
    assertReduced(d.pid, CAPS);
    const i = inHost(prefix, [BIN('ipmpstat'), '--socket', d.socket, '-P', '-o', 'interface,state', '-i']);
    assert.match(i.out, /^eth1:offline$/m, i.out + i.err);
    assert.equal(inHost(prefix, [BIN('if_mpadm'), '--socket', d.socket, '-r', 'eth1']).code, 0);
    const ping = spawnSync('ip', ['netns', 'exec', `${prefix}-peer`, 'ping', '-c', '1', '-W', '2', '198.18.0.10'], { timeout: 10_000 });
    assert.equal(ping.status, 0, 'forwarding works as nobody');
    assert.equal(await d.stop(), 0, 'clean stop');
    d = undefined;
    const link = spawnSync('ip', ['-n', hostNs(prefix), 'link', 'show', TUN], { encoding: 'utf8' });
    assert.notEqual(link.status, 0, `${TUN} removed: ${link.stdout}`);
    const nft = spawnSync('ip', ['netns', 'exec', hostNs(prefix), 'nft', 'list', 'tables'], { encoding: 'utf8' });
    assert.doesNotMatch(nft.stdout, new RegExp(`ipmp_${TUN}`), 'nftables table removed');
    const v6 = spawnSync('ip', ['netns', 'exec', hostNs(prefix), 'cat', '/proc/sys/net/ipv6/conf/eth0/disable_ipv6'], { encoding: 'utf8' });
    assert.equal(v6.stdout.trim(), '0', 'disable_ipv6 restored');
  });
});
