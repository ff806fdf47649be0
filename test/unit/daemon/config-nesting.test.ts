/**
 * Deeply nested YAML: refused with the file, the line and what is wrong, before the
 * document is built (building it recurses per level), by the parser, the loader the
 * daemon starts with, and `ipmpd --check`. SIGHUP's refusal is in
 * test/netns/forwarding-liveness.test.ts (a running daemon keeps its configuration).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfigYaml } from '../../../src/daemon/config.js';
import { MAX_NESTING, tooDeepAt } from '../../../src/daemon/config-yaml.js';
import { IPMPD } from '../../netns/helpers/daemon.js';
import { errorOf, F } from './config-errors.js';


/** `groups:` followed by n nested block mappings, one per line (the deepest opens on line n + 1). */
const blockMaps = (n: number): string => `groups:\n${Array.from({ length: n }, (_, i) => `${' '.repeat(i + 1)}a:`).join('\n')} 1\n`;
const blockSeqs = (n: number): string => `groups:\n${Array.from({ length: n }, (_, i) => `${' '.repeat(i + 1)}-`).join('\n')} 1\n`;
const flowSeqs = (n: number): string => `# comment\n\ngroups: ${'['.repeat(n)}${']'.repeat(n)}\n`;
const flowMaps = (n: number): string => `groups: ${'{a: '.repeat(n)}1${'}'.repeat(n)}\n`;
const VALID = 'groups:\n  ipmp0:\n    interfaces:\n      eth0: { test-address: 198.18.0.100/24 }\n    addresses: [198.18.0.10/24]\n';

describe('configuration nesting', () => {
  it('1000 levels of block mappings: the line where the limit is passed', () => {
    assert.equal(errorOf(blockMaps(1000)), `${F}:${MAX_NESTING + 1}: nesting deeper than ${MAX_NESTING} levels`);
  });

  it('1000 levels of block lists, flow lists and flow mappings', () => {
    assert.equal(errorOf(blockSeqs(1000)), `${F}:${MAX_NESTING + 1}: nesting deeper than ${MAX_NESTING} levels`);
    assert.equal(errorOf(flowSeqs(1000)), `${F}:3: nesting deeper than ${MAX_NESTING} levels`);
    assert.equal(errorOf(flowMaps(1000)), `${F}:1: nesting deeper than ${MAX_NESTING} levels`);
  });

  it('100,000 levels take no stack and little time', () => {
    const t0 = performance.now();
    assert.match(errorOf(flowSeqs(100_000)), /nesting deeper than/);
    assert.ok(performance.now() - t0 < 5_000);
  });

  it('the limit itself is accepted by the depth check, one more level is not', () => {
    // The root mapping is level 1: `groups:` plus MAX_NESTING - 1 mappings is exactly the limit.
    assert.equal(tooDeepAt(blockMaps(MAX_NESTING - 1), MAX_NESTING), null);
    assert.notEqual(tooDeepAt(blockMaps(MAX_NESTING), MAX_NESTING), null);
    assert.match(errorOf(blockMaps(MAX_NESTING - 1)), /groups\.a\.a: unknown key/);
  });

  it('a valid configuration and nesting in keys are judged as before', () => {
    assert.equal(tooDeepAt(VALID, MAX_NESTING), null);
    assert.equal(parseConfigYaml(VALID, F).groups[0].ifname, 'ipmp0');
    // A complex key counts as nesting too.
    assert.notEqual(tooDeepAt(`? ${'['.repeat(MAX_NESTING)}${']'.repeat(MAX_NESTING)}\n: 1\n`, MAX_NESTING), null);
    // Nesting in a second document is found as well.
    assert.notEqual(tooDeepAt(`a: 1\n---\n${flowSeqs(MAX_NESTING + 1)}`, MAX_NESTING), null);
  });

  describe('from a file', () => {
    let dir = '';
    let file = '';
    let mpathd = '';
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'ipmp-nesting-'));
      file = join(dir, 'ipmp.yaml');
      writeFileSync(file, blockMaps(1000), { mode: 0o644 });
      mpathd = join(dir, 'mpathd');
      writeFileSync(mpathd, '', { mode: 0o644 });
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('the loader the daemon starts with names the file and line', () => {
      assert.throws(() => loadConfig({ configPath: file, mpathdPath: null }),
        (e: Error) => e instanceof ConfigError && e.message === `${file}:${MAX_NESTING + 1}: nesting deeper than ${MAX_NESTING} levels`);
    });

    it('ipmpd --check: exit 1 and one line naming the problem', () => {
      const r = spawnSync(process.execPath, [IPMPD, '--check', '-c', file, '--mpathd', mpathd], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr, `ipmpd: ${file}:${MAX_NESTING + 1}: nesting deeper than ${MAX_NESTING} levels\n`);
      assert.doesNotMatch(r.stderr, /call stack/);
    });
  });
});
