/**
 * Pieces shared by ipmpstat, if_mpadm and ipmp: the injectable I/O surface, a small
 * getopt-style parser, and the control-socket connection with its error mapping.
 */
import type { ErrorCode, ProbeEvent, Reply, Request } from '../daemon/protocol.js';
import { ControlUnavailableError, connectControl, resolveSocketPath } from './client.js';

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
export type RequestBody = DistributiveOmit<Request, 'id'>;

/** The face of the control-socket client (src/cli/client.ts) that the commands use. */
export interface ControlClient {
  request(req: RequestBody): Promise<Reply>;
  subscribe(onEvent: (ev: ProbeEvent) => void): Promise<void>;
  close(): void;
  /** Called once when the connection ends (err set unless close() ended it). */
  onClose?(cb: (err?: Error) => void): void;
}

/** The default connection: the control-socket client. */
async function defaultConnect(path: string, timeoutMs?: number): Promise<ControlClient> {
  return connectControl(path, timeoutMs);
}

/** A writable text sink; a tty stdout also reports its height. */
export interface Out {
  write(s: string): unknown;
  isTTY?: boolean;
  rows?: number;
}

export type ConnectFn = (path: string, timeoutMs?: number) => Promise<ControlClient>;

export interface CliIo {
  stdout: Out;
  stderr: Out;
  connect?: ConnectFn;
  /** Wall clock in ms (Date.now scale). */
  now?: () => number;
  /** Resolves when the user interrupts a long-running command (SIGINT by default). */
  interrupted?: Promise<void>;
}

export function defaultIo(io?: Partial<CliIo>): Required<Pick<CliIo, 'stdout' | 'stderr' | 'connect' | 'now'>> & CliIo {
  return {
    stdout: io?.stdout ?? process.stdout,
    stderr: io?.stderr ?? process.stderr,
    connect: io?.connect ?? defaultConnect,
    now: io?.now ?? Date.now,
    interrupted: io?.interrupted,
  };
}

/** Raised for command-line mistakes; the command prints it with its usage and exits 2. */
export class UsageError extends Error {}

/** Raised for operational failures; the command prints the text as is and exits 1. */
export class FatalError extends Error {}

export interface ParsedArgs {
  /** Short flags in order, with their argument when the flag takes one. */
  opts: { flag: string; value?: string }[];
  operands: string[];
  socket?: string;
  help: boolean;
  debug: boolean;
}

/**
 * Parses short options (clusterable, `-ofoo` or `-o foo` for those in `withArg`), plus the
 * long options --socket PATH, --socket=PATH, --help and --debug. `--` ends options.
 */
export function parseArgs(argv: string[], flags: string, withArg: string): ParsedArgs {
  const out: ParsedArgs = { opts: [], operands: [], help: false, debug: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { out.operands.push(...argv.slice(i + 1)); break; }
    if (a === '--help') { out.help = true; continue; }
    if (a === '--debug') { out.debug = true; continue; }
    if (a === '--socket' || a.startsWith('--socket=')) {
      const v = a === '--socket' ? argv[++i] : a.slice('--socket='.length);
      if (v === undefined || v === '') throw new UsageError('option --socket requires a path');
      out.socket = v;
      continue;
    }
    if (a.startsWith('--')) throw new UsageError(`unrecognized option '${a}'`);
    if (a.length < 2 || a[0] !== '-') { out.operands.push(a); continue; }
    for (let j = 1; j < a.length; j++) {
      const f = a[j];
      if (withArg.includes(f)) {
        const v = j + 1 < a.length ? a.slice(j + 1) : argv[++i];
        if (v === undefined) throw new UsageError(`option requires an argument -- '${f}'`);
        out.opts.push({ flag: f, value: v });
        break;
      }
      if (!flags.includes(f)) throw new UsageError(`illegal option -- '${f}'`);
      out.opts.push({ flag: f });
    }
  }
  return out;
}

/** The daemon refused the connection or is not there. */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof ControlUnavailableError) return true;
  const code = errorCode(err);
  if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ENOTSOCK') return true;
  return err instanceof Error && (err.name === 'ControlUnavailableError' ||
    err.constructor?.name === 'ControlUnavailableError');
}

/** Connects and pings; every failure on the way is reported as "cannot contact". */
export async function openControl(io: CliIo, socket: string | undefined, unavailableText: string): Promise<ControlClient> {
  const connect = io.connect ?? defaultConnect;
  let client: ControlClient;
  try {
    client = await connect(resolveSocketPath(socket));
  } catch (err) {
    if (isUnavailable(err)) throw new FatalError(unavailableText);
    throw err;
  }
  let reply: Reply;
  try {
    reply = await client.request({ op: 'ping' });
  } catch {
    client.close();
    throw new FatalError(unavailableText);
  }
  if (!reply.ok) {
    client.close();
    throw new FatalError(unavailableText);
  }
  return client;
}

/** A refusal from the daemon, carrying its code. */
export class DaemonError extends Error {
  constructor(message: string, readonly code: ErrorCode | undefined) { super(message); }
}

/** Sends one request and returns its result, or throws DaemonError on a refusal. */
export async function call(client: ControlClient, req: RequestBody): Promise<unknown> {
  const reply = await client.request(req);
  if (!reply.ok) throw new DaemonError(reply.error, reply.code);
  return reply.result;
}

/** The code carried by an error from the client or the daemon, if any. */
export function errorCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err) {
    const c = (err as { code: unknown }).code;
    if (typeof c === 'string') return c;
  }
  return undefined;
}

/**
 * Runs a command body and turns its outcome into an exit code: UsageError → message plus usage,
 * exit 2; FatalError → the message, exit 1; anything else → a one-line message (a stack with
 * --debug), exit 1.
 */
export async function runCommand(
  prog: string, usage: string, stderr: Out, debug: boolean, body: () => Promise<number>,
): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UsageError) {
      stderr.write(`${prog}: ${err.message}\n${usage}`);
      return 2;
    }
    if (err instanceof FatalError) {
      stderr.write(`${err.message}\n`);
      return 1;
    }
    const msg = err instanceof Error ? err.message : String(err);
    stderr.write(`${prog}: ${msg.split('\n')[0]}\n`);
    if (debug && err instanceof Error && err.stack) stderr.write(`${err.stack}\n`);
    return 1;
  }
}

/** A promise that resolves on the first SIGINT; the handler is removed by `dispose`. */
export function onSigint(): { promise: Promise<void>; dispose: () => void } {
  let handler: () => void = () => {};
  const promise = new Promise<void>((resolve) => { handler = () => resolve(); });
  process.once('SIGINT', handler);
  return { promise, dispose: () => { process.removeListener('SIGINT', handler); } };
}
