// The lab in real network namespaces: topology, faults, rates, status, teardown.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import {
  labUp, labDown, labFail, labRepair, labStatus, execIn, spawnIn, hostNs, peerNs, swNs, waitFor, LabError,
  type LabInfo,
} from '../../src/lab/lab.js';
import { labDownSync } from '../../src/lab/lab.js';
import { formatStatus, labMain } from '../../src/lab/cli.js';
import { uniquePrefix, withLab } from '../../src/lab/fixture.js';

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const used: string[] = [];

function prefix(): string {
  const p = uniquePrefix();
  used.push(p);
  return p;
}

function namespacesOf(p: string): string[] {
  try {
    return readdirSync('/run/netns').filter((n) => n.startsWith(`${p}-`));
  } catch {
    return [];
  }
}

async function carrier(p: string, nic: string): Promise<string> {
  return (await execIn(hostNs(p), ['cat', `/sys/class/net/${nic}/carrier`])).stdout.trim();
}

async function swLink(p: string, port: string): Promise<{ master?: string; flags: string[] }> {
  const { stdout } = await execIn(swNs(p), ['ip', '-j', 'link', 'show', port]);
  return (JSON.parse(stdout) as { master?: string; flags: string[] }[])[0];
}

async function bridgePorts(p: string): Promise<string[]> {
  const { stdout } = await execIn(swNs(p), ['bridge', '-j', 'link', 'show']);
  return (JSON.parse(stdout) as { ifname: string }[]).map((l) => l.ifname);
}

async function waitCarrier(p: string, nic: string, want: '0' | '1'): Promise<void> {
  await waitFor(`carrier ${want} on ${nic}`, async () => (await carrier(p, nic)) === want, 5_000);
}

describe('lab', { skip }, () => {
  after(() => {
    for (const p of used) labDownSync(p);
  });

  describe('two NICs, one switch', () => {
    let p = '';
    let lab: LabInfo;
    before(async () => {
      p = prefix();
      lab = await labUp({ prefix: p, nics: 2 });
    });
    after(async () => {
      await labDown(p);
    });

    it('creates the three namespaces and NICs with carrier and distinct MACs', async () => {
      assert.deepEqual(namespacesOf(p).sort(), [hostNs(p), peerNs(p), swNs(p)].sort());
      const { stdout } = await execIn(hostNs(p), ['ip', '-j', 'addr', 'show']);
      const links = JSON.parse(stdout) as { ifname: string; address: string; addr_info: unknown[] }[];
      const eths = links.filter((l) => /^eth\d$/.test(l.ifname));
      assert.deepEqual(eths.map((l) => l.ifname).sort(), ['eth0', 'eth1']);
      assert.equal(new Set(eths.map((l) => l.address)).size, 2);
      assert.deepEqual(eths.map((l) => l.address).sort(), lab.nics.map((n) => n.mac).sort());
      for (const l of eths) assert.deepEqual(l.addr_info, [], `${l.ifname} has no addresses`);
      assert.ok(!links.some((l) => l.ifname === 'ipmp0'));
      for (const n of ['eth0', 'eth1']) assert.equal(await carrier(p, n), '1');
    });

    it('attaches one switch port per NIC and the peer to the bridge', async () => {
      const ports = await bridgePorts(p);
      for (const port of ['swp0', 'swp1', 'peerp0']) assert.ok(ports.includes(port), `${port} in ${ports.join(',')}`);
    });

    it('gives the peer its addresses and the remote network', async () => {
      const { stdout } = await execIn(peerNs(p), ['ip', '-j', 'addr', 'show']);
      const text = stdout;
      for (const a of ['198.18.0.1', '198.18.0.2', '198.18.0.3', '2001:db8::1', '198.19.0.1', '2001:db8:1::1']) {
        assert.ok(text.includes(`"${a}"`), a);
      }
      const fwd = await execIn(peerNs(p), ['sysctl', '-n', 'net.ipv4.ip_forward']);
      assert.equal(fwd.stdout.trim(), '1');
    });

    it('refuses a second up with a one-line message', async () => {
      await assert.rejects(labUp({ prefix: p }), (err: Error) => {
        assert.ok(err instanceof LabError);
        assert.match(err.message, /already exists/);
        assert.ok(!err.message.includes('\n'));
        return true;
      });
    });

    it('fail takes carrier away from the NIC and repair brings it back', async () => {
      await labFail(p, 'eth0');
      await waitCarrier(p, 'eth0', '0');
      assert.equal(await carrier(p, 'eth1'), '1');
      const s = await labStatus(p);
      assert.equal(s.links[0].port?.fault, 'link');
      assert.match(formatStatus(s), /link \(swp0\)/);
      await labRepair(p, 'eth0');
      await waitCarrier(p, 'eth0', '1');
      assert.equal((await labStatus(p)).links[0].port?.fault, 'none');
    });

    it('fail --silent keeps carrier and detaches the port; repair re-attaches it', async () => {
      await labFail(p, 'eth1', { silent: true });
      assert.equal(await carrier(p, 'eth1'), '1');
      assert.equal((await swLink(p, 'swp1')).master, undefined);
      assert.ok(!(await bridgePorts(p)).includes('swp1'));
      const s = await labStatus(p);
      assert.equal(s.links[1].port?.fault, 'silent');
      assert.match(formatStatus(s), /silent \(swp1\)/);
      await labRepair(p, 'eth1');
      assert.equal((await swLink(p, 'swp1')).master, 'br0');
      assert.equal(await carrier(p, 'eth1'), '1');
    });

    it('fail --delete removes the NIC and its port; repair re-creates them as they were', async () => {
      await labFail(p, 'eth1', { delete: true });
      await assert.rejects(carrier(p, 'eth1'), /No such file/, 'eth1 is gone from the host namespace');
      assert.ok(!(await bridgePorts(p)).includes('swp1'));
      const s = await labStatus(p);
      assert.equal(s.links[1].port?.fault, 'deleted');
      assert.equal(s.links[1].mac, null);
      assert.match(formatStatus(s), /deleted \(swp1\)/);
      await assert.rejects(labFail(p, 'eth1', { delete: true }), /eth1 is already deleted/);
      await labRepair(p, 'eth1');
      assert.equal(await carrier(p, 'eth1'), '1');
      assert.equal((await swLink(p, 'swp1')).master, 'br0');
      const s2 = await labStatus(p);
      assert.equal(s2.links[1].mac, '02:00:00:00:01:01');
      assert.equal(s2.links[1].port?.fault, 'none');
    });

    it('rejects an unknown interface', async () => {
      await assert.rejects(labFail(p, 'eth7'), /unknown interface 'eth7'/);
      await assert.rejects(labFail(p, 'peerp0', { delete: true }), /not a host NIC/);
    });
  });

  it('--rate installs tbf on both ends of every NIC', async () => {
    const p = prefix();
    await labUp({ prefix: p, nics: 2, rate: '100mbit' });
    try {
      for (const [ns, dev] of [[hostNs(p), 'eth0'], [hostNs(p), 'eth1'], [swNs(p), 'swp0'], [swNs(p), 'swp1']]) {
        const { stdout } = await execIn(ns, ['tc', 'qdisc', 'show', 'dev', dev]);
        assert.match(stdout, /qdisc tbf .*rate 100Mbit/, `${ns} ${dev}: ${stdout}`);
      }
      const s = await labStatus(p);
      assert.equal(s.links[0].rate, '100mbit');
    } finally {
      await labDown(p);
    }
  });

  it('per-nic switches: an uplink fault keeps carrier', async () => {
    const p = prefix();
    await labUp({ prefix: p, nics: 2, switches: 'per-nic', standby: 1 });
    try {
      const ports = await bridgePorts(p);
      for (const port of ['swp0', 'swp1', 'upl0', 'upl1', 'cpl0', 'cpl1', 'peerp0']) assert.ok(ports.includes(port), port);
      await labFail(p, 'upl0');
      assert.equal(await carrier(p, 'eth0'), '1');
      const s = await labStatus(p);
      assert.equal(s.links[0].uplink?.fault, 'link');
      assert.equal(s.links[1].standby, true);
      await labRepair(p, 'upl0');
      assert.equal((await labStatus(p)).links[0].uplink?.fault, 'none');
    } finally {
      await labDown(p);
    }
  });

  it('down removes every namespace of the prefix and succeeds when nothing exists', async () => {
    const p = prefix();
    await labUp({ prefix: p });
    assert.equal(namespacesOf(p).length, 3);
    const ping = spawnIn(peerNs(p), ['ping', '-q', '198.19.0.1']);
    const exited = new Promise((resolve) => ping.once('exit', resolve));
    await labDown(p);
    await exited;
    assert.deepEqual(namespacesOf(p), []);
    await labDown(p);
    assert.equal((await labStatus(p)).exists, false);
  });

  it('withLab tears down when the body throws', async () => {
    let seen = '';
    await assert.rejects(withLab({ nics: 1 }, async (lab) => {
      seen = lab.prefix;
      assert.equal(namespacesOf(lab.prefix).length, 3);
      throw new Error('boom');
    }), /boom/);
    assert.ok(seen);
    assert.deepEqual(namespacesOf(seen), []);
  });

  it('labMain: usage errors exit 2, help exits 0', async () => {
    const write = process.stderr.write.bind(process.stderr);
    const out = process.stdout.write.bind(process.stdout);
    process.stderr.write = (() => true) as typeof process.stderr.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      assert.equal(await labMain(['up', '--bogus']), 2);
      assert.equal(await labMain(['fail']), 2);
      assert.equal(await labMain(['fail', 'eth0', '--silent', '--delete']), 2);
      assert.equal(await labMain(['frobnicate']), 2);
      assert.equal(await labMain(['--help']), 0);
      assert.equal(await labMain(['up', '--nics', '2', '--standby', '2', '--prefix', 'zzbad']), 2);
      assert.equal(await labMain(['up', '--rate', 'fast']), 2);
    } finally {
      process.stderr.write = write;
      process.stdout.write = out;
    }
  });
});
