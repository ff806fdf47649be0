/**
 * A paced two-way TCP stream for the restart and upgrade tests, run in a lab namespace with
 * `ip netns exec` (src/lab/tcp-agent.ts does the work). Both ends send a byte pattern that is
 * a function of the stream offset at a fixed rate and check every byte they receive; each
 * records the longest interval between two arrivals of data. One JSON line on stdout at the
 * end; the listener prints "listening" first, the connecting side "connected".
 *
 *   listen  --bind A --port P --rate BYTES_PER_S --timeout MS
 *   connect --host H --port P [--local A] --rate BYTES_PER_S --timeout MS
 *
 * While it runs it prints "rx BYTES" every 50 ms. A line "stop" on stdin ends this side's
 * sending (a FIN after the last chunk); a side finishes once it has stopped sending and the
 * other side's FIN arrived. Result:
 *   { ok, sent, received, corruptAt, maxGapMs, gapAtMs, error }
 * ok means no socket error (no reset), no corrupt byte, and an orderly end.
 */
import { num, runAgent, str, type Args } from '../../../src/lab/agent-args.js';
import { duplex } from '../../../src/lab/tcp-agent.js';

const common = (a: Args): { port: number; rate: number; timeoutMs: number } =>
  ({ port: num(a, 'port'), rate: num(a, 'rate'), timeoutMs: num(a, 'timeout') });

runAgent('stream', process.argv.slice(2), {
  listen: (a) => duplex('listen', { bind: a.bind, ...common(a) }),
  connect: (a) => duplex('connect', { host: str(a, 'host'), local: a.local, ...common(a) }),
});
