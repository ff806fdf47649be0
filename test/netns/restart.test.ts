/**
 * Restarts that keep the host's connections. A paced two-way TCP stream (node sockets,
 * every byte checked at both ends) between the peer and a data address of ipmp0 runs
 *  - across a kill -9 of ipmpd followed by a new start: the persistent TUN keeps its
 *    addresses, the new instance re-attaches it and takes the host isolation over without
 *    ever lifting it (disable_ipv6 sampled throughout);
 *  - across SIGUSR2: the daemon re-executes itself in the same PID and hands its TUN and
 *    packet sockets to the new image;
 *  - across a SIGUSR2 whose new image would not start (a broken configuration): the
 *    upgrade is refused with a one-line reason and the running image continues.
 * No reset, no changed byte, offline state kept, and the longest gap of the stream is
 * reported, and a stall of the control thread is logged.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { uniquePrefix } from '../../src/lab/fixture.js';
import { hostNs, labDown, labDownSync, labUp, peerNs, waitFor } from '../../src/lab/lab.js';
import { REPO, startDaemon, type RunningDaemon } from './helpers/daemon.js';

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
const STREAM = join(dirname(fileURLToPath(import.meta.url)), 'helpers', 'stream.js');
const BIN = (name: string): string => join(REPO, 'bin', name);
/** A TUN name of this process: the daemon's recovery state is named after it. */
const TUN = `ipr${process.pid % 100000}`;
const DATA = '198.18.0.10';
const DATA6 = '2001:db8::10';
/** Bytes per second each way: small enough that the kernel's queues hold a handover's worth. */
const RATE = 200_000;
const STREAM_TIMEOUT_MS = 90_000;
/** Bytes that must arrive at both ends after an event before the stream is ended. */
const AFTER_BYTES = 100_000;

const YAML = `groups:
  ${TUN}:
    interfaces: { eth0: {}, eth1: {}, eth2: {} }
    addresses: [${DATA}/24, 198.18.0.11/24, ${DATA6}/64]
`;

interface StreamResult {
  ok: boolean; sent: number; received: number; corruptAt: number; maxGapMs: number; gapAtMs: number; error: string | null;
}

interface StreamEnd {
  proc: ChildProcess;
  started: Promise<void>;
  /** Bytes received so far (from the helper's progress lines). */
  rx(): number;
  result: Promise<StreamResult>;
  stop(): void;
}

function streamEnd(ns: string, args: string[], word: string): StreamEnd {
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, STREAM, ...args,
    '--rate', String(RATE), '--timeout', String(STREAM_TIMEOUT_MS)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let rx = 0;
  let onWord: () => void = () => undefined;
  const started = new Promise<void>((res, rej) => {
    onWord = res;
    proc.once('exit', () => rej(new Error(`stream helper exited before "${word}": ${out}${err}`)));
  });
  started.catch(() => undefined);
  proc.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
    if (out.includes(word)) onWord();
    for (const m of out.slice(-400).matchAll(/rx (\d+)\n/g)) rx = Math.max(rx, Number(m[1]));
    if (out.length > 1 << 16) out = out.slice(-1024);
  });
  proc.stderr?.on('data', (b: Buffer) => { err += b.toString(); });
  const result = new Promise<StreamResult>((res) => {
    proc.once('exit', () => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      res(line ? JSON.parse(line) as StreamResult
        : { ok: false, sent: 0, received: 0, corruptAt: -1, maxGapMs: 0, gapAtMs: 0, error: `no result: ${err.trim()}` });
    });
  });
  return { proc, started, rx: () => rx, result, stop: () => { proc.stdin?.write('stop\n'); } };
}

interface Stream { host: StreamEnd; peer: StreamEnd }

/**
 * A connection; both directions carry data. By default from the peer to the data address;
 * with `remote`, from the host (bound to `local`) to an address behind the peer.
 */
async function openStream(prefix: string, port: number, to = DATA, remote?: { local: string }): Promise<Stream> {
  const [lns, cns] = remote ? [peerNs(prefix), hostNs(prefix)] : [hostNs(prefix), peerNs(prefix)];
  const listener = streamEnd(lns, ['listen', '--bind', to, '--port', String(port)], 'listening');
  await listener.started;
  const local = remote ? ['--local', remote.local] : [];
  const connector = streamEnd(cns, ['connect', '--host', to, '--port', String(port), ...local], 'connected');
  await connector.started;
  return remote ? { host: connector, peer: listener } : { host: listener, peer: connector };
}

interface StreamResults { host: StreamResult; peer: StreamResult }

/** Every byte arrived unchanged both ways, no reset, an orderly end. */
function assertWhole(name: string, r: StreamResults): void {
  assert.equal(r.host.error, null, `${name}: host end: ${JSON.stringify(r.host)}`);
  assert.equal(r.peer.error, null, `${name}: peer end: ${JSON.stringify(r.peer)}`);
  assert.equal(r.host.corruptAt, -1, `${name}: bytes at the host identical`);
  assert.equal(r.peer.corruptAt, -1, `${name}: bytes at the peer identical`);
  assert.ok(r.host.ok && r.peer.ok, `${name}: orderly end: ${JSON.stringify(r)}`);
  assert.equal(r.host.received, r.peer.sent, `${name}: the host received every byte the peer sent`);
  assert.equal(r.peer.received, r.host.sent, `${name}: the peer received every byte the host sent`);
}

const gapOf = (r: StreamResults): number => Math.max(r.host.maxGapMs, r.peer.maxGapMs);

/** Waits (bounded) until both ends received `bytes` more than now. */
async function flowed(s: Stream, bytes: number, what: string, timeoutMs = 30_000): Promise<void> {
  const h = s.host.rx();
  const p = s.peer.rx();
  await waitFor(`${bytes} more bytes each way ${what}`, () => s.host.rx() >= h + bytes && s.peer.rx() >= p + bytes, timeoutMs, 20);
}

async function closeStream(s: Stream): Promise<StreamResults> {
  s.host.stop();
  s.peer.stop();
  const [host, peer] = await Promise.all([s.host.result, s.peer.result]);
  return { host, peer };
}

function killStream(s: Stream | undefined): void {
  for (const e of s ? [s.host, s.peer] : []) if (e.proc.exitCode === null) e.proc.kill('SIGKILL');
}

function inHost(prefix: string, argv: string[]): { code: number; out: string; err: string } {
  const r = spawnSync('ip', ['netns', 'exec', hostNs(prefix), process.execPath, ...argv], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/**
 * Samples a file in the host namespace every millisecond until "stop" on stdin; reports
 * every distinct value seen. Used to show that host isolation is never lifted.
 */
function sampler(prefix: string, file: string): { stop(): Promise<{ samples: number; values: string[] }> } {
  const script = `
    const fs = require('node:fs');
    const seen = new Set(); let n = 0;
    const t = setInterval(() => { try { seen.add(fs.readFileSync(${JSON.stringify(file)}, 'utf8').trim()); } catch { seen.add('absent'); } n++; }, 1);
    setTimeout(() => process.exit(3), 60000).unref();
    process.stdin.on('data', () => { clearInterval(t); console.log(JSON.stringify({ samples: n, values: [...seen] })); process.exit(0); });`;
  const p = spawn('ip', ['netns', 'exec', hostNs(prefix), process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  p.stdout?.on('data', (b: Buffer) => { out += b.toString(); });
  return {
    stop: () => new Promise((res, rej) => {
      p.once('exit', () => { try { res(JSON.parse(out)); } catch { rej(new Error(`sampler: ${out}`)); } });
      p.stdin?.write('stop\n');
    }),
  };
}

function offlineOf(prefix: string, socket: string): string[] {
  const r = inHost(prefix, [BIN('ipmpstat'), '--socket', socket, '-P', '-o', 'interface,state', '-i']);
  assert.equal(r.code, 0, r.err);
  return r.out.split('\n').filter((l) => l.endsWith(':offline')).map((l) => l.split(':')[0]);
}

describe('restart and upgrade keep connections', { skip, timeout: 240_000 }, () => {
  const prefix = uniquePrefix();
  let d: RunningDaemon | undefined;
  let s: Stream | undefined;
  const extra: Stream[] = [];

  before(async () => {
    await labUp({ prefix, nics: 3 });
  });
  after(async () => {
    killStream(s);
    for (const x of extra) killStream(x);
    try {
      if (d?.alive()) await d.stop().catch(() => undefined);
    } finally {
      await labDown(prefix).catch(() => labDownSync(prefix));
      removeStateOf(TUN);
    }
  });

  test('TCP streams through ipmp0 (IPv4, IPv6, via a gateway) survive kill -9 and a new start; isolation and offline state are kept', async (t) => {
    d = await startDaemon(prefix, YAML);
    assert.equal(inHost(prefix, [BIN('if_mpadm'), '--socket', d.socket, '-d', 'eth2']).code, 0);
    const route = spawnSync('ip', ['-n', hostNs(prefix), 'route', 'add', '198.19.0.0/24', 'via', '198.18.0.1', 'dev', TUN], { encoding: 'utf8' });
    assert.equal(route.status, 0, route.stderr);
    const streams: Array<[string, Stream]> = [
      ['IPv4', await openStream(prefix, 5601)],
      ['IPv6', await openStream(prefix, 5611, DATA6)],
      ['via gateway', await openStream(prefix, 5621, '198.19.0.1', { local: '198.18.0.11' })],
    ];
    extra.push(...streams.map(([, x]) => x));
    for (const [name, x] of streams) await flowed(x, AFTER_BYTES, `${name} before the crash`);
    const sysctl = sampler(prefix, '/proc/sys/net/ipv6/conf/eth0/disable_ipv6');
    const t0 = Date.now();
    await d.kill9();
    d = await startDaemon(prefix, YAML);
    const restartMs = Date.now() - t0;
    for (const [name, x] of streams) await flowed(x, AFTER_BYTES, `${name} after the restart`);
    const seen = await sysctl.stop();
    const results = await Promise.all(streams.map(async ([name, x]) => [name, await closeStream(x)] as const));
    t.diagnostic(`kill -9 to ready ${restartMs} ms; longest gap ${results.map(([n, r]) => `${n} ${gapOf(r)} ms`).join(', ')}; ` +
      `disable_ipv6 values ${seen.values.join(',')} over ${seen.samples} samples`);
    for (const [name, r] of results) {
      assertWhole(name, r);
      assert.ok(gapOf(r) < 15_000, `${name}: the stream resumed (safety bound)`);
    }
    assert.deepEqual(seen.values, ['1'], 'the host stack was never let onto eth0 (disable_ipv6 stayed 1)');
    assert.match(d.log(), /recovered state left by a previous instance/);
    assert.match(d.log(), new RegExp(`${TUN}: re-attaching the persistent interface`));
    assert.deepEqual(offlineOf(prefix, d.socket), ['eth2'], 'eth2 is still offline');
  });

  test('a TCP stream through ipmp0 survives SIGUSR2: same PID, descriptors handed over, ipmpstat answers after', async (t) => {
    d = d?.alive() ? d : await startDaemon(prefix, YAML);
    const pid = d.pid;
    // A live change: an upgrade keeps the running configuration.
    const add = inHost(prefix, [BIN('ipmp'), '--socket', d.socket, 'create-addr', '-a', '198.18.0.12/24', TUN]);
    assert.equal(add.code, 0, add.err);
    // A file edit not yet applied: the upgrade leaves it to the next SIGHUP.
    const conf = join(d.dir, 'ipmp.yaml');
    writeFileSync(conf, readFileSync(conf, 'utf8').replace(`${DATA6}/64]`, `${DATA6}/64, 198.18.0.13/24]`));
    s = await openStream(prefix, 5602);
    await flowed(s, AFTER_BYTES, 'before the upgrade');
    const from = d.log().length;
    const t0 = Date.now();
    process.kill(pid, 'SIGUSR2');
    await d.waitLog(/ipmpd: ready \([^)]*upgraded in place/, 30_000, from);
    const upgradeMs = Date.now() - t0;
    await flowed(s, AFTER_BYTES, 'after the upgrade');
    const r = await closeStream(s);
    s = undefined;
    t.diagnostic(`SIGUSR2 to ready ${upgradeMs} ms; longest gap host<-peer ${r.host.maxGapMs} ms, peer<-host ${r.peer.maxGapMs} ms`);
    assert.ok(d.alive(), 'the daemon process is still there');
    assert.equal(d.pid, pid);
    const log = d.log().slice(from);
    assert.match(log, new RegExp(`SIGUSR2: re-executing in place \\(pid ${pid}\\)`));
    assert.match(log, new RegExp(`${TUN}: taken over from the previous image`));
    assert.match(log, new RegExp(`ipmpd: ready \\(${TUN}; upgraded in place, pid ${pid}`));
    assert.doesNotMatch(log, /re-attaching|recovered state/, 'nothing was reopened');
    assertWhole('IPv4', r);
    assert.ok(gapOf(r) < 5_000, 'the stream resumed (safety bound)');
    const g = inHost(prefix, [BIN('ipmpstat'), '--socket', d.socket, '-g']);
    assert.equal(g.code, 0, g.err);
    assert.match(g.out, new RegExp(`^${TUN}\\s+${TUN}\\s+degraded\\s+--\\s+eth\\d eth\\d \\[eth2\\]$`, 'm'));
    assert.deepEqual(offlineOf(prefix, d.socket), ['eth2'], 'eth2 is still offline');
    const a = inHost(prefix, [BIN('ipmpstat'), '--socket', d.socket, '-P', '-o', 'address,state', '-a']);
    assert.match(a.out, /^198\.18\.0\.12:up$/m, `the live-added address is still served: ${a.out}`);
    assert.doesNotMatch(a.out, /^198\.18\.0\.13:/m, `the file edit waits for SIGHUP: ${a.out}`);
    const fds = spawnSync('ls', ['-l', `/proc/${pid}/fd`], { encoding: 'utf8' }).stdout;
    assert.equal((fds.match(/\/dev\/net\/tun/g) ?? []).length, 1, `one TUN descriptor: ${fds}`);
    const hup = d.log().length;
    process.kill(pid, 'SIGHUP');
    await d.waitLog('SIGHUP: rereading the configuration', 10_000, hup);
    await waitFor('198.18.0.13 served after SIGHUP', () =>
      /^198\.18\.0\.13:up$/m.test(inHost(prefix, [BIN('ipmpstat'), '--socket', d!.socket, '-P', '-o', 'address,state', '-a']).out), 10_000, 100);
    const a2 = inHost(prefix, [BIN('ipmpstat'), '--socket', d.socket, '-P', '-o', 'address,state', '-a']);
    assert.match(a2.out, /^198\.18\.0\.12:up$/m, `SIGHUP after the upgrade keeps the live-added address: ${a2.out}`);
  });

  test('SIGUSR2 with a configuration the new image would refuse: refused with the reason, the running image continues', async () => {
    d = d?.alive() ? d : await startDaemon(prefix, YAML);
    const pid = d.pid;
    const conf = join(d.dir, 'ipmp.yaml');
    const good = readFileSync(conf, 'utf8');
    writeFileSync(conf, good.replace('eth2: {}', 'eth2: { standby: maybe }'));
    s = await openStream(prefix, 5603);
    try {
      const from = d.log().length;
      process.kill(pid, 'SIGUSR2');
      await d.waitLog(/SIGUSR2: upgrade refused: .*\n/, 30_000, from);
      const line = d.log().slice(from).split('\n').find((l) => l.includes('upgrade refused')) ?? '';
      assert.match(line, /^SIGUSR2: upgrade refused: .*ipmp\.yaml:\d+: groups\..*standby: expected true or false, got "maybe"; the running image continues$/);
      await flowed(s, AFTER_BYTES, 'after the refused upgrade');
      assert.ok(d.alive());
      assert.doesNotMatch(d.log().slice(from), /re-executing|ready/);
      assert.equal(inHost(prefix, [BIN('ipmpstat'), '--socket', d.socket, '-g']).code, 0);
    } finally {
      writeFileSync(conf, good);
    }
    const r = await closeStream(s);
    s = undefined;
    assert.ok(r.host.ok && r.peer.ok, JSON.stringify(r));
  });

  test('a new version that fails after re-execution ends the process; ipmp0 stays and the next start re-attaches', async (t) => {
    if (d?.alive()) await d.kill9();
    // The daemon runs from a copy of bin/ipmpd, which the "upgrade" then replaces by a
    // program that passes `--check` and fails to start.
    const dir = mkdtempSync(join(tmpdir(), 'ipmp-upg-'));
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'bin'));
    symlinkSync(join(REPO, 'dist'), join(dir, 'dist'));
    const program = join(dir, 'bin', 'ipmpd');
    copyFileSync(BIN('ipmpd'), program);
    try {
      d = await startDaemon(prefix, YAML, { program });
      s = await openStream(prefix, 5604);
      await flowed(s, AFTER_BYTES, 'before the upgrade');
      writeFileSync(program, [
        "if (process.argv.includes('--check')) process.exit(0);",
        "process.stderr.write('ipmpd: cannot start: a defect of this version\\n');",
        'process.exit(1);', ''].join('\n'));
      const from = d.log().length;
      process.kill(d.pid, 'SIGUSR2');
      await waitFor('the new image to exit', () => !d!.alive(), 30_000, 20);
      const log = d.log().slice(from);
      assert.equal(d.proc.exitCode, 1, log);
      assert.match(log, /SIGUSR2: re-executing in place[^]*ipmpd: cannot start: a defect of this version/);
      const addrs = spawnSync('ip', ['-n', hostNs(prefix), '-4', '-o', 'addr', 'show', 'dev', TUN], { encoding: 'utf8' }).stdout;
      assert.match(addrs, new RegExp(`inet ${DATA.replace(/\./g, '\\.')}/24`), `${TUN} keeps its addresses: ${addrs}`);
      await d.kill9();
      d = await startDaemon(prefix, YAML);
      await flowed(s, AFTER_BYTES, 'after the next start');
      const r = await closeStream(s);
      s = undefined;
      t.diagnostic(`longest gap ${Math.max(r.host.maxGapMs, r.peer.maxGapMs)} ms`);
      assert.ok(r.host.ok && r.peer.ok, JSON.stringify(r));
      assert.equal(r.host.received, r.peer.sent);
      assert.equal(r.peer.received, r.host.sent);
      assert.match(d.log(), /recovered state left by a previous instance/);
      assert.match(d.log(), new RegExp(`${TUN}: re-attaching the persistent interface`));
      assert.deepEqual(offlineOf(prefix, d.socket), ['eth2'], 'eth2 is still offline');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a stalled control thread is logged with the length of the stall', async () => {
    d = d?.alive() ? d : await startDaemon(prefix, YAML);
    const from = d.log().length;
    process.kill(d.pid, 'SIGSTOP');
    // The stall itself: the daemon cannot run for this long.
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(d.pid, 'SIGCONT');
    await d.waitLog(/control thread event loop stalled for \d+ ms \(bound 500 ms\)/, 10_000, from);
    const ms = Number(/stalled for (\d+) ms/.exec(d.log().slice(from))?.[1]);
    assert.ok(ms >= 1000 && ms < 10_000, `reported ${ms} ms for a 1500 ms stop`);
    assert.equal(inHost(prefix, [BIN('ipmpstat'), '--socket', d.socket, '-g']).code, 0, 'the daemon serves after the stall');
  });
});
