// `ipmp bench --quick` end to end: it runs, reports every scenario with numeric results in its
// JSON, exits 0, and leaves no namespace behind. Speed is not asserted here.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labDownSync } from '../../src/lab/lab.js';

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PREFIX = `ipq${process.pid % 10000}`;
const BOUND_MS = 170_000;
const SCENARIOS = ['tcp1', 'tcp8', 'udp1400', 'small', 'latency', 'callback', 'aggregation', 'failover_link', 'failover_probe', 'idle'];

function benchNamespaces(): string[] {
  try {
    return readdirSync('/run/netns').filter((n) => n.startsWith(PREFIX));
  } catch {
    return [];
  }
}

interface Run { code: number | null; signal: string | null; stdout: string; stderr: string }

function runBench(args: string[]): Promise<Run> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [join(REPO, 'bin', 'ipmp'), 'bench', ...args], { cwd: REPO });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    p.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const t = setTimeout(() => p.kill('SIGTERM'), BOUND_MS);
    p.once('exit', (code, signal) => { clearTimeout(t); res({ code, signal, stdout, stderr }); });
  });
}

describe('ipmp bench --quick', { skip, timeout: BOUND_MS + 20_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipmp-bench-test-'));
  after(() => {
    for (const s of ['k', 'd', 'a']) labDownSync(`${PREFIX}${s}`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs every scenario, writes numeric results and cleans up', async () => {
    const json = join(dir, 'bench.json');
    const r = await runBench(['--quick', '--json', json, '--prefix', PREFIX]);
    const log = `--- stderr ---\n${r.stderr.slice(-3000)}\n--- stdout ---\n${r.stdout}`;
    assert.equal(r.signal, null, `bench did not finish within ${BOUND_MS} ms\n${log}`);
    assert.equal(r.code, 0, log);
    assert.match(r.stdout, /\| scenario/);
    const j = JSON.parse(readFileSync(json, 'utf8')) as {
      error: string | null;
      scenarios: Record<string, { skipped?: string; metrics: Record<string, { runs: number[] }> }>;
    };
    assert.equal(j.error, null);
    for (const key of SCENARIOS) {
      const s = j.scenarios[key];
      assert.ok(s, `scenario ${key} missing`);
      if (s.skipped) {
        assert.ok(key === 'failover_probe', `${key} skipped: ${s.skipped}`);
        continue;
      }
      const metrics = Object.entries(s.metrics);
      assert.ok(metrics.length > 0, `${key}: no metrics`);
      for (const [name, m] of metrics) {
        assert.ok(m.runs.length >= 1, `${key}.${name}: no runs`);
        for (const v of m.runs) assert.ok(Number.isFinite(v), `${key}.${name}: ${v} is not a number`);
      }
    }
    // The sendmmsg generator's packets reached the peer's NIC on both paths.
    for (const [key, name] of [['small', 'ipmp_gen_kpps'], ['small', 'direct_gen_kpps'], ['udp1400', 'ipmp_gen_kpps'],
      ['udp1400', 'gen_cpu_us_per_pkt']]) {
      const v = j.scenarios[key]?.metrics[name]?.runs[0];
      assert.ok(v !== undefined && v > 0, `${key}.${name}: ${v}`);
    }
    // The C forwarder of the latency floor carried the pings both ways.
    for (const name of ['floor_us', 'floor_fast_us']) {
      const v = j.scenarios.latency?.metrics[name]?.runs[0];
      assert.ok(v !== undefined && v > 0, `latency.${name}: ${v}`);
    }
    const floor = (j as unknown as { raw: { scenario: string; forwarded?: { toNic: number; toTun: number } }[] }).raw
      .find((x) => x.scenario === 'latency-floor');
    assert.ok(floor?.forwarded && floor.forwarded.toNic > 0 && floor.forwarded.toTun > 0, JSON.stringify(floor?.forwarded));
    assert.deepEqual(benchNamespaces(), []);
  });
});
