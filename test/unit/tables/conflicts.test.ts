import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CK_DATA, CK_TEST, CONFLICT_SLOTS, ConflictRing } from '../../../src/tables/conflicts.js';
import { conflictText } from '../../../src/daemon/forwarding.js';
import { parseIpv6 } from '../../../src/wire/ipv6.js';

const MAC = new Uint8Array([0x02, 0xde, 0xad, 0, 0, 0x01]);

test('records written by one side are read once by the other, IPv4 and IPv6', () => {
  const w = new ConflictRing();
  const r = new ConflictRing(w.sab);
  assert.deepEqual(r.poll(), { reports: [], missed: 0 });
  w.write(4, new Uint8Array([198, 18, 0, 10]), 0, MAC, 0, 1, CK_DATA, true);
  w.write(6, parseIpv6('fe80::100'), 0, MAC, 0, 0, CK_TEST, false);
  assert.deepEqual(r.poll(), {
    reports: [
      { family: 4, address: '198.18.0.10', mac: '02:de:ad:00:00:01', nic: 1, kind: 'data', defended: true },
      { family: 6, address: 'fe80::100', mac: '02:de:ad:00:00:01', nic: 0, kind: 'test', defended: false },
    ],
    missed: 0,
  });
  assert.deepEqual(r.poll(), { reports: [], missed: 0 });
});

test('a reader more than a ring behind gets the last CONFLICT_SLOTS records and the count it missed', () => {
  const w = new ConflictRing();
  const r = new ConflictRing(w.sab);
  for (let i = 0; i < CONFLICT_SLOTS + 5; i++) w.write(4, new Uint8Array([198, 18, 1, i]), 0, MAC, 0, 0, CK_DATA, false);
  const { reports, missed } = r.poll();
  assert.equal(missed, 5);
  assert.equal(reports.length, CONFLICT_SLOTS);
  assert.equal(reports[0].address, '198.18.1.5');
  assert.equal(reports.at(-1)!.address, `198.18.1.${CONFLICT_SLOTS + 4}`);
});

test('the log line is the Solaris text, naming the MAC, the address and the interface', () => {
  const t = conflictText({ family: 4, address: '198.18.0.10', mac: '02:de:ad:00:00:01', nic: 0, kind: 'data', defended: true }, 'eth0');
  assert.match(t, /^node 02:de:ad:00:00:01 is using our IP address 198\.18\.0\.10 on eth0 \(data address; defended with a gratuitous ARP\)$/);
  const t6 = conflictText({ family: 6, address: 'fe80::100', mac: '02:de:ad:00:00:01', nic: 1, kind: 'test', defended: false }, 'eth1');
  assert.equal(t6, 'node 02:de:ad:00:00:01 is using our IP address fe80::100 on eth1 (test address)');
});
