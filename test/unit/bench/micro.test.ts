// The micro-benchmarks beside the code they measure run and report a figure for every case.
// This asserts that they work (their rigs forward what they claim to time), not any speed.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BENCH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bench');

async function output(file: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [join(BENCH, file), ...args], { timeout: 60_000 });
  return stdout;
}

/** The figures given in `unit`, in order. */
function figures(text: string, unit: string): number[] {
  const re = new RegExp(`([0-9.]+) ${unit}`, 'g');
  return [...text.matchAll(re)].map((m) => Number(m[1]));
}

describe('micro-benchmarks', () => {
  it('flow hash: one figure per packet kind', async () => {
    const v = figures(await output('wire/flowhash.bench.js'), 'ns/op');
    assert.equal(v.length, 3);
    for (const x of v) assert.ok(x > 0);
  });

  it('batch loops: TX and RX per packet', async () => {
    const v = figures(await output('dataplane/batch.bench.js'), 'ns/packet');
    assert.equal(v.length, 2);
    for (const x of v) assert.ok(x > 0);
  });

  it('RX path: delivery, ARP flood and claims per frame', async () => {
    const v = figures(await output('dataplane/rx-path.bench.js'), 'ns/frame');
    assert.equal(v.length, 3);
    for (const x of v) assert.ok(x > 0);
  });

  it('cold path: every step warm and after idle, and the wake-up summary', async () => {
    const text = await output('dataplane/cold.bench.js', '50');
    for (const step of ['clock', 'N-API + poll', 'TX one packet', 'RX one packet', 'wake: poll + TX + RX']) {
      const line = text.split('\n').find((l) => l.startsWith(step));
      assert.ok(line, `no row for ${step}:\n${text}`);
      const nums = line.slice(step.length).trim().split(/\s+/).map(Number);
      assert.equal(nums.length, 2, line);
      for (const x of nums) assert.ok(Number.isFinite(x) && x >= 0, line);
    }
    const m = /([0-9.]+) µs warm, ([0-9.]+) µs after 10 ms idle/.exec(text);
    assert.ok(m, text);
  });
});
