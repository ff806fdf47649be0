/**
 * Paced TCP streams for the failover tests, run inside a lab namespace with `ip netns exec`
 * (src/lab/tcp-agent.ts does the work). Both modes have a hard deadline (--timeout ms) and
 * print one JSON line on stdout at the end; the receiver prints "listening" first.
 *
 *   recv --bind A --port P --conns N --timeout MS
 *   send --host H --port P --conns N --rate BYTES_PER_S --duration MS [--local A]
 *        [--lports L1,L2,...] --timeout MS
 *
 * Each of the N connections carries 1024-byte records (u32 connection id, u32 sequence number,
 * filler) at `rate` for `duration`, then ends; with --lports connection i uses local port Li
 * (so a test can find it on the wire). While the socket is backed up the sender writes
 * nothing more. The receiver checks every byte and reports, per connection, the records
 * received, whether it ended with FIN on a record boundary (not a reset), the errors, and the
 * longest pause between two arrivals of data; the sender the records and local port of each.
 */
import { num, runAgent, str } from '../../../src/lab/agent-args.js';
import { receiveRecords, sendRecords } from '../../../src/lab/tcp-agent.js';

const RECORD = 1024;

runAgent('paced-tcp', process.argv.slice(2), {
  recv: (a) => receiveRecords({ bind: a.bind, port: num(a, 'port'), conns: num(a, 'conns'), size: RECORD, timeoutMs: num(a, 'timeout') }),
  send: (a) => sendRecords({
    host: str(a, 'host'), port: num(a, 'port'), local: a.local, lports: a.lports?.split(',').map(Number), conns: num(a, 'conns'),
    size: RECORD, rate: num(a, 'rate'), durationMs: num(a, 'duration'), timeoutMs: num(a, 'timeout'),
  }),
});
