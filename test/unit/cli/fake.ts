/** A fake control connection and captured output for the CLI tests. */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import assert from 'node:assert/strict';
import type { ProbeEvent, Reply, Snapshot } from '../../../src/daemon/protocol.js';
import type { CliIo, ControlClient, RequestBody } from '../../../src/cli/common.js';

export { ControlUnavailableError } from '../../../src/cli/client.js';

export interface Captured {
  write(s: string): boolean;
  text: string;
  isTTY?: boolean;
  rows?: number;
}

export function capture(tty?: { rows: number }): Captured {
  const out: Captured = {
    text: '',
    write(s: string) { out.text += s; return true; },
  };
  if (tty) { out.isTTY = true; out.rows = tty.rows; }
  return out;
}

export type Handler = (req: RequestBody) => Reply | Omit<Reply, 'id'>;

export interface FakeDaemon {
  requests: RequestBody[];
  connects: string[];
  closed: number;
  connect: NonNullable<CliIo['connect']>;
}

export interface FakeOptions {
  /** Events delivered on subscribe, synchronously. */
  events?: ProbeEvent[];
  /** Error thrown by subscribe. */
  subscribeError?: Error;
  /** Error thrown by connect. */
  connectError?: Error;
  /** Ends the connection with this error right after subscribing. */
  dropAfterSubscribe?: Error;
}

export function fakeDaemon(handler: Handler, opts: FakeOptions = {}): FakeDaemon {
  const fake: FakeDaemon = {
    requests: [],
    connects: [],
    closed: 0,
    connect: async (path: string) => {
      fake.connects.push(path);
      if (opts.connectError) throw opts.connectError;
      let onClose: ((err?: Error) => void) | undefined;
      const client: ControlClient = {
        onClose(cb) { onClose = cb; },
        async request(req) {
          fake.requests.push(req);
          return { id: fake.requests.length, ...handler(req) } as Reply;
        },
        async subscribe(onEvent) {
          fake.requests.push({ op: 'probe-subscribe' });
          if (opts.subscribeError) throw opts.subscribeError;
          for (const ev of opts.events ?? []) onEvent(ev);
          const drop = opts.dropAfterSubscribe;
          if (drop) setTimeout(() => onClose?.(drop), 5);
        },
        close() { fake.closed++; },
      };
      return client;
    },
  };
  return fake;
}

/** A daemon that answers ping and snapshot, and accepts every other request. */
export function snapshotDaemon(snap: Snapshot, opts: FakeOptions = {}, other?: Handler): FakeDaemon {
  return fakeDaemon((req) => {
    if (req.op === 'ping') return { ok: true, result: {} };
    if (req.op === 'snapshot') return { ok: true, result: snap };
    return other ? other(req) : { ok: true, result: {} };
  }, opts);
}

export interface RunResult { code: number; stdout: string; stderr: string }

export async function run(
  main: (argv: string[], io?: Partial<CliIo>) => Promise<number>,
  argv: string[],
  daemon: FakeDaemon,
  extra: Partial<CliIo> & { tty?: { rows: number } } = {},
): Promise<RunResult> {
  const stdout = capture(extra.tty);
  const stderr = capture();
  const code = await main(argv, {
    stdout, stderr, connect: daemon.connect, now: () => 1_700_000_000_000, interrupted: Promise.resolve(), ...extra,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const GOLDEN = new URL('../../../../test/unit/cli/golden/', import.meta.url);

/** Compares with test/unit/cli/golden/NAME; UPDATE_GOLDEN=1 rewrites the file instead. */
export function golden(name: string, actual: string): void {
  const url = new URL(name, GOLDEN);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(url, actual);
    return;
  }
  assert.equal(actual, readFileSync(url, 'utf8'), `golden ${name}`);
}
