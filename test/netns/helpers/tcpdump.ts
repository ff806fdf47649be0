/**
 * tcpdump inside a lab namespace for tests: `ready` resolves once it listens (rejects after 5 s
 * or when it exits first), its output is kept (and handed over line by line when asked), and
 * it is killed after `hardMs` whatever happens. stop() ends it with SIGINT, so it prints its
 * kernel counts on stderr, and with SIGKILL 3 s later if it has not exited.
 */
import { spawnIn } from '../../../src/lab/lab.js';

export interface Tcpdump {
  readonly ready: Promise<void>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  out(): string;
  err(): string;
  stop(): Promise<void>;
}

export function tcpdump(ns: string, args: string[], opts: { hardMs?: number; onLine?: (line: string) => void } = {}): Tcpdump {
  const child = spawnIn(ns, ['tcpdump', ...args]);
  let out = '';
  let err = '';
  let partial = '';
  child.stdout?.on('data', (b: Buffer) => {
    const text = b.toString();
    out += text;
    if (!opts.onLine) return;
    partial += text;
    let i;
    while ((i = partial.indexOf('\n')) >= 0) { opts.onLine(partial.slice(0, i)); partial = partial.slice(i + 1); }
  });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const hard = setTimeout(() => child.kill('SIGKILL'), opts.hardMs ?? 60_000);
  void exited.then(() => clearTimeout(hard));
  const ready = new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`tcpdump not listening within 5 s: ${err}`)), 5_000);
    child.stderr?.on('data', (b: Buffer) => {
      err += b.toString();
      if (err.includes('listening on')) { clearTimeout(t); res(); }
    });
    child.once('exit', () => { clearTimeout(t); rej(new Error(`tcpdump exited: ${err}`)); });
  });
  ready.catch(() => undefined);
  return {
    ready,
    exited,
    out: () => out,
    err: () => err,
    async stop(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        const t = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}
