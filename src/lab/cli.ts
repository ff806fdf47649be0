// `ipmp lab up|down|fail|repair|status|demo`: argument parsing and output formatting.
// Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error.

import { existsSync } from 'node:fs';
import { labDown, labFail, labRepair, labStatus, labUp, planLab, LabError, DEFAULT_PREFIX } from './lab.js';
import type { LabInfo, LabOptions, LabStatus, PortStatus, SwitchMode } from './lab.js';

const USAGE = `usage: ipmp lab up [--nics N] [--standby K] [--switches one|per-nic] [--rate RATE] [--prefix P] [--force] [--json]
       ipmp lab down [--prefix P]
       ipmp lab fail IF [--silent|--delete] [--prefix P]
       ipmp lab repair IF [--prefix P]
       ipmp lab status [--prefix P] [--json]
       ipmp lab demo
IF is a host NIC (eth0, meaning its switch port) or a switch port (swp0, upl0, cpl0, peerp0).
fail: the switch port goes down and the NIC loses carrier; --silent: the port is detached
from its bridge, carrier stays up and frames are dropped both ways; --delete: the NIC (its
veth pair) is deleted. repair undoes any of them (a deleted NIC is re-created as it was).
Defaults: --nics 2 --standby 0 --switches one --prefix ${DEFAULT_PREFIX}, no rate limit.`;


interface Parsed {
  verb: string;
  positional: string[];
  flags: Map<string, string | true>;
}

const VALUED = new Set(['nics', 'standby', 'switches', 'rate', 'prefix']);
const BOOLEAN = new Set(['force', 'silent', 'delete', 'json', 'help']);
const ALLOWED: Record<string, string[]> = {
  up: ['nics', 'standby', 'switches', 'rate', 'prefix', 'force', 'json'],
  down: ['prefix'],
  fail: ['silent', 'delete', 'prefix'],
  repair: ['prefix'],
  status: ['prefix', 'json'],
};
const POSITIONALS: Record<string, number> = { up: 0, down: 0, fail: 1, repair: 1, status: 0 };

function parse(argv: string[]): Parsed {
  const [verb = '', ...rest] = argv;
  const out: Parsed = { verb, positional: [], flags: new Map() };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (!a.startsWith('--')) { out.positional.push(a); continue; }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (BOOLEAN.has(name) && eq < 0) { out.flags.set(name, true); continue; }
    if (!VALUED.has(name)) throw new LabError(`unknown option --${name}`);
    const value = eq >= 0 ? a.slice(eq + 1) : rest[++i];
    if (value === undefined || value === '') throw new LabError(`--${name} needs a value`);
    out.flags.set(name, value);
  }
  if (out.flags.has('help')) return out;
  const allowed = ALLOWED[verb];
  if (!allowed) throw new LabError(verb ? `unknown command '${verb}'` : 'missing command');
  for (const f of out.flags.keys()) if (!allowed.includes(f)) throw new LabError(`${verb}: option --${f} does not apply`);
  if (out.flags.has('silent') && out.flags.has('delete')) throw new LabError('fail: --silent and --delete exclude each other');
  if (out.positional.length !== POSITIONALS[verb]) {
    throw new LabError(POSITIONALS[verb] ? `${verb}: expected one interface name` : `${verb}: unexpected argument '${out.positional[0]}'`);
  }
  return out;
}

function intFlag(p: Parsed, name: string): number | undefined {
  const v = p.flags.get(name);
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new LabError(`--${name} expects a number, got '${String(v)}'`);
  return Number(v);
}

function str(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function formatUp(info: LabInfo): string {
  const nics = info.nics.map((n) => `${n.name} ${n.mac}${n.standby ? ' (standby)' : ''}`).join(', ');
  return [
    `lab ${info.prefix} up: ${info.nics.length} NIC(s), switches ${info.switches}, rate ${info.rate ?? 'unlimited'}`,
    `  host  ${info.namespaces.host}: ${nics}`,
    `  sw    ${info.namespaces.sw}: bridges ${info.bridges.join(', ')}`,
    `  peer  ${info.namespaces.peer}: eth0 ${info.peer.addresses.join(' ')}; rem0 ${info.peer.remoteAddresses.join(' ')}`,
    `  run in the host: ip netns exec ${info.namespaces.host} COMMAND`,
  ].join('\n');
}

function portText(p: PortStatus | null): string {
  if (!p) return '-';
  return `${p.name} ${p.fault === 'deleted' ? 'deleted' : !p.up ? 'down' : p.attached ? 'up' : 'detached'}`;
}

function faultText(port: PortStatus | null, uplink: PortStatus | null): string {
  const f = [port, uplink].filter((p): p is PortStatus => p !== null && p.fault !== 'none');
  return f.length ? f.map((p) => `${p.fault} (${p.name})`).join(', ') : 'none';
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n');
}

export function formatStatus(s: LabStatus): string {
  if (!s.exists) return `lab ${s.prefix}: not running${s.info ? ' (stale state file)' : ''}`;
  const head = [
    `lab ${s.prefix}: namespaces ${s.namespaces.join(', ')}`
      + (s.info ? `; switches ${s.info.switches}; rate ${s.info.rate ?? 'unlimited'}` : '; no state file'),
  ];
  const perNic = s.links.some((l) => l.uplink);
  const rows = [['NIC', 'MAC', 'CARRIER', 'STANDBY', 'SWITCH PORT', ...(perNic ? ['UPLINK'] : []), 'RATE', 'FAULT']];
  for (const l of s.links) {
    rows.push([l.nic, l.mac ?? '-', l.carrier === null ? 'n/a' : l.carrier ? 'up' : 'down', l.standby ? 'yes' : 'no',
      portText(l.port), ...(perNic ? [portText(l.uplink)] : []), l.rate ?? '-', faultText(l.port, l.uplink)]);
  }
  const lines = [...head, table(rows)];
  if (s.info) {
    lines.push(`peer ${s.info.namespaces.peer}: eth0 ${s.info.peer.addresses.join(' ')} via ${portText(s.peerPort)}`
      + (s.peerPort && s.peerPort.fault !== 'none' ? ` [${s.peerPort.fault} fault]` : ''));
  }
  return lines.join('\n');
}

async function runDemoVerb(argv: string[]): Promise<number> {
  const url = new URL('./demo.js', import.meta.url);
  if (!existsSync(url)) {
    process.stderr.write('ipmp lab demo: not available\n');
    return 1;
  }
  const mod = (await import(url.href)) as { runDemo?: (a: string[]) => Promise<number> | number };
  if (typeof mod.runDemo !== 'function') {
    process.stderr.write('ipmp lab demo: not available\n');
    return 1;
  }
  return await mod.runDemo(argv);
}

function upOptions(p: Parsed): LabOptions {
  return {
    prefix: str(p, 'prefix') ?? DEFAULT_PREFIX, nics: intFlag(p, 'nics'), standby: intFlag(p, 'standby'),
    switches: str(p, 'switches') as SwitchMode | undefined, rate: str(p, 'rate') ?? null,
    force: p.flags.has('force'),
  };
}

async function runVerb(p: Parsed): Promise<number> {
  const prefix = str(p, 'prefix') ?? DEFAULT_PREFIX;
  switch (p.verb) {
    case 'up': {
      const info = await labUp(upOptions(p));
      process.stdout.write(`${p.flags.has('json') ? JSON.stringify(info, null, 2) : formatUp(info)}\n`);
      return 0;
    }
    case 'down':
      await labDown(prefix);
      return 0;
    case 'fail': {
      const silent = p.flags.has('silent');
      const del = p.flags.has('delete');
      await labFail(prefix, p.positional[0], { silent, delete: del });
      const what = del ? 'deleted' : silent ? 'silent fault (frames dropped, carrier up)' : 'link down';
      process.stdout.write(`${p.positional[0]}: ${what}\n`);
      return 0;
    }
    case 'repair':
      await labRepair(prefix, p.positional[0]);
      process.stdout.write(`${p.positional[0]}: repaired\n`);
      return 0;
    default: {
      const s = await labStatus(prefix);
      process.stdout.write(`${p.flags.has('json') ? JSON.stringify(s, null, 2) : formatStatus(s)}\n`);
      return s.exists ? 0 : 1;
    }
  }
}

/** Entry point for `ipmp lab ...`; argv excludes "lab". */
export async function labMain(argv: string[]): Promise<number> {
  if (argv[0] === 'demo') return runDemoVerb(argv.slice(1));
  if (argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let p: Parsed;
  try {
    p = parse(argv);
    if (p.verb === 'up' && !p.flags.has('help')) planLab(upOptions(p));
  } catch (err) {
    process.stderr.write(`ipmp lab: ${(err as Error).message} (see 'ipmp lab --help')\n`);
    return 2;
  }
  if (p.flags.has('help')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write(`ipmp lab ${p.verb}: needs root (network namespaces)\n`);
    return 1;
  }
  try {
    return await runVerb(p);
  } catch (err) {
    const msg = err instanceof LabError ? err.message : String((err as Error)?.message ?? err).split('\n')[0];
    process.stderr.write(`ipmp lab ${p.verb}: ${msg}\n`);
    return 1;
  }
}
