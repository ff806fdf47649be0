/**
 * ipmpstat: group, interface, address, target and probe status (reference §11).
 *
 *   ipmpstat [-n] [-o FIELD[,FIELD...] [-P]] -a|-g|-i|-p|-t
 *   ipmpstat -j [-o FIELD[,FIELD...]] -a|-g|-i|-t
 *
 * All modes but -p read one snapshot; -p subscribes to probe events and prints one line per
 * resolved probe until interrupted.
 */
import type { ProbeEvent, Snapshot } from '../daemon/protocol.js';
import {
  call, DaemonError, defaultIo, errorCode, FatalError, onSigint, openControl, parseArgs, runCommand, UsageError,
} from './common.js';
import type { CliIo, ControlClient, Out } from './common.js';
import {
  ADDRESS_FIELDS, addressRows, GROUP_FIELDS, groupRows, INTERFACE_FIELDS, PROBE_FIELDS,
  probingEnabled, TARGET_FIELDS, targetRows,
} from './ipmpstat-fields.js';
import type { Mode, ProbeRow } from './ipmpstat-fields.js';
import { Ofmt, pageRowsFor, selectFields, unknownFieldsMessage } from './ofmt.js';
import type { OfmtField } from './ofmt.js';

const PROG = 'ipmpstat';
const UNAVAILABLE = 'ipmpstat: cannot contact ipmpd -- is IPMP in use?';

export const IPMPSTAT_USAGE =
  'usage: ipmpstat [-n] [-o FIELD[,FIELD...] [-P]] -a|-g|-i|-p|-t\n' +
  '       ipmpstat -j [-o FIELD[,FIELD...]] -a|-g|-i|-t\n';

const HELP = `${IPMPSTAT_USAGE}
Modes (exactly one):
  -a   data addresses:  ADDRESS STATE GROUP INBOUND OUTBOUND
  -g   groups:          GROUP GROUPNAME STATE FDT INTERFACES
  -i   interfaces:      INTERFACE ACTIVE GROUP FLAGS LINK PROBE STATE
  -p   probes, one line per acked or lost probe until interrupted:
                        TIME INTERFACE PROBE NETRTT RTT RTTAVG TARGET [RTTDEV]
  -t   probe targets:   INTERFACE MODE TESTADDR TARGETS
Options:
  -n             numeric output (addresses are always shown numerically)
  -o FIELD,...   fields to show, case-insensitive, or "all"
  -P             parsable output (colon-separated; requires -o, not "all")
  -j             one JSON document, field names in lower case
  --socket PATH  control socket (default: $IPMP_SOCKET or /run/ipmp/ipmpd.sock)
  --debug        show stack traces on unexpected errors
  --help         this text
FLAGS: i inactive, s standby, m IPv4 multicast, b IPv4 broadcast, M IPv6 multicast,
       d down, h duplicate hardware address.
`;

interface Options {
  mode: Mode;
  fields?: string;
  parsable: boolean;
  json: boolean;
  socket?: string;
  help: boolean;
}

function parseOptions(argv: string[]): Options {
  const args = parseArgs(argv, 'agiptnPj', 'o');
  let mode: Mode | undefined;
  const o: Partial<Options> = { parsable: false, json: false, socket: args.socket, help: args.help };
  for (const { flag, value } of args.opts) {
    if ('agipt'.includes(flag)) {
      if (mode !== undefined) throw new UsageError('only one output format may be specified');
      mode = flag as Mode;
    } else if (flag === 'o') o.fields = value;
    else if (flag === 'P') o.parsable = true;
    else if (flag === 'j') o.json = true;
  }
  if (args.help) return { ...o, mode: mode ?? 'g' } as Options;
  if (args.operands.length > 0) throw new UsageError(`unexpected operand '${args.operands[0]}'`);
  if (mode === undefined) throw new UsageError('one of -a, -g, -i, -p or -t is required');
  if (o.parsable) {
    if (o.fields === undefined) throw new UsageError('output field list (-o) required in parsable output mode');
    if (o.fields.toLowerCase() === 'all') throw new UsageError('"all" not allowed in parsable output mode');
  }
  if (o.json && o.parsable) throw new UsageError('-j and -P cannot be used together');
  if (o.json && mode === 'p') throw new UsageError('-j cannot be used with -p');
  return { ...o, mode } as Options;
}

function tableFor(mode: Mode): readonly OfmtField<never>[] {
  switch (mode) {
    case 'a': return ADDRESS_FIELDS as readonly OfmtField<never>[];
    case 'g': return GROUP_FIELDS as readonly OfmtField<never>[];
    case 'i': return INTERFACE_FIELDS as readonly OfmtField<never>[];
    case 't': return TARGET_FIELDS as readonly OfmtField<never>[];
    case 'p': return PROBE_FIELDS as readonly OfmtField<never>[];
  }
}

function rowsFor(mode: Exclude<Mode, 'p'>, s: Snapshot): unknown[] {
  switch (mode) {
    case 'a': return addressRows(s);
    case 'g': return groupRows(s);
    case 'i': return s.interfaces ?? [];
    case 't': return targetRows(s);
  }
}

function chooseFields(opts: Options, stderr: Out): OfmtField<unknown>[] {
  const sel = selectFields(tableFor(opts.mode) as readonly OfmtField<unknown>[], opts.fields);
  if (sel.unknown.length > 0) {
    const msg = unknownFieldsMessage(sel.unknown, opts.parsable);
    if (opts.parsable) throw new UsageError(msg);
    stderr.write(`${PROG}: warning: ${msg}\n`);
  }
  if (sel.fields.length === 0) throw new UsageError('no valid output fields');
  return sel.fields;
}

function makePrinter(fields: OfmtField<unknown>[], opts: Options, io: CliIo): Ofmt<unknown> {
  return new Ofmt(fields, {
    parsable: opts.parsable,
    out: io.stdout,
    pageRows: pageRowsFor(io.stdout),
    onUnobtainable: (field) => io.stderr.write(`${PROG}: warning: cannot obtain ${field}\n`),
  });
}

async function snapshot(client: ControlClient): Promise<Snapshot> {
  try {
    return (await call(client, { op: 'snapshot' })) as Snapshot;
  } catch (err) {
    if (err instanceof DaemonError) throw new FatalError(`${PROG}: cannot get a snapshot: ${err.message}`);
    throw err;
  }
}

function printJson(rows: unknown[], fields: OfmtField<unknown>[], printer: Ofmt<unknown>, out: Out): void {
  const doc = rows.map((row) => {
    const values = printer.values(row);
    const obj: Record<string, string | null> = {};
    fields.forEach((f, i) => { obj[f.name.toLowerCase()] = f.get(row) === undefined ? null : values[i]; });
    return obj;
  });
  out.write(`${JSON.stringify(doc, null, 2)}\n`);
}

async function runProbeMode(client: ControlClient, printer: Ofmt<unknown>, io: CliIo, startedMs: number): Promise<number> {
  const snap = await snapshot(client);
  if (!probingEnabled(snap)) throw new FatalError(`${PROG}: probe-based failure detection is disabled`);
  const sigint = io.interrupted ? undefined : onSigint();
  const interrupted = io.interrupted ?? sigint!.promise;
  const closed = new Promise<Error>((resolve) => {
    client.onClose?.((err) => resolve(err ?? new Error('ipmpd closed the connection')));
  });
  try {
    await client.subscribe((ev: ProbeEvent) => {
      if (ev.state !== 'acked' && ev.state !== 'lost') return;
      printer.print({ ev, startedMs } satisfies ProbeRow);
    });
  } catch (err) {
    sigint?.dispose();
    const text = err instanceof Error ? err.message : String(err);
    if (errorCode(err) === 'EPERM' || /permission denied/i.test(text)) {
      throw new FatalError(`${PROG}: insufficient privileges for -p`);
    }
    throw new FatalError(`${PROG}: cannot subscribe to probe events: ${text}`);
  }
  const lost = await Promise.race([interrupted.then(() => undefined), closed]);
  sigint?.dispose();
  if (lost) throw new FatalError(`${PROG}: ${lost.message}`);
  return 0;
}

export async function ipmpstatMain(argv: string[], ioIn?: Partial<CliIo>): Promise<number> {
  const io = defaultIo(ioIn);
  const startedMs = io.now();
  return runCommand(PROG, IPMPSTAT_USAGE, io.stderr, argv.includes('--debug'), async () => {
    const opts = parseOptions(argv);
    if (opts.help) {
      io.stdout.write(HELP);
      return 0;
    }
    const fields = chooseFields(opts, io.stderr);
    const printer = makePrinter(fields, opts, io);
    const client = await openControl(io, opts.socket, UNAVAILABLE);
    try {
      if (opts.mode === 'p') return await runProbeMode(client, printer, io, startedMs);
      const rows = rowsFor(opts.mode, await snapshot(client));
      if (opts.json) printJson(rows, fields, printer, io.stdout);
      else for (const row of rows) printer.print(row);
      return 0;
    } finally {
      client.close();
    }
  });
}
