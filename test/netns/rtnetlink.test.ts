// Rtnetlink and RtnetlinkEvents against the real kernel, inside a private
// network namespace: links, MTU, addresses, route dumps, carrier events.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// dist/test/netns → repository root
const root = join(here, '..', '..', '..');
const addon = join(root, 'native-bindings', 'build', 'Release', 'ipmp_native.node');
const child = join(here, 'helpers', 'rtnl-child.js');

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  if (!existsSync(addon)) return 'native addon not built (run `npm run build:native`)';
  return false;
}

const skip = skipReason();
const ns = `ipmpt-rtnl-${process.pid}`;

describe('rtnetlink in a network namespace', { skip }, () => {
  let out: Record<string, any> = {};

  before(() => {
    execFileSync('ip', ['netns', 'add', ns], { stdio: ['ignore', 'ignore', 'pipe'] });
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, child], {
      encoding: 'utf8', timeout: 60_000, maxBuffer: 4 << 20,
    });
    const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
    try {
      out = JSON.parse(line) as Record<string, any>;
    } catch {
      throw new Error(`child printed no JSON (status ${r.status}, signal ${r.signal}): ${r.stdout}\n${r.stderr}`);
    }
    if (out.error) throw new Error(`child failed: ${out.error}\n${r.stderr}`);
  });

  after(() => {
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  });

  it('reads links by name, index and dump', () => {
    assert.equal(out.initial.name, 'rt0');
    assert.equal(out.initial.kind, 'veth');
    assert.equal(out.initial.up, false);
    assert.equal(out.initial.mtu, 1500);
    assert.equal(out.initial.macLen, 6);
    assert.equal(out.byIndexName, 'rt0');
    assert.equal(out.missing, null);
    assert.equal(out.missingIndex, null);
    assert.deepEqual(out.dumpNames, ['lo', 'rt0', 'rt1']);
    assert.equal(out.linkCreatedEvent, true);
  });

  it('sets admin state and MTU', () => {
    assert.deepEqual(out.afterUp, { up: true, mtu: 1400 });
    assert.equal(out.mtuEvent, true);
    assert.equal(out.afterDown, false);
  });

  it('reports kernel errors with errno name and ext-ack text', () => {
    assert.equal(out.badMtu.code, 'EINVAL');
    assert.match(out.badMtu.message, /^rtnetlink setMtu ifindex \d+ mtu 10: .+ \(EINVAL\)/);
    assert.equal(out.addrDup.code, 'EEXIST');
    assert.match(out.addrDup.message, /^rtnetlink addAddr 198\.18\.0\.2\/24 ifindex \d+: .+ \(EEXIST\)/);
    assert.equal(out.delMissing.code, 'EADDRNOTAVAIL');
  });

  it('receives carrier changes as RTM_NEWLINK events', () => {
    assert.equal(out.carrierDownEvent.carrier, false);
    assert.equal(out.carrierDownEvent.lowerUp, false);
    assert.equal(out.carrierDownEvent.running, false);
    assert.equal(out.carrierUpEvent.carrier, true);
    assert.equal(out.carrierUpEvent.lowerUp, true);
    assert.deepEqual(out.linkAfterCarrier, { carrier: true, lowerUp: true, running: true, operstate: 'up' });
    assert.equal(out.linkDelEvent, true);
  });

  it('adds, lists and deletes IPv4 and IPv6 addresses', () => {
    assert.deepEqual(out.addrs4, [{ address: '198.18.0.2', prefixlen: 24, broadcast: '198.18.0.255' }]);
    const v6 = new Map<string, any>(out.addrs6.map((a: any) => [a.address, a]));
    assert.deepEqual(v6.get('2001:db8::2'), { address: '2001:db8::2', prefixlen: 64, nodad: true, noprefixroute: false });
    assert.deepEqual(v6.get('2001:db8:1::2'), { address: '2001:db8:1::2', prefixlen: 64, nodad: true, noprefixroute: true });
    assert.equal(out.addrsAllCount, out.addrs4.length + out.addrs6.length);
    assert.equal(out.addrReplace, null);
    assert.equal(out.addrEvent4, 24);
    assert.equal(out.addrEvent6, 64);
    assert.deepEqual(out.addrsAfterDel, ['2001:db8:1::2']);
    assert.equal(out.delMissingTolerated, null);
    assert.equal(out.addrDelEvent, true);
  });

  it('dumps routes of all tables, with gateways', () => {
    assert.deepEqual(out.viaRoute, { gateway: '198.18.0.1', oif: true, table: 254, type: 1 });
    assert.equal(out.connected4, true);
    assert.equal(out.localTable4, true);
    assert.deepEqual(out.viaRoute6, { gateway: '2001:db8::1', oif: true, table: 254 });
    assert.equal(out.noPrefixRoute6, true);
    assert.equal(out.routeEvent, '198.18.0.1');
    assert.equal(out.routeDelEvent, 24);
  });

  it('works inside a worker thread', () => {
    assert.deepEqual(out.worker, { name: 'rt0', links: 3, eventMtu: 1280 });
  });

  it('loses no events and decodes all of them', () => {
    assert.equal(out.overruns, 0);
    assert.deepEqual(out.eventErrors, []);
  });
});
