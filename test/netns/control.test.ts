/**
 * The control surface against a live daemon in the lab: ipmpstat output
 * follows the real state through a failover, unprivileged users can query
 * and cannot change anything, live verbs keep a running TCP stream whole,
 * bad requests are refused while the daemon keeps serving, and the metrics
 * endpoint reports the same state.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { uniquePrefix } from '../../src/lab/fixture.js';
import { REPO, startDaemon, snapshot, type RunningDaemon } from './helpers/daemon.js';
import { execIn, hostNs, labDown, labFail, labRepair, labUp, peerNs, spawnIn, waitFor } from '../../src/lab/lab.js';

const root = process.getuid?.() === 0;
const skip = root ? false : 'needs root (network namespaces)';
const BIN = (name: string) => join(REPO, 'bin', name);

function inHost(prefix: string, argv: string[], uid?: number): { code: number; out: string; err: string } {
  const base = ['netns', 'exec', hostNs(prefix)];
  const cmd = uid === undefined ? [...base, process.execPath, ...argv]
    : [...base, 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, ...argv];
  const r = spawnSync('ip', cmd, { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const YAML = `FAILURE_DETECTION_TIME: 10000
groups:
  ipmp0:
    interfaces: { eth0: {}, eth1: {} }
    addresses: [198.18.0.10/24, 198.18.0.11/24]
`;

describe('control surface on a live daemon', { skip, timeout: 240_000 }, () => {
  let d: RunningDaemon;
  const prefix = uniquePrefix();

  before(async () => {
    await labUp({ nics: 3, prefix });
    d = await startDaemon(prefix, YAML, { args: ['--metrics', '127.0.0.1:9433'] });
  });
  after(async () => {
    await d?.stop().catch(() => undefined);
    await labDown(prefix);
  });

  test('an unprivileged user can query and cannot change anything', () => {
    const q = inHost(prefix, [BIN('ipmpstat'), '--socket', d.socket, '-g'], 65534);
    assert.equal(q.code, 0, q.err);
    assert.match(q.out, /^ipmp0\s+ipmp0\s+ok\s/m);
    const c = inHost(prefix, [BIN('if_mpadm'), '--socket', d.socket, '-d', 'eth1'], 65534);
    assert.equal(c.code, 1);
    assert.match(c.err, /permission denied/);
    const v = inHost(prefix, [BIN('ipmp'), '--socket', d.socket, 'create-addr', '-a', '198.18.0.99/24', 'ipmp0'], 65534);
    assert.equal(v.code, 1);
    assert.match(v.err, /permission denied/);
    const i = inHost(prefix, [BIN('ipmpstat'), '--socket', d.socket, '-i']);
    assert.match(i.out, /^eth1\s+yes\s/m, 'eth1 still active');
  });

  test('garbage, oversized and slow requests are refused and the daemon keeps serving', () => {
    const script = `
      const net = require('node:net');
      const talk = (payload, waitEnd) => new Promise((res) => {
        const s = net.connect(${JSON.stringify(d.socket)});
        let buf = ''; s.on('data', (x) => { buf += x; if (!waitEnd && buf.includes('\\n')) { s.destroy(); res(buf); } });
        s.on('close', () => res(buf)); s.on('error', () => res(buf));
        if (payload !== null) s.write(payload); else setTimeout(() => s.write('{"id":1,'), 100);
      });
      (async () => {
        const a = await talk('this is not json\\n');
        const b = await talk('{"id":2,"op":"' + 'x'.repeat(70000) + '"}\\n');
        const c = await talk(null, true);
        const e = await talk('{"id":3,"op":"snapshot"}\\n');
        console.log(JSON.stringify({ a, b, c, e }));
      })();`;
    const r = spawnSync('ip', ['netns', 'exec', hostNs(prefix), process.execPath, '-e', script], { encoding: 'utf8', timeout: 30_000 });
    const o = JSON.parse(r.stdout) as Record<string, string>;
    assert.match(o.a, /"code":"EBADREQ"/);
    assert.match(o.b, /"code":"ETOOBIG"/);
    assert.match(o.c, /"code":"ETIMEDOUT"/);
    assert.match(o.e, /"ok":true/);
  });

  test('live verbs keep a running TCP stream whole', async () => {
    spawnIn(peerNs(prefix), ['iperf3', '-s', '-1']);
    await waitFor('iperf3 server', async () => {
      const r = await execIn(peerNs(prefix), ['ss', '-ltn']);
      return r.stdout.includes(':5201');
    }, 5000, 50);
    const client = spawnIn(hostNs(prefix), ['iperf3', '-c', '198.18.0.1', '-t', '5', '-b', '400M', '-J']);
    let cout = '';
    client.stdout?.on('data', (b: Buffer) => { cout += b.toString(); });
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(inHost(prefix, [BIN('ipmp'), '--socket', d.socket, 'add-ipmp', '-i', 'eth2', 'ipmp0']).code, 0);
    assert.equal(inHost(prefix, [BIN('ipmp'), '--socket', d.socket, 'create-addr', '-a', '198.18.0.12/24', 'ipmp0']).code, 0);
    await new Promise<void>((res) => client.once('exit', () => res()));
    const res = JSON.parse(cout) as { end: { sum_sent: { bytes: number; retransmits: number }; sum_received: { bytes: number } }; error?: string };
    assert.equal(res.error, undefined);
    assert.ok(res.end.sum_received.bytes > 50e6, `received ${res.end.sum_received.bytes}`);
    assert.ok(res.end.sum_sent.retransmits <= 20, `retransmits ${res.end.sum_sent.retransmits}`);
    const s = await snapshot(d.socket);
    assert.ok(s.interfaces.some((i) => i.name === 'eth2' && i.active));
    assert.ok(s.addresses.some((a) => a.address === '198.18.0.12' && a.inbound !== ''));
    const ping = spawnSync('ip', ['netns', 'exec', peerNs(prefix), 'ping', '-c', '2', '-i', '0.2', '-W', '2', '198.18.0.12'], { timeout: 10_000 });
    assert.equal(ping.status, 0);
  });

  test('ipmpstat and metrics follow the real state through a failover', async () => {
    await labFail(prefix, 'eth0');
    await d.waitLog('IP interface failure detected on eth0 of group ipmp0', 5000);
    const g = inHost(prefix, [BIN('ipmpstat'), '--socket', d.socket, '-g']).out;
    assert.match(g, /^ipmp0\s+ipmp0\s+degraded\s+--\s+.*\[eth0\]/m);
    const i = inHost(prefix, [BIN('ipmpstat'), '--socket', d.socket, '-i']).out;
    assert.match(i, /^eth0\s+no\s+ipmp0\s+\S+\s+down\s+disabled\s+failed/m);
    const a = inHost(prefix, [BIN('ipmpstat'), '--socket', d.socket, '-P', '-o', 'address,inbound', '-a']).out;
    assert.doesNotMatch(a, /:eth0$/m, 'no address is bound to the failed NIC');
    // The peer learnt every address at a MAC of a working NIC.
    execFileSync('ip', ['netns', 'exec', peerNs(prefix), 'ping', '-c', '1', '-W', '2', '198.18.0.10'], { timeout: 10_000 });
    const neigh = execFileSync('ip', ['-n', peerNs(prefix), 'neigh', 'show', '198.18.0.10'], { encoding: 'utf8' });
    assert.doesNotMatch(neigh, /02:00:00:00:00:01/);
    const metrics = spawnSync('ip', ['netns', 'exec', hostNs(prefix), process.execPath, '-e',
      "fetch('http://127.0.0.1:9433/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))"], { encoding: 'utf8', timeout: 10_000 }).stdout;
    assert.match(metrics, /^ipmp_interface_state\{interface="eth0",group="ipmp0",state="failed"\} 1$/m);
    assert.match(metrics, /^ipmp_group_state\{group="ipmp0",state="degraded"\} 1$/m);
    assert.match(metrics, /^ipmp_failovers_total\{group="ipmp0"\} [1-9]/m);
    // The echo replies above left through a working NIC: which one is up to the flow hash.
    const out = (n: string): number => Number(new RegExp(`^ipmp_interface_out_packets_total\\{interface="${n}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    assert.ok(out('eth1') + out('eth2') > 0, `packets sent through eth1 or eth2:\n${metrics.split('\n').filter((l) => l.includes('out_packets')).join('\n')}`);
    await labRepair(prefix, 'eth0');
    await d.waitLog('IP interface repair detected on eth0 of group ipmp0', 5000);
    const g2 = inHost(prefix, [BIN('ipmpstat'), '--socket', d.socket, '-g']).out;
    assert.match(g2, /^ipmp0\s+ipmp0\s+ok\s/m);
  });

  test('offline is refused for the last usable NIC and survives a daemon restart', async () => {
    const mpadm = (...a: string[]) => inHost(prefix, [BIN('if_mpadm'), '--socket', d.socket, ...a]);
    assert.equal(mpadm('-d', 'eth1').code, 0);
    assert.equal(mpadm('-d', 'eth2').code, 0);
    const again = mpadm('-d', 'eth1');
    assert.equal(again.code, 1);
    assert.match(again.err, /^if_mpadm: fatal: interface eth1 is already offline$/m);
    const last = mpadm('-d', 'eth0');
    assert.equal(last.code, 1);
    assert.match(last.err, /^if_mpadm: fatal: cannot offline eth0: no other functioning interfaces are in its IPMP group$/m);
    assert.equal(spawnSync('ip', ['netns', 'exec', peerNs(prefix), 'ping', '-c', '1', '-W', '2', '198.18.0.11'], { timeout: 10_000 }).status, 0);
    assert.equal(await d.stop(), 0);
    d = await startDaemon(prefix, YAML, { args: ['--metrics', '127.0.0.1:9433'] });
    const i = inHost(prefix, [BIN('ipmpstat'), '--socket', d.socket, '-i']).out;
    assert.match(i, /^eth1\s+no\s+ipmp0\s+\S+\s+up\s+disabled\s+offline/m, i);
    assert.match(i, /^eth0\s+yes\s/m, i);
    assert.equal(mpadm('-r', 'eth1').code, 0);
    const i2 = inHost(prefix, [BIN('ipmpstat'), '--socket', d.socket, '-i']).out;
    assert.match(i2, /^eth1\s+yes\s/m, i2);
    const notOff = mpadm('-r', 'eth1');
    assert.equal(notOff.code, 1);
    assert.match(notOff.err, /interface eth1 is not offline/);
  });
});
