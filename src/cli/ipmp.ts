/**
 * ipmp: live changes to the running daemon (ipadm-style verbs), plus the lab and the benchmarks.
 *
 *   ipmp add-ipmp [--persist] -i IF[,IF...] GROUP
 *   ipmp remove-ipmp [--persist] -i IF[,IF...] GROUP
 *   ipmp create-addr [--persist] -a ADDR/PLEN GROUP
 *   ipmp delete-addr [--persist] ADDR/PLEN GROUP
 *   ipmp set-ifprop [--persist] -p standby=on|off IF
 *   ipmp set-ifprop [--persist] -p test-address=ADDR/PLEN|link-local|none IF
 *   ipmp lab ...      ipmp bench ...
 *
 * Arguments are checked here before anything is sent; the daemon has the last word.
 * --persist (anywhere among the options) also makes the daemon rewrite its configuration
 * file once the live change succeeded; a change applied but not written exits 1.
 */
import { canonicalAddress, isLinkLocal6 } from '../daemon/config-addr.js';
import {
  call, DaemonError, defaultIo, FatalError, openControl, parseArgs, runCommand, UsageError,
} from './common.js';
import type { CliIo, RequestBody } from './common.js';
import type { LiveResult } from '../daemon/protocol.js';
import { checkAddrPrefix, checkIfname } from './validate.js';

const PROG = 'ipmp';

const VERB_USAGE: Record<string, string> = {
  'add-ipmp': 'ipmp add-ipmp [--persist] -i IF[,IF...] GROUP',
  'remove-ipmp': 'ipmp remove-ipmp [--persist] -i IF[,IF...] GROUP',
  'create-addr': 'ipmp create-addr [--persist] -a ADDR/PLEN GROUP',
  'delete-addr': 'ipmp delete-addr [--persist] ADDR/PLEN GROUP',
  'set-ifprop': 'ipmp set-ifprop [--persist] -p standby=on|off IF\n       ipmp set-ifprop [--persist] -p test-address=ADDR/PLEN|link-local|none IF',
  lab: 'ipmp lab up|down|fail|repair|status|demo [OPTIONS]',
  bench: 'ipmp bench [--quick] [--json FILE]\n       ipmp bench soak [--faults N] [--seed S] [--nics K] [--json FILE]',
};

export const IPMP_USAGE = `usage: ${Object.values(VERB_USAGE).join('\n       ')}\n`;

const HELP = `${IPMP_USAGE}
Verbs:
  add-ipmp      add underlying interfaces to a running group
  remove-ipmp   remove underlying interfaces from a running group
  create-addr   add a data address to a group
  delete-addr   remove a data address from a group
  set-ifprop    set an interface property: standby, test-address
  lab           build and drive a test network in namespaces (ipmp lab --help)
  bench         run the benchmark suite; bench soak: the fault soak (ipmp bench soak --help)
Options (before or after the verb):
  --persist      live verbs: also write the change into ipmpd's configuration file
  --socket PATH  control socket (default: $IPMP_SOCKET or /run/ipmp/ipmpd.sock)
  --debug        show stack traces on unexpected errors
  --help         this text
GROUP is the IPMP interface name (e.g. ipmp0) or its group name. Changes apply to the
running daemon only; with --persist, once applied, ipmpd also rewrites the configuration file
it loaded (comments and layout kept), so a restart or a SIGHUP keeps them. If the file cannot
take the change (edited since it was loaded, not writable), the change stays applied, the
reason is printed and the exit status is 1.
`;

function verbUsage(verb: string): string {
  return `usage: ${VERB_USAGE[verb]}\n`;
}

function operands(verb: string, got: string[], names: string[]): string[] {
  if (got.length < names.length) throw new UsageError(`${verb}: missing ${names[got.length]}`);
  if (got.length > names.length) throw new UsageError(`${verb}: unexpected operand '${got[names.length]}'`);
  return got;
}

function ifList(verb: string, values: string[]): string[] {
  if (values.length === 0) throw new UsageError(`${verb}: -i IF[,IF...] is required`);
  const names = values.flatMap((v) => v.split(',')).map((n) => n.trim());
  for (const n of names) checkIfname(n);
  if (new Set(names).size !== names.length) throw new UsageError(`${verb}: an interface is named twice`);
  return names;
}

function parseSetIfprop(values: string[], rest: string[]): RequestBody {
  if (values.length !== 1) throw new UsageError('set-ifprop: exactly one -p PROP=VALUE is required');
  const [ifname] = operands('set-ifprop', rest, ['IF']);
  checkIfname(ifname);
  const eq = values[0].indexOf('=');
  if (eq < 0) throw new UsageError(`set-ifprop: '${values[0]}' is not PROP=VALUE`);
  const prop = values[0].slice(0, eq).toLowerCase();
  const value = values[0].slice(eq + 1);
  if (prop === 'standby') {
    const v = value.toLowerCase();
    if (v !== 'on' && v !== 'off') throw new UsageError(`set-ifprop: standby must be on or off, not '${value}'`);
    return { op: 'set-ifprop', ifname, prop, value: v };
  }
  if (prop === 'test-address') {
    const v = value.toLowerCase();
    if (v === 'none' || v === 'link-local') return { op: 'set-ifprop', ifname, prop, value: v };
    checkAddrPrefix(value);
    const addr = value.slice(0, value.lastIndexOf('/'));
    const c = canonicalAddress(addr);
    if (c?.family === 6 && !isLinkLocal6(c.address)) {
      throw new UsageError(`set-ifprop: an IPv6 test address must be link-local (fe80::/10), not '${addr}'`);
    }
    return { op: 'set-ifprop', ifname, prop, value };
  }
  throw new UsageError(`set-ifprop: unknown property '${prop}' (standby, test-address)`);
}

/** Turns one live verb and its arguments into a control request; throws UsageError. */
export function parseVerb(verb: string, argv: string[]): RequestBody {
  return parseVerbArgs(verb, argv).req;
}

function parseVerbArgs(verb: string, argv: string[], persistBefore = false): { req: RequestBody; socket?: string } {
  const { rest, persist } = takePersist(argv);
  const args = parseArgs(rest, '', withArgFor(verb));
  const req = requestFor(verb, args.opts.map((o) => o.value ?? ''), args.operands);
  return { req: persist || persistBefore ? { ...req, persist: true } as RequestBody : req, socket: args.socket };
}

/** Takes --persist out of the options (not after `--`). */
function takePersist(argv: string[]): { rest: string[]; persist: boolean } {
  const stop = argv.indexOf('--');
  const head = stop < 0 ? argv : argv.slice(0, stop);
  const tail = stop < 0 ? [] : argv.slice(stop);
  return { rest: [...head.filter((a) => a !== '--persist'), ...tail], persist: head.includes('--persist') };
}

function withArgFor(verb: string): string {
  return verb === 'add-ipmp' || verb === 'remove-ipmp' ? 'i'
    : verb === 'create-addr' ? 'a' : verb === 'set-ifprop' ? 'p' : '';
}

function requestFor(verb: string, values: string[], rest: string[]): RequestBody {
  switch (verb) {
    case 'add-ipmp':
    case 'remove-ipmp': {
      const interfaces = ifList(verb, values);
      const [group] = operands(verb, rest, ['GROUP']);
      checkIfname(group);
      return { op: verb, group, interfaces };
    }
    case 'create-addr': {
      if (values.length !== 1) throw new UsageError('create-addr: exactly one -a ADDR/PLEN is required');
      const [group] = operands(verb, rest, ['GROUP']);
      checkIfname(group);
      return { op: verb, group, address: checkAddrPrefix(values[0]) };
    }
    case 'delete-addr': {
      const [addr, group] = operands(verb, rest, ['ADDR/PLEN', 'GROUP']);
      checkIfname(group);
      return { op: verb, group, address: checkAddrPrefix(addr) };
    }
    case 'set-ifprop':
      return parseSetIfprop(values, rest);
    default:
      throw new UsageError(`unknown verb '${verb}'`);
  }
}

/** Loads a sub-command module relative to this file; undefined when it is not there. */
async function loadMain(rel: string, name: string): Promise<((argv: string[]) => Promise<number>) | undefined> {
  const url = new URL(rel, import.meta.url).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(rel.replace(/^(\.\.\/)+/, ''))) {
      return undefined;
    }
    throw err;
  }
  const fn = mod[name];
  return typeof fn === 'function' ? (fn as (argv: string[]) => Promise<number>) : undefined;
}

async function runLive(verb: string, argv: string[], io: CliIo, socket: string | undefined, persist: boolean): Promise<number> {
  if (argv.includes('--help')) {
    io.stdout.write(verbUsage(verb));
    return 0;
  }
  const parsed = parseVerbArgs(verb, argv, persist);
  const req = parsed.req;
  const client = await openControl(io, parsed.socket ?? socket, `${PROG}: cannot contact ipmpd -- is IPMP in use?`);
  try {
    const result = (await call(client, req)) as LiveResult | null;
    if ('persist' in req && req.persist && result?.persisted !== true) {
      const why = typeof result?.warning === 'string' ? result.warning : 'ipmpd did not confirm the write';
      throw new FatalError(`${PROG}: ${verb} applied, but not persisted: ${why}`);
    }
    return 0;
  } catch (err) {
    if (err instanceof DaemonError) throw new FatalError(`${PROG}: ${verb}: ${err.message}`);
    throw err;
  } finally {
    client.close();
  }
}

export async function ipmpMain(argv: string[], ioIn?: Partial<CliIo>): Promise<number> {
  const io = defaultIo(ioIn);
  return runCommand(PROG, IPMP_USAGE, io.stderr, argv.includes('--debug'), async () => {
    let socket: string | undefined;
    let persist = false;
    let i = 0;
    for (; i < argv.length && argv[i].startsWith('-'); i++) {
      const a = argv[i];
      if (a === '--help') { io.stdout.write(HELP); return 0; }
      if (a === '--debug') continue;
      if (a === '--persist') { persist = true; continue; }
      if (a === '--socket') { socket = argv[++i]; if (!socket) throw new UsageError('option --socket requires a path'); continue; }
      if (a.startsWith('--socket=')) { socket = a.slice('--socket='.length); continue; }
      throw new UsageError(`unrecognized option '${a}'`);
    }
    const verb = argv[i];
    const rest = argv.slice(i + 1);
    if (verb === undefined) throw new UsageError('a verb is required');
    if (verb === 'help') { io.stdout.write(HELP); return 0; }
    if (persist && (verb === 'lab' || verb === 'bench')) throw new UsageError('--persist applies to the live verbs only');
    if (verb === 'lab') {
      const labMain = await loadMain('../lab/cli.js', 'labMain');
      if (!labMain) throw new FatalError('ipmp lab: not available');
      return labMain(rest);
    }
    if (verb === 'bench') {
      const benchMain = await loadMain('../../bench/cli.js', 'benchMain');
      if (!benchMain) throw new FatalError('ipmp bench: not available');
      return benchMain(rest);
    }
    if (!Object.hasOwn(VERB_USAGE, verb)) throw new UsageError(`unknown verb '${verb}'`);
    try {
      return await runLive(verb, rest, io, socket, persist);
    } catch (err) {
      if (err instanceof UsageError) {
        io.stderr.write(`${PROG}: ${err.message}\n${verbUsage(verb)}`);
        return 2;
      }
      throw err;
    }
  });
}
