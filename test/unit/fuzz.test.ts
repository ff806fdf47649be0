/**
 * The short fuzzing pass CI runs: every parser target of bench/fuzz (TX and RX
 * paths, probe receive path, rtnetlink codec and event reader, YAML config,
 * mpathd file, IP text parsers, control socket) over a few thousand generated
 * and mutated inputs from a fixed seed, with each target's properties checked
 * on every input. `node dist/bench/fuzz/run.js` runs the full million per target.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTarget } from '../../bench/fuzz/harness.js';
import { TARGETS } from '../../bench/fuzz/targets/index.js';

const SEED = Number(process.env.IPMP_FUZZ_SEED ?? 0x1badb002) >>> 0;

/** Inputs per target: about a second each on the 2-core test machine. */
const RUNS: Record<string, number> = {
  'tx': 5000, 'rx': 5000, 'probe': 4000, 'rtnetlink': 3000, 'config': 1000, 'mpathd': 3000, 'ip-text': 5000, 'control': 2000,
};

test('every fuzz target has a CI share', () => {
  assert.deepEqual(Object.keys(TARGETS).sort(), Object.keys(RUNS).sort());
});

for (const [name, make] of Object.entries(TARGETS)) {
  test(`fuzz ${name}: ${RUNS[name]} inputs from seed ${SEED} hold every property`, { timeout: 120_000 }, async () => {
    const r = await runTarget(make(), { runs: RUNS[name] ?? 1000, seed: SEED });
    assert.equal(r.failure, null, r.failure
      ? `${r.failure.message}\ninput (hex): ${r.failure.hex}\nreplay: node dist/bench/fuzz/run.js --only ${name} --replay FILE`
      : '');
    assert.equal(r.runs, RUNS[name]);
  });
}
