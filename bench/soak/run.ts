// ipmp soak: `node dist/bench/soak/run.js [options]` or `ipmp bench soak [options]`.
// Builds a lab, runs ipmpd with long TCP transfers through its interface and injects seeded
// random faults; prints a summary (faults by kind, transfers, bytes verified, resets, leak
// checks) and exits 0 when everything held, 1 otherwise. --json FILE writes the whole record.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labDownSync } from '../../src/lab/lab.js';
import { formatSummary } from './report.js';
import { runSoak, type SoakOptions } from './soak.js';
import { ALL_DOWN, KINDS, type Kind } from './faults.js';

const USAGE = `usage: ipmp bench soak [--faults N] [--seed S] [--nics K] [--json FILE] [--slots N] [--rate MBIT]
                       [--transfer-sec MIN-MAX] [--hold-ms MIN-MAX] [--gap-ms MIN-MAX] [--fdt MS]
                       [--rss-limit MB] [--kinds K,K...] [--all-down] [--log FILE] [--prefix P]
  --faults N        faults to inject (default 100)
  --seed S          seed of the fault schedule and the transfers (default: from the clock, printed)
  --nics K          NICs in the group, 2..8 (default 3, the last one standby)
  --json FILE       write the whole record (every fault and transfer) as JSON
  --slots N         concurrent TCP transfers, alternating directions (default 4)
  --rate MBIT       pacing of each transfer in Mbit/s (default 40)
  --transfer-sec    duration range of one transfer at that rate, log-uniform (default 5-60)
  --hold-ms         how long a fault stays after it is detected (default 500-3000)
  --gap-ms          pause between faults (default 200-1500)
  --fdt MS          FAILURE_DETECTION_TIME (default 1000)
  --rss-limit MB    allowed RSS growth of the final daemon instance (default 32)
  --kinds K,K...    the kinds of fault to draw from (default ${KINDS.join(',')})
  --all-down        also take every NIC down at once now and then (the group fails): kind ${ALL_DOWN}
  --log FILE        write the whole ipmpd log (every instance, a marker line per fault)
`;

function range(v: string, what: string): [number, number] {
  const m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(v);
  if (!m || Number(m[1]) > Number(m[2])) throw new Error(`${what}: expected MIN-MAX, got '${v}'`);
  return [Number(m[1]), Number(m[2])];
}

function kinds(v: string): Kind[] {
  const known: readonly string[] = [...KINDS, ALL_DOWN];
  const list = v.split(',').map((k) => k.trim()).filter(Boolean);
  const bad = list.filter((k) => !known.includes(k));
  if (list.length === 0 || bad.length) throw new Error(`--kinds: unknown kind '${bad[0] ?? v}': expected some of ${known.join(', ')}`);
  return [...new Set(list)] as Kind[];
}

function int(v: string, what: string, lo: number, hi: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`${what}: expected an integer ${lo}..${hi}, got '${v}'`);
  return n;
}

export function parseSoakArgs(argv: string[]): { o: SoakOptions; json?: string } | 'help' {
  const o: SoakOptions = {
    faults: 100, seed: Date.now() % 1_000_000, nics: 3, prefix: `isk${process.pid % 10000}`, slots: 4, rateMbit: 40,
    transferSec: [5, 60], holdMs: [500, 3000], gapMs: [200, 1500], fdtMs: 1000, rssLimitMb: 32, kinds: [...KINDS],
    progress: (m) => process.stderr.write(`soak: ${m}\n`),
  };
  let json: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`option ${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--faults': o.faults = int(val(), a, 1, 100_000); break;
      case '--seed': o.seed = int(val(), a, 0, 0xffffffff); break;
      case '--nics': o.nics = int(val(), a, 2, 8); break;
      case '--json': json = val(); break;
      case '--log': o.logFile = val(); break;
      case '--slots': o.slots = int(val(), a, 1, 32); break;
      case '--rate': o.rateMbit = Number(val()); if (!(o.rateMbit > 0 && o.rateMbit <= 10_000)) throw new Error('--rate: expected 0 < MBIT ≤ 10000'); break;
      case '--transfer-sec':
        o.transferSec = range(val(), a);
        if (o.transferSec[0] < 1) throw new Error('--transfer-sec: the shortest transfer must last at least 1 s');
        break;
      case '--hold-ms': o.holdMs = range(val(), a); break;
      case '--gap-ms': o.gapMs = range(val(), a); break;
      case '--fdt': o.fdtMs = int(val(), a, 100, 60_000); break;
      case '--rss-limit': o.rssLimitMb = Number(val()); if (!(o.rssLimitMb >= 0)) throw new Error('--rss-limit: expected MB ≥ 0'); break;
      case '--prefix': o.prefix = val(); if (!/^[a-z][a-z0-9]{0,11}$/.test(o.prefix)) throw new Error(`bad prefix '${o.prefix}'`); break;
      case '--all-down': if (!o.kinds.includes(ALL_DOWN)) o.kinds.push(ALL_DOWN); break;
      case '--kinds': o.kinds = kinds(val()); break;
      case '-h': case '--help': return 'help';
      default: throw new Error(`unrecognized argument '${a}'`);
    }
  }
  return { o, json };
}

export async function soakMain(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseSoakArgs>;
  try {
    parsed = parseSoakArgs(argv);
  } catch (e) {
    process.stderr.write(`ipmp soak: ${(e as Error).message} (see --help)\n`);
    return 2;
  }
  if (parsed === 'help') { process.stdout.write(USAGE); return 0; }
  if (process.getuid?.() !== 0) { process.stderr.write('ipmp soak: needs root (network namespaces)\n'); return 1; }
  const { o, json } = parsed;
  const onSignal = (sig: NodeJS.Signals): void => {
    labDownSync(o.prefix);
    process.stderr.write(`ipmp soak: ${sig}: lab removed\n`);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    o.progress(`seed ${o.seed}, ${o.faults} faults, ${o.nics} NICs, lab ${o.prefix}`);
    const r = await runSoak(o);
    process.stdout.write(formatSummary(r));
    if (json) {
      mkdirSync(dirname(resolve(json)), { recursive: true });
      const { progress: _p, ...opts } = o;
      writeFileSync(json, `${JSON.stringify({ ...r, options: opts }, null, 1)}\n`);
      o.progress(`wrote ${json}`);
    }
    return r.ok ? 0 : 1;
  } catch (e) {
    process.stderr.write(`ipmp soak: ${(e as Error).message}\n`);
    return 1;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  soakMain(process.argv.slice(2)).then((code) => process.exit(code), (e: unknown) => {
    process.stderr.write(`ipmp soak: ${String(e)}\n`);
    process.exit(1);
  });
}
