/** The one-line error a configuration text gets (the test fails when it is accepted). */
import assert from 'node:assert/strict';
import { ConfigError, parseConfigYaml } from '../../../src/daemon/config.js';

export const F = '/etc/ipmp/ipmp.yaml';

export function errorOf(text: string): string {
  try {
    parseConfigYaml(text, F);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message;
  }
  assert.fail('accepted');
}
