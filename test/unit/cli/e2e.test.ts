/** The commands against the real control server and client over a UNIX socket in a temp dir. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlServer } from '../../../src/daemon/control-server.js';
import type { ControlConnection, ControlServer } from '../../../src/daemon/control-server.js';
import type { Request } from '../../../src/daemon/protocol.js';
import { ipmpstatMain } from '../../../src/cli/ipmpstat.js';
import { ifMpadmMain } from '../../../src/cli/if_mpadm.js';
import { capture } from './fake.js';
import { EVENTS, SNAP, T0 } from './fixtures.js';

describe('CLI over the real control socket', () => {
  let dir = '';
  let server: ControlServer;
  let uid = 0;
  const seen: Request[] = [];
  let subscriber: ControlConnection | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ipmp-cli-'));
    server = await startControlServer({
      path: join(dir, 'ipmpd.sock'),
      handler: (req) => {
        seen.push(req);
        if (req.op === 'snapshot') return SNAP;
        if (req.op === 'offline') throw Object.assign(new Error('no other functioning interfaces'), { code: 'EMINRED' });
        return {};
      },
      onSubscribe: (conn) => { subscriber = conn; return () => { subscriber = undefined; }; },
      peerCred: () => ({ pid: process.pid, uid, gid: uid }),
      log: () => {},
      privilege: { groupFile: '/nonexistent', passwdFile: '/nonexistent', groupName: 'ipmp' },
    });
  });

  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const io = () => ({ stdout: capture(), stderr: capture(), now: () => T0 });

  it('ipmpstat -g prints the snapshot', async () => {
    const o = io();
    const code = await ipmpstatMain(['--socket', server.path, '-g'], o);
    assert.equal(o.stderr.text, '');
    assert.equal(code, 0);
    assert.match(o.stdout.text, /^ipmp0 {7}web {9}degraded  10\.00s {4}eth0 eth1/m);
  });

  it('if_mpadm maps EMINRED', async () => {
    const o = io();
    const code = await ifMpadmMain(['--socket', server.path, '-d', 'eth1'], o);
    assert.equal(code, 1);
    assert.equal(o.stderr.text, 'if_mpadm: fatal: cannot offline eth1: no other functioning interfaces are in its IPMP group\n');
  });

  it('ipmpstat -p streams events until interrupted', async () => {
    const o = io();
    let interrupt: () => void = () => {};
    const interrupted = new Promise<void>((r) => { interrupt = r; });
    const done = ipmpstatMain(['--socket', server.path, '-P', '-o', 'probe,interface', '-p'], { ...o, interrupted });
    for (let i = 0; i < 100 && !subscriber; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(subscriber, 'subscribed');
    for (const ev of EVENTS) subscriber.sendProbe(ev);
    for (let i = 0; i < 100 && o.stdout.text.split('\n').length <= EVENTS.length; i++) await new Promise((r) => setTimeout(r, 10));
    interrupt();
    assert.equal(await done, 0);
    assert.equal(o.stdout.text, '1:eth0\n2:enp0s31f6abcdef\n3:eth1\n65535:eth0\n');
  });

  it('ipmpstat -p without privilege', async () => {
    uid = 1000;
    try {
      const o = io();
      const code = await ipmpstatMain(['--socket', server.path, '-p'], { ...o, interrupted: new Promise(() => {}) });
      assert.equal(code, 1);
      assert.equal(o.stderr.text, 'ipmpstat: insufficient privileges for -p\n');
    } finally {
      uid = 0;
    }
  });

  it('cannot contact a socket that is not there', async () => {
    const o = io();
    const code = await ipmpstatMain(['--socket', join(dir, 'none.sock'), '-i'], o);
    assert.equal(code, 1);
    assert.equal(o.stderr.text, 'ipmpstat: cannot contact ipmpd -- is IPMP in use?\n');
  });
});
