/**
 * A daemon started under a packet capture, for tests that look at what the daemon sends from
 * its first frame on (duplicate address detection): a tcpdump in a lab namespace whose lines
 * are parsed into frames as they come (FrameCapture), and underCapture(), which starts the
 * daemon only once the capture listens, adds the capture to a failure's message next to the
 * daemon's log, and stops both whatever happens.
 */
import { tcpdump, type Tcpdump } from './tcpdump.js';
import { startDaemon, withLog, type RunningDaemon } from './daemon.js';

/** Frames seen by a tcpdump in a namespace, in order, as parse() makes them of its output lines; bounded by hardMs. */
export abstract class FrameCapture<F extends { line: string }> {
  readonly seen: F[] = [];
  readonly ready: Promise<void>;
  private readonly cap: Tcpdump;

  constructor(ns: string, args: string[], hardMs: number) {
    this.cap = tcpdump(ns, args, { hardMs, onLine: (l) => this.parse(l) });
    this.ready = this.cap.ready;
  }

  /** Adds the frame of one output line to `seen`, if it is one. */
  protected abstract parse(line: string): void;

  stop(): void {
    void this.cap.stop();
  }

  text(): string {
    return this.seen.map((x) => x.line).join('\n');
  }
}

/** Runs fn; a failure carries the capture's frames and the tail of the daemon's log. */
export function withCapture<T>(d: RunningDaemon, cap: FrameCapture<{ line: string }>, fn: () => Promise<T>): Promise<T> {
  return withLog(d, fn, 30, () => `--- capture ---\n${cap.text()}`);
}

/**
 * Starts the capture `capture()` makes, once it listens the daemon (startDaemon in the lab
 * `prefix` with `yamlText`), and runs fn with both (withCapture); then stops the daemon and
 * the capture, also when something failed.
 */
export async function underCapture<C extends FrameCapture<{ line: string }>, T>(prefix: string, capture: () => C, yamlText: string,
  fn: (d: RunningDaemon, cap: C) => Promise<T>): Promise<T> {
  const cap = capture();
  try {
    await cap.ready;
    const d = await startDaemon(prefix, yamlText);
    try {
      return await withCapture(d, cap, () => fn(d, cap));
    } finally {
      await d.stop();
    }
  } finally {
    cap.stop();
  }
}
