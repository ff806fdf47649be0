// Probe-based failure detection over IPv6 in a lab: ipmpd in <P>-host with two NICs whose IPv6
// test address is the link-local they form from their MAC (`test-address6: link-local`),
// FAILURE_DETECTION_TIME 1000 ms. The probe worker answers Neighbour Solicitations for the
// link-locals itself and resolves its targets with its own NS (the host stack is kept off the
// NICs). The peer's eth0 has the link-local fe80::ff:fe00:ff01 (from 02:00:00:00:ff:01).
//
// - IPv6 only (IPv6 data addresses, no IPv4 test address): the peer is found by the ff02::1
//   echo (mode multicast), `ipmpstat -t/-i/-a/-p` show IPv6 rows and the `M` flag without
//   `m`/`b`; a silent fault on eth0 is detected by ICMPv6 probes within FDT + one probe interval
//   + slack, the IPv6 data addresses move to eth1 and answer; the repair is detected within
//   2 × FDT + slack; a route via the peer's link-local makes it a router target (mode routes).
// - Both families: only IPv4 probing failing (the peer drops ICMP echo from eth0's IPv4 test
//   address) does not fail eth0 while IPv6 answers; once IPv6 is dropped too, eth0 fails;
//   lifting both repairs it.
//
// - `ipmp set-ifprop -p test-address=link-local eth0` on a NIC without test addresses starts
//   IPv6 probing on it live (after the link-local passed DAD); a global IPv6 value is refused
//   with one line; `test-address=none` stops it again.
//
// The TUN gets a name unique to this process (ipq<n>) unless IPMP_TEST_TUN is set.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../../src/lab/fixture.js';
import { execIn, hostNs, labFail, labRepair, peerNs, waitFor } from '../../src/lab/lab.js';
import { join } from 'node:path';
import { REPO, startDaemon, snapshot, type RunningDaemon } from './helpers/daemon.js';
import {
  ackedLines, iface, ipmpstat, ipmpstatProbes, lostLines, waitProbeOk, withLog,
} from './helpers/probe-helpers.js';

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const TUN = process.env.IPMP_TEST_TUN || `ipq${process.pid % 100000}`;
const FDT_MS = 1000;
const PROBE_INT_MS = Math.floor(FDT_MS / 7);
const SLACK_MS = 500;
const DATA6 = ['2001:db8::10', '2001:db8::11'];
const PEER_LL = 'fe80::ff:fe00:ff01';
/** Link-locals of the lab NICs eth0 (02:00:00:00:00:01) and eth1 (02:00:00:00:01:01). */
const LL = { eth0: 'fe80::ff:fe00:1', eth1: 'fe80::ff:fe00:101' };
const NICS = ['eth0', 'eth1'];

function v6OnlyConfig(): string {
  return [
    `FAILURE_DETECTION_TIME: ${FDT_MS}`,
    'groups:',
    `  ${TUN}:`,
    '    interfaces:',
    '      eth0: { test-address6: link-local }',
    '      eth1: { test-address6: link-local }',
    `    addresses: [${DATA6.map((a) => `${a}/64`).join(', ')}]`,
    '',
  ].join('\n');
}

function mixedConfig(): string {
  return [
    `FAILURE_DETECTION_TIME: ${FDT_MS}`,
    'groups:',
    `  ${TUN}:`,
    '    interfaces:',
    '      eth0: { test-address: 198.18.0.100/24, test-address6: link-local }',
    '      eth1: { test-address: 198.18.0.101/24, test-address6: link-local }',
    '    addresses: [198.18.0.10/24, 2001:db8::10/64]',
    `    targets: [198.18.0.1, ${PEER_LL}]`,
    '',
  ].join('\n');
}

async function ping6(p: string, target: string): Promise<void> {
  await execIn(peerNs(p), ['ping', '-6', '-n', '-q', '-c', '3', '-i', '0.2', '-W', '1', target], { timeoutMs: 10_000 });
}

async function nftPeer(p: string, script: string): Promise<void> {
  await execIn(peerNs(p), ['nft', script], { timeoutMs: 10_000 });
}

describe('probe-based failure detection (IPv6)', { skip }, () => {
  it('probing over IPv6 only: discovery, ipmpstat, silent failure, failover, repair, router target', async () => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      let d: RunningDaemon | undefined;
      try {
        d = await startDaemon(p, v6OnlyConfig());
        const dd = d;
        await withLog(dd, async () => {
          // The peer answers the ff02::1 echo from its link-local once that has passed DAD.
          let t = '';
          await waitFor('the peer found by the ff02::1 echo on eth0 and eth1', async () => {
            t = await ipmpstat(p, dd, ['-t']);
            return NICS.every((n) => t.split('\n').some((l) => l.startsWith(`${n} `) && l.trim().endsWith(PEER_LL)));
          }, 10_000, 100).catch((e: Error) => { e.message += `\n${t}`; throw e; });
          await waitProbeOk(dd, NICS, 5_000);
          for (const n of NICS) {
            const rows = t.split('\n').filter((l) => l.startsWith(`${n} `));
            assert.equal(rows.length, 1, `one IPv6 row for ${n}:\n${t}`);
            assert.match(rows[0]!, new RegExp(`^${n}\\s+multicast\\s+${LL[n as 'eth0']}\\s+${PEER_LL}\\s*$`), t);
          }
          const i = await ipmpstat(p, dd, ['-i', '-o', 'INTERFACE,FLAGS,PROBE,STATE', '-P']);
          const nominee = i.split('\n').find((l) => (l.split(':')[1] ?? '').includes('M'));
          assert.ok(nominee, `the nominee shows M:\n${i}`);
          assert.match(nominee, /^eth[01]:----M--:ok:ok$/, `IPv6 only: M without m and b:\n${i}`);
          const a = await ipmpstat(p, dd, ['-a', '-o', 'ADDRESS,STATE', '-P']);
          for (const x of DATA6) assert.match(a, new RegExp(`^${x.replace(/:/g, '\\\\:')}:up$`, 'm'), a);
          const probes = await ipmpstatProbes(p, dd, 1500);
          for (const n of NICS) assert.ok(ackedLines(probes, n, PEER_LL).length >= 3, `acked ICMPv6 probes on ${n}:\n${probes}`);
          for (const x of DATA6) await ping6(p, x);

          const mark = dd.log().length;
          const t0 = Date.now();
          await labFail(p, 'eth0', { silent: true });
          await dd.waitLog('IP interface failure detected on eth0 of group', FDT_MS + PROBE_INT_MS + SLACK_MS + 1_000, mark);
          const detectMs = Date.now() - t0;
          console.log(`# IPv6: silent failure of eth0 detected after ${detectMs} ms (FDT ${FDT_MS} ms, probe interval ${PROBE_INT_MS} ms)`);
          assert.ok(detectMs <= FDT_MS + PROBE_INT_MS + SLACK_MS, `detected after ${detectMs} ms`);
          const s = await snapshot(dd.socket);
          assert.equal(iface(s, 'eth0').state, 'failed');
          assert.equal(iface(s, 'eth0').probe, 'failed');
          assert.equal(iface(s, 'eth1').state, 'ok');
          for (const x of s.addresses) assert.equal(x.inbound, 'eth1', `${x.address} moved to eth1: ${JSON.stringify(s.addresses)}`);
          for (const x of DATA6) await ping6(p, x);

          const mark2 = dd.log().length;
          const t1 = Date.now();
          await labRepair(p, 'eth0');
          await dd.waitLog('IP interface repair detected on eth0', 2 * FDT_MS + 2 * SLACK_MS + 2_000, mark2);
          const repairMs = Date.now() - t1;
          console.log(`# IPv6: repair of eth0 detected after ${repairMs} ms (2 x FDT = ${2 * FDT_MS} ms)`);
          assert.ok(repairMs <= 2 * FDT_MS + 2 * SLACK_MS, `repair detected after ${repairMs} ms`);
          await waitProbeOk(dd, NICS, 2_000);

          // A route through the IPMP interface via the peer's link-local: a router target.
          await execIn(hostNs(p), ['ip', '-6', 'route', 'add', lab.remote.net6, 'via', PEER_LL, 'dev', TUN]);
          await waitFor('IPv6 router targets', async () => {
            const snap = await snapshot(dd.socket);
            return NICS.every((n) => snap.targets.some((x) => x.interface === n && x.family === 6 && x.mode === 'routes'
              && x.targets.join(' ') === PEER_LL));
          }, 5_000, 50);
          await waitProbeOk(dd, NICS, 5_000);
        });
      } finally {
        await d?.stop();
      }
    });
  });

  it('both families: a NIC fails only when IPv4 and IPv6 probes both fail', async () => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      let d: RunningDaemon | undefined;
      try {
        d = await startDaemon(p, mixedConfig());
        const dd = d;
        await withLog(dd, async () => {
          await waitProbeOk(dd, NICS, 10_000);
          // The IPv6 rows appear once the link-locals passed duplicate address detection (1 s).
          let t = '';
          await waitFor('both families\' rows in ipmpstat -t', async () => {
            t = await ipmpstat(p, dd, ['-t', '-o', 'INTERFACE,MODE,TESTADDR,TARGETS', '-P']);
            return t.trim().split('\n').length >= 2 * NICS.length && !t.includes(':multicast:');
          }, 10_000, 100);
          for (const n of NICS) {
            const v4 = n === 'eth0' ? '198.18.0.100' : '198.18.0.101';
            assert.match(t, new RegExp(`^${n}:routes:${v4}:198\\.18\\.0\\.1$`, 'm'), t);
            assert.match(t, new RegExp(`^${n}:routes:${LL[n as 'eth0'].replace(/:/g, '\\\\:')}:${PEER_LL.replace(/:/g, '\\\\:')}$`, 'm'), t);
          }
          const i = await ipmpstat(p, dd, ['-i', '-o', 'INTERFACE,FLAGS', '-P']);
          assert.match(i, /^eth[01]:--mbM--$/m, `both families: m, b and M on the nominee:\n${i}`);

          // Both families answered on eth0 before IPv4 is dropped: right after the lab starts the
          // peer's link-local is still tentative and IPv6 probes go unanswered, which with IPv4
          // dropped would rightly be a failure of both.
          let heard = '';
          await waitFor('IPv4 and IPv6 probes acked on eth0', async () => {
            heard = await ipmpstatProbes(p, dd, 800);
            return ackedLines(heard, 'eth0', PEER_LL).length >= 3 && ackedLines(heard, 'eth0', '198.18.0.1').length >= 3
              && lostLines(heard, 'eth0').length === 0;
          }, 15_000, 0).catch((e: Error) => { e.message += `\n${heard}`; throw e; });

          // IPv4 probes from eth0 go unanswered; IPv6 still answers.
          await nftPeer(p, 'add table inet ipmptest; add chain inet ipmptest in { type filter hook input priority 0; }; '
            + 'add rule inet ipmptest in ip saddr 198.18.0.100 icmp type echo-request drop');
          const mark = dd.log().length;
          const probes = await ipmpstatProbes(p, dd, 3 * FDT_MS);
          const lost4 = lostLines(probes, 'eth0', '198.18.0.1');
          assert.ok(lost4.length >= 5, `at least 5 lost IPv4 probes on eth0:\n${probes}`);
          assert.ok(ackedLines(probes, 'eth0', PEER_LL).length >= 5, `IPv6 probes on eth0 still acked:\n${probes}`);
          assert.doesNotMatch(dd.log().slice(mark), /IP interface failure detected on eth0/);
          const s = await snapshot(dd.socket);
          assert.equal(iface(s, 'eth0').state, 'ok', 'eth0 stays ok while IPv6 probes answer');
          assert.equal(iface(s, 'eth0').probe, 'ok');

          // Now IPv6 probes from eth0 go unanswered too: both families failed.
          const t0 = Date.now();
          await nftPeer(p, `add rule inet ipmptest in ip6 saddr ${LL.eth0} icmpv6 type echo-request drop`);
          await dd.waitLog('IP interface failure detected on eth0 of group', FDT_MS + PROBE_INT_MS + SLACK_MS + 1_000, mark);
          console.log(`# both families: failure of eth0 detected ${Date.now() - t0} ms after IPv6 was dropped too`);
          const s2 = await snapshot(dd.socket);
          assert.equal(iface(s2, 'eth0').state, 'failed');
          assert.equal(iface(s2, 'eth1').state, 'ok');

          const mark2 = dd.log().length;
          await nftPeer(p, 'delete table inet ipmptest');
          await dd.waitLog('IP interface repair detected on eth0', 2 * FDT_MS + 2 * SLACK_MS + 2_000, mark2);
          await waitProbeOk(dd, NICS, 2_000);
        });
      } finally {
        await execIn(peerNs(p), ['nft', 'delete table inet ipmptest'], { timeoutMs: 5_000 }).catch(() => undefined);
        await d?.stop();
      }
    });
  });

  it('set-ifprop test-address=link-local starts IPv6 probing live; a global address is refused; none stops it', async () => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      let d: RunningDaemon | undefined;
      try {
        const cfg = [`FAILURE_DETECTION_TIME: ${FDT_MS}`, 'groups:', `  ${TUN}:`, '    interfaces: { eth0: {}, eth1: {} }',
          `    addresses: [${DATA6[0]}/64]`, ''].join('\n');
        d = await startDaemon(p, cfg);
        const dd = d;
        const ipmp = (...args: string[]) => execIn(hostNs(p), [process.execPath, join(REPO, 'bin', 'ipmp'), '--socket', dd.socket, ...args],
          { timeoutMs: 10_000 });
        await withLog(dd, async () => {
          assert.equal(iface(await snapshot(dd.socket), 'eth0').probe, 'disabled');
          await ipmp('set-ifprop', '-p', 'test-address=link-local', 'eth0');
          let t = '';
          await waitFor('eth0 probing over IPv6 in ipmpstat -t', async () => {
            t = await ipmpstat(p, dd, ['-t', '-o', 'INTERFACE,MODE,TESTADDR', '-P']);
            return /^eth0:multicast:/m.test(t);
          }, 10_000, 100);
          await waitProbeOk(dd, ['eth0'], 10_000);
          assert.match(t, new RegExp(`^eth0:multicast:${LL.eth0.replace(/:/g, '\\\\:')}$`, 'm'), t);
          assert.match(t, /^eth1:disabled:$/m, t);
          assert.match(dd.log(), new RegExp(`eth0: test address ${LL.eth0} passed duplicate address detection`));

          await assert.rejects(ipmp('set-ifprop', '-p', 'test-address=2001:db8::5/64', 'eth0'),
            /set-ifprop: an IPv6 test address must be link-local \(fe80::\/10\), not '2001:db8::5'/);
          assert.equal(iface(await snapshot(dd.socket), 'eth0').probe, 'ok', 'a refused change leaves probing as it was');

          await ipmp('set-ifprop', '-p', 'test-address=none', 'eth0');
          await waitFor('eth0 probing disabled', async () => iface(await snapshot(dd.socket), 'eth0').probe === 'disabled', 10_000, 50);
          assert.equal(dd.alive(), true);
        });
      } finally {
        await d?.stop();
      }
    });
  });
});
