#!/usr/bin/env node
// Runs the compiled test files with node's built-in runner.
// Usage: node scripts/run-tests.mjs [unit|netns|all] (default: all)
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const which = process.argv[2] ?? 'all';
const roots = which === 'all' ? ['dist/test/unit', 'dist/test/netns'] : [`dist/test/${which}`];

function walk(dir, out) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = roots.flatMap((r) => walk(r, []));
if (files.length === 0) {
  console.error(`run-tests: no compiled tests under ${roots.join(', ')} (run the build first)`);
  process.exit(1);
}
const args = ['--test', '--test-concurrency=1', '--test-timeout=300000', ...files];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
