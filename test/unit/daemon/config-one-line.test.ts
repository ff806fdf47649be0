/**
 * Configuration and control-request text with line breaks or control
 * characters: errors and warnings stay one line (the characters shown as \u
 * escapes), and interface names with control characters are refused (a NUL
 * would cut the name short in the kernel).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMpathd } from '../../../src/daemon/config.js';
import { validateRequest } from '../../../src/daemon/control-server.js';
import { errorOf, F } from './config-errors.js';


test('a key holding a carriage return gives a one-line error that shows it escaped', () => {
  assert.equal(errorOf('\r: 1\n'),
    `${F}:1: \\u000d: unknown key (expected one of FAILURE_DETECTION_TIME, FAILBACK, TRACK_INTERFACES_ONLY_WITH_GROUPS, groups)`);
  const m = errorOf('groups:\n  "ipmp\\n0":\n    interfaces: [eth0]\n');
  assert.doesNotMatch(m, /[\r\n]/);
  assert.match(m, /groups\.ipmp\\u000a0: expected an interface name/);
});

test('interface names with control characters are refused in the configuration', () => {
  const m = errorOf('groups:\n  ipmp0:\n    interfaces: ["eth\\0x"]\n');
  assert.match(m, /expected an interface name of 1-15 characters without "\/", ":", whitespace or control characters/);
  assert.doesNotMatch(m, /\0/);
});

test('mpathd warnings show control characters from the file escaped', () => {
  const r = parseMpathd("FAILBACK='no'\r\0\nTRACK_INTERFACES_ONLY_WITH_GROUPS=a\u2028b\n", '/etc/default/mpathd');
  assert.deepEqual(r.warnings, [
    "Invalid value for FAILBACK 'no'\\u000d\\u0000",
    'Invalid value for TRACK_INTERFACES_ONLY_WITH_GROUPS a\\u2028b',
  ]);
});

test('control requests naming an interface with a control character are refused', () => {
  for (const ifname of ['eth\u0000', 'eth\u007f', 'e\u001bth']) {
    const v = validateRequest({ id: 1, op: 'offline', ifname });
    assert.equal(v.ok, false);
    const a = validateRequest({ id: 2, op: 'add-ipmp', group: 'ipmp0', interfaces: ['eth0', ifname] });
    assert.equal(a.ok, false);
  }
  assert.equal(validateRequest({ id: 3, op: 'offline', ifname: 'eth0' }).ok, true);
});
