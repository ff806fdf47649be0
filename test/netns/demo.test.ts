// `ipmp lab demo` end to end, as a user runs it: exit 0, the load spread over both NICs
// before the failure, the failure and the repair reported, nothing left behind.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
/** Repository root (this file runs as dist/test/netns/demo.test.js). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PREFIX = 'ipmpdemo';
const BOUND_MS = 120_000;

function demoNamespaces(): string[] {
  try {
    return readdirSync('/run/netns').filter((n) => n.startsWith(`${PREFIX}-`));
  } catch {
    return [];
  }
}

interface Run { code: number | null; signal: string | null; stdout: string; stderr: string }

function runDemo(): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/ipmp', 'lab', 'demo'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString('utf8'); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString('utf8'); });
    // SIGTERM first: the demo removes its lab on SIGTERM.
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }, BOUND_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Per-NIC Mbit/s from the status lines printed before `marker`. */
function ratesBefore(out: string, marker: string): Map<string, number[]> {
  const end = out.indexOf(marker);
  const rates = new Map<string, number[]>();
  for (const line of out.slice(0, end < 0 ? out.length : end).split('\n')) {
    if (!/^\s*t=\s*\d+s/.test(line)) continue;
    for (const m of line.matchAll(/\b(eth\d+)\s+(\d+)\b/g)) {
      rates.set(m[1], [...(rates.get(m[1]) ?? []), Number(m[2])]);
    }
  }
  return rates;
}

describe('ipmp lab demo', { skip, timeout: BOUND_MS + 30_000 }, () => {
  it('shows the load spread, a failure and the repair, and removes its lab', async () => {
    assert.deepEqual(demoNamespaces(), [], `a lab '${PREFIX}' exists already; remove it with 'ipmp lab down --prefix ${PREFIX}'`);
    const r = await runDemo();
    const why = `exit ${String(r.code)} ${r.signal ?? ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
    assert.equal(r.code, 0, why);
    assert.match(r.stdout, /demo done/, why);

    const before = ratesBefore(r.stdout, 'failing eth0');
    for (const nic of ['eth0', 'eth1']) {
      const v = before.get(nic) ?? [];
      assert.ok(v.length >= 3, `${nic}: expected per-second rates before the failure\n${why}`);
      assert.ok(v.some((x) => x > 0), `${nic}: carried no traffic before the failure\n${why}`);
    }
    assert.match(r.stdout, /ipmpd \| The link has gone down on eth0/, why);
    assert.match(r.stdout, /ipmpd \| IP interface failure detected on eth0 of group ipmp0/, why);
    assert.match(r.stdout, /eth0\s+no\s+ipmp0\s+\S+\s+down\s+\S+\s+failed/, why);
    assert.match(r.stdout, /ipmpd \| IP interface repair detected on eth0 of group ipmp0/, why);
    assert.match(r.stdout, /ping [\d.]+: \d+ sent, [1-9]\d* received/, why);
    assert.deepEqual(demoNamespaces(), [], why);
  });
});
