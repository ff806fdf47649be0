// The fault soak, short: `bench/soak/run.js` with 12 seeded faults (every kind at least once,
// including every NIC down at once) while four paced TCP transfers run through the IPMP
// interface both ways. Asserts that every
// fault reached the state it must produce and settled back, that every transfer not spanning a
// daemon kill completed byte-identical without a reset or timeout, that the daemon never
// died, and that nothing was left behind (namespaces, TUN, nftables, sysctls, state file,
// daemon fds, sockets, threads, RSS growth). Transfers across a kill -9 are reported.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labDownSync } from '../../src/lab/lab.js';
import { labNamespaces } from '../../src/lab/state.js';
import { ALL_DOWN, KINDS } from '../../bench/soak/faults.js';
import type { SoakResult } from '../../bench/soak/report.js';

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const RUN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'soak', 'run.js');
const PREFIX = `iss${process.pid % 10000}`;
const BOUND_MS = 150_000;
const SEED = 7;
const ARGS = ['--faults', '12', '--seed', String(SEED), '--nics', '3', '--slots', '4', '--rate', '40',
  '--transfer-sec', '4-8', '--hold-ms', '300-800', '--gap-ms', '100-400', '--all-down', '--prefix', PREFIX];
const ALL_KINDS = [...KINDS, ALL_DOWN];
interface Run { code: number | null; signal: string | null; stdout: string; stderr: string; ms: number }

function runSoak(json: string): Promise<Run> {
  return new Promise((res) => {
    const t0 = Date.now();
    const p = spawn(process.execPath, [RUN, ...ARGS, '--json', json]);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    p.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const t = setTimeout(() => p.kill('SIGTERM'), BOUND_MS);
    p.once('exit', (code, signal) => { clearTimeout(t); res({ code, signal, stdout, stderr, ms: Date.now() - t0 }); });
  });
}

describe('fault soak, short', { skip, timeout: BOUND_MS + 30_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipmp-soak-test-'));
  const json = join(dir, 'soak.json');
  let run: Run;
  let r: SoakResult;
  let context = '';

  before(async () => {
    run = await runSoak(json);
    context = `\n--- soak stdout ---\n${run.stdout}\n--- soak stderr (tail) ---\n${run.stderr.split('\n').slice(-40).join('\n')}`;
    assert.equal(run.signal, null, `soak did not finish within ${BOUND_MS} ms${context}`);
    assert.ok(existsSync(json), `no JSON written (exit ${run.code})${context}`);
    r = JSON.parse(readFileSync(json, 'utf8')) as SoakResult;
  });

  after(() => {
    labDownSync(PREFIX);
    rmSync(dir, { recursive: true, force: true });
  });

  it('ran to the end: every kind of fault injected, within the time bound', () => {
    assert.deepEqual(r.problems.filter((p) => p.startsWith('soak aborted')), [], context);
    assert.equal(r.faults.length, 12, context);
    for (const k of ALL_KINDS) assert.ok((r.byKind?.[k]?.injected ?? 0) >= 1, `no ${k} fault injected${context}`);
    assert.ok(run.ms < 120_000, `the short soak took ${run.ms} ms${context}`);
  });

  for (const k of ALL_KINDS) {
    it(`${k}: each fault reaches its expected state and the group settles back`, () => {
      const bad = r.faults.filter((f) => f.kind === k && !f.ok);
      assert.deepEqual(bad.map((f) => `#${f.n} ${f.nic}: ${f.error}\n${f.log}`), [], context);
    });
  }

  it('transfers not spanning a kill complete byte-identical, both ways, without resets or timeouts', () => {
    const c = r.clean!;
    assert.deepEqual(c.failures, [], context);
    assert.equal(c.resets, 0);
    assert.equal(c.timeouts, 0);
    for (const dir of ['host→peer', 'peer→host']) {
      const ok = r.transfers.filter((t) => t.dir === dir && t.ok && !t.spansKill);
      assert.ok(ok.length >= 2, `only ${ok.length} ${dir} transfers completed${context}`);
    }
    assert.ok(c.bytesVerified > 50e6, `only ${c.bytesVerified} bytes verified${context}`);
    // The transfers overlap the faults: some of them ran while a NIC was out of service.
    const faultTimes = r.faults.filter((f) => f.nic).map((f) => f.at);
    const overlapping = r.transfers.filter((t) => !t.spansKill && t.ok && faultTimes.some((at) => t.startedAt < at && t.endedAt > at));
    assert.ok(overlapping.length >= 3, `only ${overlapping.length} good transfers ran across a NIC fault${context}`);
  });

  it('transfers across a kill -9 are reported', (t) => {
    const k = r.acrossKill!;
    t.diagnostic(`across a kill -9: ${k.transfers} transfers, ${k.completed} completed byte-identical, ${k.failed} failed, resets ${k.resets}`);
    assert.ok(r.kills.length >= 1, 'no kill -9 in the run');
    assert.equal(k.transfers, k.completed + k.failed + k.unfinished);
  });

  it('ipmpd never died on its own', () => {
    assert.deepEqual(r.crashes.map((c) => `${c.exit}\n${c.log}`), [], context);
  });

  it('leaves nothing behind', () => {
    const names = r.leaks.map((l) => l.what);
    for (const w of ['isolation at the end', 'daemon fds', 'daemon sockets', 'daemon RSS', 'clean stop', 'TUN removed', 'nftables', 'sysctls', 'state file', 'namespaces']) {
      assert.ok(names.includes(w), `leak check '${w}' missing${context}`);
    }
    assert.deepEqual(r.leaks.filter((l) => !l.ok), [], context);
    assert.deepEqual(labNamespaces(PREFIX), []);
  });

  it('exit status matches the verdict', () => {
    assert.equal(run.code, r.ok ? 0 : 1, context);
    assert.match(run.stdout, /leak checks:/);
  });
});
