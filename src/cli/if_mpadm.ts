/**
 * if_mpadm: offline an interface of an IPMP group, or undo the offline (reference §12).
 *
 *   if_mpadm -d IFNAME     offline: data addresses move away, probing stops
 *   if_mpadm -r IFNAME     undo offline
 *
 * As on Solaris the state is checked from a snapshot first ("already offline", "not offline"),
 * then the daemon decides; its refusal codes map to the Solaris texts.
 */
import type { Snapshot, SnapshotInterface } from '../daemon/protocol.js';
import {
  call, DaemonError, defaultIo, errorCode, FatalError, openControl, parseArgs, runCommand, UsageError,
} from './common.js';
import type { CliIo, ControlClient } from './common.js';

const PROG = 'if_mpadm';
const FATAL = 'if_mpadm: fatal: ';

export const IF_MPADM_USAGE = 'usage: if_mpadm -d | -r IFNAME\n';

const HELP = `${IF_MPADM_USAGE}
  -d IFNAME      offline IFNAME: its data addresses move to other members, probing stops
  -r IFNAME      undo a previous offline of IFNAME
  --socket PATH  control socket (default: $IPMP_SOCKET or /run/ipmp/ipmpd.sock)
  --debug        show stack traces on unexpected errors
  --help         this text
`;

export const IF_MPADM_TEXTS = {
  alreadyOffline: (ifname: string) => `interface ${ifname} is already offline`,
  minRedundancy: (ifname: string) =>
    `cannot offline ${ifname}: no other functioning interfaces are in its IPMP group`,
  notOffline: (ifname: string) => `interface ${ifname} is not offline`,
  unknownIf: () => 'not a physical interface or not in an IPMP group',
  hwaddrDup: () => 'interface has duplicate hardware address',
  permission: () => 'permission denied',
  unavailable: () => 'cannot contact ipmpd -- is IPMP in use?',
} as const;

type Action = 'offline' | 'undo-offline';

function parseOptions(argv: string[]): { action?: Action; ifname?: string; socket?: string; help: boolean } {
  const args = parseArgs(argv, '', 'dr');
  if (args.help) return { help: true };
  if (args.opts.length === 0) throw new UsageError('one of -d or -r is required');
  if (args.opts.length > 1) throw new UsageError('only one of -d or -r may be specified');
  if (args.operands.length > 0) throw new UsageError(`unexpected operand '${args.operands[0]}'`);
  const { flag, value } = args.opts[0];
  if (!value) throw new UsageError('an interface name is required');
  return { action: flag === 'd' ? 'offline' : 'undo-offline', ifname: value, socket: args.socket, help: false };
}

/** The message for a daemon refusal, or undefined when the daemon's own text should be used. */
export function refusalText(code: string | undefined, action: Action, ifname: string): string | undefined {
  switch (code) {
    case 'EMINRED': return IF_MPADM_TEXTS.minRedundancy(ifname);
    case 'EALREADY': return IF_MPADM_TEXTS.alreadyOffline(ifname);
    case 'ENOTOFFLINE': return IF_MPADM_TEXTS.notOffline(ifname);
    case 'EINVAL': return action === 'undo-offline' ? IF_MPADM_TEXTS.notOffline(ifname) : undefined;
    case 'EUNKIF': return IF_MPADM_TEXTS.unknownIf();
    case 'EHWADDRDUP': return IF_MPADM_TEXTS.hwaddrDup();
    case 'EPERM': return IF_MPADM_TEXTS.permission();
    default: return undefined;
  }
}

function fatal(text: string): FatalError {
  return new FatalError(`${FATAL}${text}`);
}

async function findInterface(client: ControlClient, ifname: string): Promise<SnapshotInterface | undefined> {
  const snap = (await call(client, { op: 'snapshot' })) as Snapshot;
  return (snap.interfaces ?? []).find((i) => i.name === ifname);
}

async function run(client: ControlClient, action: Action, ifname: string): Promise<void> {
  try {
    const ifc = await findInterface(client, ifname);
    if (!ifc) throw fatal(IF_MPADM_TEXTS.unknownIf());
    if (action === 'offline' && ifc.state === 'offline') throw fatal(IF_MPADM_TEXTS.alreadyOffline(ifname));
    if (action === 'undo-offline' && ifc.state !== 'offline') throw fatal(IF_MPADM_TEXTS.notOffline(ifname));
    await call(client, { op: action, ifname });
  } catch (err) {
    if (!(err instanceof DaemonError)) throw err;
    throw fatal(refusalText(errorCode(err), action, ifname) ?? err.message);
  }
}

export async function ifMpadmMain(argv: string[], ioIn?: Partial<CliIo>): Promise<number> {
  const io = defaultIo(ioIn);
  return runCommand(PROG, IF_MPADM_USAGE, io.stderr, argv.includes('--debug'), async () => {
    const opts = parseOptions(argv);
    if (opts.help) {
      io.stdout.write(HELP);
      return 0;
    }
    const client = await openControl(io, opts.socket, `${FATAL}${IF_MPADM_TEXTS.unavailable()}`);
    try {
      await run(client, opts.action!, opts.ifname!);
      return 0;
    } finally {
      client.close();
    }
  });
}
