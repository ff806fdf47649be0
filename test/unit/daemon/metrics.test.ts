// The Prometheus text carries every drop reason per direction, and the ARP/ND and conflict
// counters, read from the forwarding workers' counters at scrape time; the forwarding and probe
// workers' restarts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRegistry } from '../../../src/daemon/metrics.js';
import type { Daemon } from '../../../src/daemon/daemon.js';
import { Counters, D, DROP_REASONS, X_ARP_REPLIES, X_DEFENCES } from '../../../src/tables/counters.js';

test('metrics: drops by direction and reason, replies, defences and logged conflicts', async () => {
  const rx = new Counters();
  const tx = new Counters();
  rx.drop(D.vlan, 3);
  rx.drop(D.conflict, 2);
  rx.drop(D.rate_limited, 44);
  tx.drop(D.malformed, 7);
  rx.extra(X_ARP_REPLIES, 16);
  rx.extra(X_DEFENCES, 1);
  const stub = {
    snapshot: () => ({ generation: 0, groups: [], interfaces: [], addresses: [], targets: [] }),
    groups: [{
      name: 'ipmp0', nics: { list: [] }, announcer: { sent: 0 }, stats: { rebinds: 0, failovers: 0 },
      forwarding: {
        rxCounters: rx, txCounters: tx, conflictStats: { reported: 1, missed: 0 },
        status: () => ({ state: 'failing', restarts: 7, recentFailures: 5, lastFailure: 'exited (code 1)' }),
      },
      probing: { workerStatus: () => ({ state: 'restarting', restarts: 3, recentFailures: 3, lastFailure: 'exited with code 1' }) },
    }, {
      name: 'ipmp1', nics: { list: [] }, announcer: { sent: 0 }, stats: { rebinds: 0, failovers: 0 }, forwarding: null,
      probing: { workerStatus: () => null },
    }],
  } as unknown as Daemon;
  const text = await buildRegistry(stub).metrics();
  const value = (re: RegExp): number => {
    const m = re.exec(text);
    assert.ok(m, `no line matching ${re}`);
    return Number(m[1]);
  };
  for (const r of DROP_REASONS) {
    assert.match(text, new RegExp(`ipmp_forwarding_drops_total\\{group="ipmp0",direction="in",reason="${r}"\\}`));
  }
  assert.equal(value(/ipmp_forwarding_drops_total\{group="ipmp0",direction="in",reason="vlan"\} (\d+)/), 3);
  assert.equal(value(/ipmp_forwarding_drops_total\{group="ipmp0",direction="in",reason="conflict"\} (\d+)/), 2);
  assert.equal(value(/ipmp_forwarding_drops_total\{group="ipmp0",direction="in",reason="rate_limited"\} (\d+)/), 44);
  assert.equal(value(/ipmp_forwarding_drops_total\{group="ipmp0",direction="out",reason="malformed"\} (\d+)/), 7);
  assert.equal(value(/ipmp_arp_nd_replies_total\{group="ipmp0"\} (\d+)/), 16);
  assert.equal(value(/ipmp_conflict_defences_total\{group="ipmp0"\} (\d+)/), 1);
  assert.equal(value(/ipmp_address_conflicts_total\{group="ipmp0"\} (\d+)/), 1);
  // A worker failing repeatedly: forwarding counts as not up, its restarts are counted.
  assert.equal(value(/ipmp_forwarding_up\{group="ipmp0"\} (\d+)/), 0);
  assert.equal(value(/ipmp_forwarding_worker_restarts_total\{group="ipmp0"\} (\d+)/), 7);
  // A probe worker being replaced: probing counts as not up; a group that does not probe has no line.
  assert.equal(value(/ipmp_probing_up\{group="ipmp0"\} (\d+)/), 0);
  assert.equal(value(/ipmp_probe_worker_restarts_total\{group="ipmp0"\} (\d+)/), 3);
  assert.doesNotMatch(text, /ipmp_prob(ing_up|e_worker_restarts_total)\{group="ipmp1"\}/);
});
