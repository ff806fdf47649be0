import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTestAddress } from '../../../src/daemon/set-test-address.js';
import type { InterfaceConfig } from '../../../src/daemon/config-types.js';

const CUR: InterfaceConfig = {
  name: 'eth0', standby: false, testAddress: { family: 4, address: '198.18.0.100', prefixlen: 24 }, testAddress6: null,
};
const TAKEN = { data: ['198.18.0.10', '2001:db8::10'], tests: ['198.18.0.101', 'fe80::101'] };

test('an IPv6 link-local sets the IPv6 test address and keeps the IPv4 one; link-local turns EUI-64 on; none clears both', () => {
  assert.deepEqual(setTestAddress(CUR, 'FE80::0:1/64', TAKEN), {
    ok: true, config: { ...CUR, testAddress6: { family: 6, address: 'fe80::1', prefixlen: 64 }, linkLocalTestAddress: false },
  });
  assert.deepEqual(setTestAddress({ ...CUR, testAddress6: { family: 6, address: 'fe80::1', prefixlen: 64 } }, 'link-local', TAKEN), {
    ok: true, config: { ...CUR, testAddress6: null, linkLocalTestAddress: true },
  });
  assert.deepEqual(setTestAddress({ ...CUR, linkLocalTestAddress: true }, 'none', TAKEN), {
    ok: true, config: { ...CUR, testAddress: null, testAddress6: null, linkLocalTestAddress: false },
  });
  assert.deepEqual(setTestAddress({ ...CUR, linkLocalTestAddress: true }, '198.18.0.105/24', TAKEN), {
    ok: true, config: { ...CUR, testAddress: { family: 4, address: '198.18.0.105', prefixlen: 24 }, linkLocalTestAddress: true },
  });
});

test('bad values are refused with one line naming the problem', () => {
  const err = (v: string) => { const r = setTestAddress(CUR, v, TAKEN); return r.ok ? 'accepted' : r.error; };
  assert.equal(err('2001:db8::5/64'), 'test-address: 2001:db8::5 is not link-local: an IPv6 test address must be in fe80::/10');
  assert.equal(err('fe80::1'), 'test-address: bad value "fe80::1": expected ADDRESS/PREFIXLEN, link-local or none');
  assert.equal(err('fe80::1/129'), 'test-address: bad value "fe80::1/129": expected a prefix length of 0-128, link-local or none');
  assert.equal(err('fe80::101/64'), 'test-address: fe80::101 is another interface\'s test address');
  assert.equal(err('198.18.0.10/24'), 'test-address: 198.18.0.10 is a data address of the group');
  for (const v of ['fe80::1/64', '2001:db8::5/64', 'nonsense']) assert.doesNotMatch(err(v), /\n/);
});
