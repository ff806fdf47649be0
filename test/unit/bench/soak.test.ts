// The fault soak's own logic, without root: the seeded stream and schedule, the transfer
// verdicts, the snapshot expectations, the summary's verdict, argument parsing, and the
// traffic agent over loopback (a good transfer, a corrupted one, a short one).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BLOCK, Rng, StreamGen } from '../../../bench/soak/prng.js';
import { ALL_DOWN, KINDS, schedule } from '../../../bench/soak/faults.js';
import { judge, type TransferRecord } from '../../../bench/soak/traffic.js';
import { groupDown, outOfService, settled } from '../../../bench/soak/states.js';
import { rssSlopeMbPerMin, summarize, type SoakResult } from '../../../bench/soak/report.js';
import { parseSoakArgs } from '../../../bench/soak/run.js';
import { hookedDevices } from '../../../bench/soak/leaks.js';
import type { GroupSetup } from '../../../bench/soak/daemon.js';
import type { Snapshot, SnapshotInterface } from '../../../src/daemon/protocol.js';

const AGENT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bench', 'soak', 'agent.js');

function stream(seed: number, offset: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  new StreamGen(seed).read(offset, b, 0, n);
  return b;
}

describe('soak stream and schedule', () => {
  it('StreamGen gives the same bytes whatever the offsets and chunk sizes', () => {
    const whole = stream(42, 0, 5 * BLOCK + 123);
    const g = new StreamGen(42);
    const pieces = Buffer.alloc(whole.length);
    const rng = new Rng(1);
    for (let off = 0; off < whole.length;) {
      const n = Math.min(rng.int(1, 3 * BLOCK), whole.length - off);
      g.read(off, pieces, off, n);
      off += n;
    }
    assert.ok(pieces.equals(whole));
    assert.ok(stream(42, 3 * BLOCK - 7, 100).equals(whole.subarray(3 * BLOCK - 7, 3 * BLOCK + 93)));
    assert.ok(!stream(43, 0, 256).equals(whole.subarray(0, 256)), 'another seed, other bytes');
    assert.ok(!whole.subarray(0, BLOCK).equals(whole.subarray(BLOCK, 2 * BLOCK)), 'blocks differ');
    const far = 5 * 4294967296 + 17;
    assert.ok(!stream(42, far, 64).equals(stream(42, far - 4294967296 * 5, 64)), 'distant offsets differ');
  });

  it('Rng is reproducible and stays in range', () => {
    const a = new Rng(99);
    const b = new Rng(99);
    for (let i = 0; i < 1000; i++) {
      const x = a.int(3, 6);
      assert.equal(x, b.int(3, 6));
      assert.ok(x >= 3 && x <= 6);
    }
  });

  it('schedule covers every kind once n allows, evenly, reproducibly', () => {
    const s12 = schedule(new Rng(7), 12);
    assert.equal(s12.length, 12);
    for (const k of KINDS) assert.ok(s12.includes(k), `${k} missing from ${s12.join(',')}`);
    const s100 = schedule(new Rng(5), 100);
    const counts = KINDS.map((k) => s100.filter((x) => x === k).length);
    assert.equal(counts.reduce((x, y) => x + y), 100);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, counts.join(','));
    assert.deepEqual(schedule(new Rng(5), 100), s100);
    assert.notDeepEqual(schedule(new Rng(6), 100), s100);
    assert.ok(!s100.includes(ALL_DOWN), 'all-down only when asked for');
    const withAll = schedule(new Rng(5), 16, [...KINDS, ALL_DOWN]);
    assert.equal(withAll.filter((k) => k === ALL_DOWN).length, 2);
  });
});

function record(over: Partial<TransferRecord> = {}): TransferRecord {
  const sha = 'ab'.repeat(32);
  return {
    id: 1, dir: 'host→peer', src: '198.18.0.10', dst: '198.18.0.1', bytes: 1000, seed: 1, startedAt: 1000, endedAt: 5000,
    send: { ev: 'send', id: 1, bytes: 1000, sha256: sha, ms: 4000 },
    recv: { ev: 'recv', id: 1, bytes: 1000, expected: 1000, sha256: sha, mismatchAt: -1, ms: 4000 },
    ok: false, failure: '', codes: [], spansKill: false, unfinished: false, ...over,
  };
}

describe('soak transfer verdicts', () => {
  it('a transfer is good only when both ends agree on every byte', () => {
    const good = record();
    judge(good);
    assert.equal(good.ok, true);
    assert.equal(good.failure, '');

    const sha = record();
    sha.recv!.sha256 = 'cd'.repeat(32);
    judge(sha);
    assert.equal(sha.ok, false);
    assert.match(sha.failure, /sha256 differs/);

    const corrupt = record();
    corrupt.recv!.mismatchAt = 77;
    judge(corrupt);
    assert.match(corrupt.failure, /differs at byte 77/);

    const reset = record();
    reset.send = { ...reset.send!, error: 'read ECONNRESET', code: 'ECONNRESET', bytes: 500 };
    reset.recv = { ...reset.recv!, bytes: 500, error: 'closed', code: 'CLOSED' };
    judge(reset);
    assert.equal(reset.ok, false);
    assert.deepEqual(reset.codes.sort(), ['CLOSED', 'ECONNRESET']);

    const missing = record({ recv: null });
    judge(missing);
    assert.match(missing.failure, /no report from the receiver/);
  });

  it('the verdict counts failures outside kill windows, reports the others apart', () => {
    const base = (): SoakResult => ({
      seed: 1, options: {}, seconds: 10, tun: 't', faults: [], transfers: [], orphanReceives: 0, kills: [], crashes: [],
      instances: [], leaks: [{ what: 'namespaces', ok: true, detail: '' }], problems: [], logTail: '', namespacesLeft: [],
    });
    const ok = record();
    judge(ok);
    const bad = record({ id: 2, recv: null });
    judge(bad);

    const r1 = base();
    r1.transfers = [ok, { ...bad, spansKill: true }];
    summarize(r1);
    assert.equal(r1.ok, true, r1.problems.join('; '));
    assert.equal(r1.acrossKill?.failed, 1);
    assert.equal(r1.clean?.completed, 1);

    const r2 = base();
    r2.transfers = [ok, bad];
    summarize(r2);
    assert.equal(r2.ok, false);
    assert.match(r2.problems.join('; '), /1 transfer\(s\) not spanning a kill failed/);

    const r3 = base();
    r3.transfers = [ok];
    r3.leaks.push({ what: 'nftables', ok: false, detail: 'left: netdev ipmp_x' });
    summarize(r3);
    assert.equal(r3.ok, false);
    assert.match(r3.problems.join('; '), /leak check 'nftables'/);

    const r4 = base();
    r4.transfers = [ok, { ...record({ id: 3 }), unfinished: true }];
    judge(r4.transfers[1]);
    summarize(r4);
    assert.equal(r4.clean?.unfinished, 1);
    assert.equal(r4.clean?.failed, 0);
  });
});

const SETUP: GroupSetup = {
  tun: 'ipmp0', fdtMs: 1000, targets: ['198.18.0.1'], addresses: ['198.18.0.10/24', '2001:db8::10/64'],
  nics: [{ name: 'eth0', testAddress: '', standby: false }, { name: 'eth1', testAddress: '', standby: false },
    { name: 'eth2', testAddress: '', standby: true }],
};

function nic(name: string, state: SnapshotInterface['state'], active: boolean, standby = false): SnapshotInterface {
  return {
    name, group: 'ipmp0', groupname: 'ipmp0', active, link: 'up', probe: 'ok', state, mac: '02:00:00:00:00:01', ifindex: 2,
    flags: { inactive: !active && state === 'ok', standby, mcast4: false, bcast4: false, mcast6: false, down: false, hwaddrdup: false },
  };
}

function snap(groupState: 'ok' | 'degraded' | 'failed', nics: SnapshotInterface[], bound: Record<string, string>): Snapshot {
  return {
    generation: 1,
    groups: [{ ifname: 'ipmp0', groupname: 'ipmp0', state: groupState, fdtMs: 1000, interfaces: nics.map((n) => n.name) }],
    interfaces: nics,
    addresses: Object.entries(bound).map(([address, inbound]) => ({
      address, prefixlen: address.includes(':') ? 64 : 24, up: true, group: 'ipmp0', inbound, outbound: [],
    })),
    targets: [],
  };
}

describe('soak expectations on the snapshot', () => {
  const healthy = (): SnapshotInterface[] => [nic('eth0', 'ok', true), nic('eth1', 'ok', true), nic('eth2', 'ok', false, true)];

  it('settled: group ok, non-standby active, standby inactive, exactly the configured addresses', () => {
    assert.equal(settled(snap('ok', healthy(), { '198.18.0.10': 'eth0', '2001:db8::10': 'eth1' }), SETUP), '');
    assert.match(settled(snap('degraded', healthy(), { '198.18.0.10': 'eth0', '2001:db8::10': 'eth1' }), SETUP), /degraded/);
    const deployed = [nic('eth0', 'ok', true), nic('eth1', 'ok', true), nic('eth2', 'ok', true, true)];
    assert.match(settled(snap('ok', deployed, { '198.18.0.10': 'eth0', '2001:db8::10': 'eth1' }), SETUP), /standby eth2 active/);
    assert.match(settled(snap('ok', healthy(), { '198.18.0.10': 'eth0' }), SETUP), /2001:db8::10 missing/);
    assert.match(settled(snap('ok', healthy(), { '198.18.0.10': 'eth0', '2001:db8::10': 'eth1', '198.18.0.12': 'eth0' }), SETUP),
      /unexpected address 198.18.0.12/);
    assert.match(settled(snap('ok', healthy(), { '198.18.0.10': 'eth2', '2001:db8::10': 'eth1' }), SETUP), /not active/);
  });

  it('out of service: the NIC in the wanted state, no address left on it, the group not failed', () => {
    const failed = [nic('eth0', 'failed', false), nic('eth1', 'ok', true), nic('eth2', 'ok', true, true)];
    assert.equal(outOfService(snap('degraded', failed, { '198.18.0.10': 'eth1', '2001:db8::10': 'eth2' }), SETUP, 'eth0', 'failed'), '');
    assert.match(outOfService(snap('degraded', failed, { '198.18.0.10': 'eth0', '2001:db8::10': 'eth2' }), SETUP, 'eth0', 'failed'),
      /still bound to eth0/);
    assert.match(outOfService(snap('degraded', failed, { '198.18.0.10': 'eth1', '2001:db8::10': 'eth2' }), SETUP, 'eth0', 'offline'),
      /eth0 is failed, not offline/);
    assert.match(outOfService(snap('failed', failed, { '198.18.0.10': 'eth1', '2001:db8::10': 'eth2' }), SETUP, 'eth0', 'failed'),
      /group ipmp0 failed/);
  });

  it('group down: the group failed and every NIC failed', () => {
    const all = [nic('eth0', 'failed', false), nic('eth1', 'failed', false), nic('eth2', 'failed', false, true)];
    assert.equal(groupDown(snap('failed', all, {}), SETUP), '');
    assert.match(groupDown(snap('degraded', all, {}), SETUP), /degraded/);
    const one = [nic('eth0', 'failed', false), nic('eth1', 'ok', true), nic('eth2', 'failed', false, true)];
    assert.match(groupDown(snap('failed', one, {}), SETUP), /eth1 ok/);
  });
});

describe('soak leak checks', () => {
  it('reads the hooked devices of a netdev chain in both of nft\'s spellings', () => {
    const many = 'table netdev ipmp_x {\n\tchain ingress {\n\t\ttype filter hook ingress devices = { eth0, eth1 } priority -500; policy drop;\n\t}\n}\n';
    const one = 'table netdev ipmp_x {\n\tchain ingress {\n\t\ttype filter hook ingress device "eth2" priority -500; policy drop;\n\t}\n}\n';
    assert.deepEqual(hookedDevices(many), ['eth0', 'eth1']);
    assert.deepEqual(hookedDevices(one), ['eth2']);
    assert.deepEqual(hookedDevices('table netdev ipmp_x {\n}\n'), []);
  });
});

describe('soak RSS trend', () => {
  it('is the slope over the second half of the samples, in MB/min', () => {
    const flat: [number, number][] = Array.from({ length: 20 }, (_, i) => [i * 5, i < 10 ? 80_000 + i * 1000 : 90_000]);
    assert.equal(rssSlopeMbPerMin(flat), 0);
    const rising: [number, number][] = Array.from({ length: 20 }, (_, i) => [i * 60, 80_000 + i * 1024]);
    assert.ok(Math.abs((rssSlopeMbPerMin(rising) ?? 0) - 1) < 1e-9);
    assert.equal(rssSlopeMbPerMin(rising.slice(0, 8)), null, 'too few samples');
  });
});

describe('soak arguments', () => {
  it('defaults, and one-line errors for bad values', () => {
    const p = parseSoakArgs([]);
    assert.notEqual(p, 'help');
    if (p === 'help') return;
    assert.equal(p.o.faults, 100);
    assert.equal(p.o.nics, 3);
    assert.equal(parseSoakArgs(['--help']), 'help');
    const ok = parseSoakArgs(['--faults', '12', '--seed', '7', '--nics', '2', '--json', '/tmp/x.json']);
    assert.ok(ok !== 'help' && ok.o.faults === 12 && ok.o.seed === 7 && ok.o.nics === 2 && ok.json === '/tmp/x.json');
    assert.throws(() => parseSoakArgs(['--faults', 'x']), /--faults: expected an integer 1..100000, got 'x'/);
    assert.throws(() => parseSoakArgs(['--nics', '1']), /--nics/);
    assert.throws(() => parseSoakArgs(['--transfer-sec', '9-3']), /expected MIN-MAX/);
    assert.throws(() => parseSoakArgs(['--transfer-sec', '0-3']), /at least 1 s/);
    assert.throws(() => parseSoakArgs(['--bogus']), /unrecognized argument '--bogus'/);
    assert.throws(() => parseSoakArgs(['--kinds', 'link,meteor']), /--kinds: unknown kind 'meteor'/);
    const k = parseSoakArgs(['--kinds', 'link,silent', '--all-down']);
    assert.ok(k !== 'help');
    assert.deepEqual(k.o.kinds, ['link', 'silent', ALL_DOWN]);
    assert.deepEqual(p.o.kinds, [...KINDS]);
    assert.throws(() => parseSoakArgs(['--seed']), /needs a value/);
  });
});

interface AgentEvent { ev: string; id?: number; bytes?: number; sha256?: string; mismatchAt?: number; code?: string; error?: string }

function startAgent(port: number): { proc: ChildProcess; events: AgentEvent[]; next: (pred: (e: AgentEvent) => boolean) => Promise<AgentEvent> } {
  const proc = spawn(process.execPath, [AGENT, '--port', String(port), '--lifetime', '60000'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const events: AgentEvent[] = [];
  const waiters: (() => void)[] = [];
  let buf = '';
  proc.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      events.push(JSON.parse(buf.slice(0, nl)) as AgentEvent);
      buf = buf.slice(nl + 1);
      for (const w of waiters.splice(0)) w();
    }
  });
  const next = (pred: (e: AgentEvent) => boolean): Promise<AgentEvent> => new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`no matching agent event within 10 s; got ${JSON.stringify(events)}`)), 10_000);
    const check = (): void => {
      const e = events.find(pred);
      if (e) { clearTimeout(t); res(e); } else waiters.push(check);
    };
    check();
  });
  return { proc, events, next };
}

function header(id: number, seed: number, bytes: number): Buffer {
  const h = Buffer.alloc(32);
  h.writeUInt32BE(0x534f414b, 0);
  h.writeUInt32BE(id, 4);
  h.writeUInt32BE(seed, 8);
  h.writeUInt32BE(10_000, 12);
  h.writeUInt32BE(0, 16);
  h.writeUInt32BE(bytes, 20);
  return h;
}

function rawSend(port: number, data: Buffer): Promise<void> {
  return new Promise((res, rej) => {
    const s = connect({ host: '127.0.0.1', port }, () => s.end(data));
    s.on('error', rej);
    s.on('close', () => res());
  });
}

describe('soak traffic agent over loopback', () => {
  it('verifies a good stream, finds the first corrupt byte, and reports a short one', async () => {
    const port = 20000 + (process.pid % 20000);
    const a = startAgent(port);
    try {
      await a.next((e) => e.ev === 'listening');
      const bytes = 3 * 65536 + 1001;
      a.proc.stdin?.write(`${JSON.stringify({ op: 'send', id: 5, host: '127.0.0.1', port, seed: 9, bytes, rate: 0, deadlineMs: 10_000 })}\n`);
      const sent = await a.next((e) => e.ev === 'send' && e.id === 5);
      const got = await a.next((e) => e.ev === 'recv' && e.id === 5);
      assert.equal(sent.error, undefined, JSON.stringify(sent));
      assert.equal(got.error, undefined, JSON.stringify(got));
      assert.equal(got.bytes, bytes);
      assert.equal(got.mismatchAt, -1);
      assert.equal(got.sha256, sent.sha256);
      assert.equal(got.sha256, createHash('sha256').update(stream(9, 0, bytes)).digest('hex'));

      const body = stream(11, 0, 5000);
      body[4321] ^= 0x40;
      await rawSend(port, Buffer.concat([header(6, 11, 5000), body]));
      const bad = await a.next((e) => e.ev === 'recv' && e.id === 6);
      assert.equal(bad.mismatchAt, 4321);
      assert.equal(bad.code, 'CORRUPT');

      await rawSend(port, Buffer.concat([header(7, 12, 5000), stream(12, 0, 4000)]));
      const short = await a.next((e) => e.ev === 'recv' && e.id === 7);
      assert.equal(short.code, 'SHORT');
      assert.equal(short.bytes, 4000);
    } finally {
      a.proc.stdin?.end();
      a.proc.kill('SIGKILL');
    }
  });
});
