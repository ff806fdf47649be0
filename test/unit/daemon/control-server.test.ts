import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPrivileged, startControlServer, validateRequest } from '../../../src/daemon/control-server.js';
import type { ControlConnection, ControlServerOptions, PeerCred } from '../../../src/daemon/control-server.js';
import { ControlTimeoutError, ControlUnavailableError, connectControl, resolveSocketPath } from '../../../src/cli/client.js';
import { DEFAULT_SOCKET, MAX_REQUEST_BYTES } from '../../../src/daemon/protocol.js';
import type { ProbeEvent, Request } from '../../../src/daemon/protocol.js';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..', '..', '..');
const ADDON = join(ROOT, 'native-bindings', 'build', 'Release', 'ipmp_native.node');

function privilegeFiles(dir: string): { groupFile: string; passwdFile: string; groupName: string } {
  writeFileSync(join(dir, 'group'), 'root:x:0:\nipmp:x:990:alice\nstaff:x:50:bob\nnogroup:x:65534:\n');
  writeFileSync(join(dir, 'passwd'), 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/:/bin/sh\n'
    + 'carol:x:1001:990::/:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n');
  return { groupFile: join(dir, 'group'), passwdFile: join(dir, 'passwd'), groupName: 'ipmp' };
}

async function setup(over: Partial<ControlServerOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ipmp-ctl-'));
  const path = join(dir, 'run', 'ipmpd.sock');
  const peer: PeerCred = { pid: 1, uid: 0, gid: 0 };
  const logs: string[] = [];
  const server = await startControlServer({
    path,
    handler: (req: Request) => (req.op === 'ping' ? 'pong' : { op: req.op }),
    onSubscribe: () => () => {},
    peerCred: () => ({ ...peer }),
    log: (m) => logs.push(m),
    privilege: privilegeFiles(dir),
    ...over,
  });
  return { dir, path, peer, logs, server };
}

/** A raw connection reading reply lines; next() gives null once the server closed it. */
function raw(path: string): Promise<{ sock: Socket; next(): Promise<string | null> }> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    const lines: string[] = [];
    const waiters: Array<(l: string | null) => void> = [];
    let buf = '';
    let closed = false;
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const l = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const w = waiters.shift();
        if (w) w(l); else lines.push(l);
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => { closed = true; for (const w of waiters.splice(0)) w(null); });
    sock.once('connect', () => resolve({
      sock,
      next: () => (lines.length ? Promise.resolve(lines.shift()!) : closed ? Promise.resolve(null)
        : new Promise((r) => waiters.push(r))),
    }));
    sock.once('error', reject);
  });
}

test('directory 0755, socket 0666; ping and snapshot round trip', async () => {
  const { path, server } = await setup();
  try {
    assert.equal(statSync(join(path, '..')).mode & 0o777, 0o755);
    assert.equal(statSync(path).mode & 0o777, 0o666);
    const c = await connectControl(path);
    assert.deepEqual(await c.request({ op: 'ping' }), { id: 1, ok: true, result: 'pong' });
    assert.deepEqual(await c.request({ op: 'snapshot' }), { id: 2, ok: true, result: { op: 'snapshot' } });
    c.close();
  } finally {
    await server.close();
  }
  assert.equal(existsSync(path), false);
});

test('bad requests get EBADREQ and the connection keeps serving', async () => {
  const { path, server } = await setup();
  try {
    const r = await raw(path);
    const bad = ['garbage', '[]', '{"op":"ping"}', '{"id":-1,"op":"ping"}', '{"id":3,"op":"reboot"}', '{"id":4,"op":"ping","x":1}',
      '{"id":5,"op":"offline"}', '{"id":6,"op":"offline","ifname":7}', '{"id":7,"op":"offline","ifname":"a/b"}',
      '{"id":8,"op":"add-ipmp","group":"g","interfaces":[]}', '{"id":9,"op":"set-ifprop","ifname":"e","prop":"mtu","value":"1"}',
      '{"id":10,"op":"create-addr","group":"g","address":null}', '{"id":11,"op":"__proto__"}'];
    for (const line of bad) r.sock.write(`${line}\n`);
    for (const line of bad) {
      const reply = JSON.parse((await r.next())!);
      assert.equal(reply.ok, false, line);
      assert.equal(reply.code, 'EBADREQ', line);
      assert.match(reply.error, /^bad request: /);
      const m = /"id":(\d+)/.exec(line);
      assert.equal(reply.id, m ? Number(m[1]) : 0, line);
    }
    r.sock.write('\n{"id":12,"op":"ping"}\r\n');
    assert.deepEqual(JSON.parse((await r.next())!), { id: 12, ok: true, result: 'pong' });
    r.sock.destroy();
  } finally {
    await server.close();
  }
});

test('validateRequest accepts every well-formed op', () => {
  const good: Request[] = [{ id: 1, op: 'ping' }, { id: 2, op: 'offline', ifname: 'eth0' },
    { id: 3, op: 'add-ipmp', group: 'ipmp0', interfaces: ['eth1', 'eth2'] },
    { id: 4, op: 'set-ifprop', ifname: 'eth0', prop: 'test-address', value: 'none' },
    { id: 5, op: 'delete-addr', group: 'web', address: '198.18.0.10/24' }, { id: 6, op: 'probe-subscribe' }];
  for (const r of good) assert.deepEqual(validateRequest(r), { ok: true, req: r });
});

test('validateRequest: persist is an optional boolean of the live verbs', () => {
  const ok: Request[] = [{ id: 1, op: 'create-addr', group: 'ipmp0', address: '198.18.0.10/24', persist: true },
    { id: 2, op: 'set-ifprop', ifname: 'eth0', prop: 'standby', value: 'on', persist: false },
    { id: 3, op: 'remove-ipmp', group: 'ipmp0', interfaces: ['eth1'], persist: true }];
  for (const r of ok) assert.deepEqual(validateRequest(r), { ok: true, req: r });
  assert.deepEqual(validateRequest({ id: 4, op: 'add-ipmp', group: 'ipmp0', interfaces: ['eth1'], persist: 'yes' }),
    { ok: false, id: 4, what: '"persist" must be true or false' });
  assert.deepEqual(validateRequest({ id: 5, op: 'offline', ifname: 'eth0', persist: true }),
    { ok: false, id: 5, what: 'unexpected field "persist" for offline' });
});

test('an oversized line gets ETOOBIG and the connection closes', async () => {
  const { path, server } = await setup();
  try {
    const r = await raw(path);
    r.sock.write('{"id":1,"op":"ping","pad":"' + 'x'.repeat(MAX_REQUEST_BYTES + 10));
    const reply = JSON.parse((await r.next())!);
    assert.equal(reply.code, 'ETOOBIG');
    assert.equal(await r.next(), null);
  } finally {
    await server.close();
  }
});

test('a client that does not finish its line is closed after the timeout', async () => {
  const { path, server } = await setup({ requestTimeoutMs: 200 });
  try {
    const r = await raw(path);
    const t0 = Date.now();
    r.sock.write('{"id":1,');
    const reply = JSON.parse((await r.next())!);
    assert.equal(reply.code, 'ETIMEDOUT');
    assert.equal(await r.next(), null);
    const took = Date.now() - t0;
    assert.ok(took >= 150 && took < 2000, `closed after ${took} ms`);
    const idle = await raw(path);
    assert.equal(await idle.next(), null);
  } finally {
    await server.close();
  }
});

test('privileged ops need uid 0 or group ipmp', async () => {
  const { path, peer, server, logs } = await setup();
  try {
    peer.uid = 65534; peer.gid = 65534;
    const c = await connectControl(path);
    assert.deepEqual(await c.request({ op: 'offline', ifname: 'eth0' }), { id: 1, ok: false, code: 'EPERM', error: 'permission denied' });
    assert.equal((await c.request({ op: 'snapshot' })).ok, true);
    await assert.rejects(c.subscribe(() => {}), { name: 'ControlReplyError', message: 'permission denied' });
    c.close();
    assert.ok(logs.some((l) => l.includes('Unprivileged request from uid 65534')));
  } finally {
    await server.close();
  }
});

test('group ipmp membership: listed, primary group in passwd, peer gid', () => {
  const files = privilegeFiles(mkdtempSync(join(tmpdir(), 'ipmp-grp-')));
  assert.equal(isPrivileged({ pid: 1, uid: 0, gid: 0 }, files), true);
  assert.equal(isPrivileged({ pid: 1, uid: 1000, gid: 1000 }, files), true);
  assert.equal(isPrivileged({ pid: 1, uid: 1001, gid: 1001 }, files), true);
  assert.equal(isPrivileged({ pid: 1, uid: 4242, gid: 990 }, files), true);
  assert.equal(isPrivileged({ pid: 1, uid: 65534, gid: 65534 }, files), false);
  assert.equal(isPrivileged({ pid: 1, uid: -1, gid: -1 }, files), false);
  assert.equal(isPrivileged({ pid: 1, uid: 1000, gid: 1000 }, { ...files, groupFile: '/nonexistent' }), false);
});

test('handler errors become one-line replies; codes are kept', async () => {
  const { path, server } = await setup({
    handler: (req: Request) => {
      if (req.op === 'offline') throw Object.assign(new Error('cannot offline eth0: no other functioning interfaces'), { code: 'EMINRED' });
      if (req.op === 'undo-offline') return Promise.reject(Object.assign(new Error('x'), { code: 'EWHATEVER' }));
      throw new Error('boom\nsecond line');
    },
  });
  try {
    const c = await connectControl(path);
    assert.deepEqual(await c.request({ op: 'offline', ifname: 'eth0' }),
      { id: 1, ok: false, code: 'EMINRED', error: 'cannot offline eth0: no other functioning interfaces' });
    assert.deepEqual(await c.request({ op: 'undo-offline', ifname: 'eth0' }), { id: 2, ok: false, code: 'EFAILED', error: 'x' });
    assert.deepEqual(await c.request({ op: 'snapshot' }), { id: 3, ok: false, code: 'EFAILED', error: 'boom second line' });
    c.close();
  } finally {
    await server.close();
  }
});

test('too many connections: the extra one gets an error line and is closed', async () => {
  const { path, server } = await setup({ maxConnections: 2 });
  try {
    const a = await connectControl(path);
    const b = await connectControl(path);
    assert.equal((await b.request({ op: 'ping' })).ok, true);
    const r = await raw(path);
    assert.deepEqual(JSON.parse((await r.next())!), { id: 0, ok: false, code: 'EFAILED', error: 'too many connections' });
    assert.equal(await r.next(), null);
    const c = await connectControl(path);
    await assert.rejects(c.request({ op: 'ping' }), { name: 'ControlUnavailableError', message: /too many connections/ });
    a.close();
    await new Promise((r2) => setTimeout(r2, 50));
    const d = await connectControl(path);
    assert.equal((await d.request({ op: 'ping' })).ok, true);
    b.close(); d.close();
  } finally {
    await server.close();
  }
});

test('probe subscription delivers events and unsubscribes on close', async () => {
  let conn: ControlConnection | null = null;
  let unsubscribed = false;
  const { path, server } = await setup({ onSubscribe: (c) => { conn = c; return () => { unsubscribed = true; }; } });
  try {
    const c = await connectControl(path);
    const got: ProbeEvent[] = [];
    await c.subscribe((ev) => got.push(ev));
    const ev: ProbeEvent = { id: 7, interface: 'eth0', family: 4, target: '198.18.0.1', state: 'acked', startMs: 1,
      netrttMs: 0.2, rttMs: 0.3, rttavgMs: 0.3, rttdevMs: 0.1 };
    assert.equal(conn!.sendProbe(ev), true);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(got, [ev]);
    c.close();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(unsubscribed, true);
    assert.equal(conn!.sendProbe(ev), false);
  } finally {
    await server.close();
  }
});

test('stale socket is replaced; a live one refuses to start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipmp-stale-'));
  const path = join(dir, 'ipmpd.sock');
  const other = createServer();
  await new Promise<void>((r) => other.listen(path, () => r()));
  const base = { path, handler: () => null, onSubscribe: () => () => {}, peerCred: () => ({ pid: 1, uid: 0, gid: 0 }), log: () => {} };
  await assert.rejects(startControlServer(base), { message: `another ipmpd is already running on ${path}` });
  await new Promise<void>((r) => other.close(() => r()));
  // server.close() unlinks; leave a stale socket file behind by binding without closing cleanly.
  const stale = createServer();
  await new Promise<void>((r) => stale.listen(join(dir, 'stale.sock'), () => r()));
  (stale as unknown as { _handle: { close(): void } })._handle.close();
  const s = await startControlServer({ ...base, path: join(dir, 'stale.sock') });
  const c = await connectControl(join(dir, 'stale.sock'));
  assert.equal((await c.request({ op: 'ping' })).ok, true);
  c.close();
  await s.close();
  writeFileSync(join(dir, 'file'), '');
  await assert.rejects(startControlServer({ ...base, path: join(dir, 'file') }), { message: /exists and is not a socket/ });
});

test('client: unavailable daemon, request timeout, socket path resolution', async () => {
  await assert.rejects(connectControl('/nonexistent/ipmpd.sock'), (e: unknown) =>
    e instanceof ControlUnavailableError && e.code === 'ENOENT' && /cannot contact ipmpd on \/nonexistent/.test(e.message));
  const { path, server } = await setup({ handler: () => new Promise(() => {}) });
  try {
    const c = await connectControl(path, 200);
    const t0 = Date.now();
    await assert.rejects(c.request({ op: 'snapshot' }), (e: unknown) => e instanceof ControlTimeoutError && /within 200 ms/.test(e.message));
    assert.ok(Date.now() - t0 < 1500);
    c.close();
    await assert.rejects(c.request({ op: 'ping' }), ControlUnavailableError);
  } finally {
    await server.close();
  }
  assert.equal(resolveSocketPath('/x.sock', { IPMP_SOCKET: '/y.sock' }), '/x.sock');
  assert.equal(resolveSocketPath(undefined, { IPMP_SOCKET: '/y.sock' }), '/y.sock');
  assert.equal(resolveSocketPath(undefined, {}), DEFAULT_SOCKET);
});

const rootSkip = process.getuid?.() !== 0 ? 'needs root' : !existsSync(ADDON) ? 'native addon not built' : false;

test('real SO_PEERCRED, and an unprivileged client process via setpriv', { skip: rootSkip }, async () => {
  const { loadNative } = await import('../../../src/io/native.js');
  const native = loadNative();
  const dir = mkdtempSync(join(tmpdir(), 'ipmp-real-'));
  chmodSync(dir, 0o755);
  const path = join(dir, 'run', 'ipmpd.sock');
  const server = await startControlServer({
    path, handler: (_req, peer) => peer, onSubscribe: () => () => {}, peerCred: (fd) => native.peerCred(fd), log: () => {},
  });
  try {
    const c = await connectControl(path);
    const r = await c.request({ op: 'snapshot' });
    assert.deepEqual(r, { id: 1, ok: true, result: { pid: process.pid, uid: 0, gid: process.getgid!() } });
    c.close();
    const script = `const s=require('net').createConnection(process.argv[1]);let b='';s.setEncoding('utf8');
      s.on('data',d=>{b+=d;if(b.split('\\n').length>2){process.stdout.write(b);s.destroy();}});
      s.write('{"id":1,"op":"offline","ifname":"eth0"}\\n{"id":2,"op":"snapshot"}\\n');`;
    const out = await promisify(execFile)('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script, path],
      { encoding: 'utf8', timeout: 10000 });
    const [offline, snap] = out.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(offline, { id: 1, ok: false, code: 'EPERM', error: 'permission denied' });
    assert.equal(snap.ok, true);
    assert.equal(snap.result.uid, 65534);
    assert.equal(snap.result.gid, 65534);
  } finally {
    await server.close();
  }
});
