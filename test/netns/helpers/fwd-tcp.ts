/**
 * TCP traffic for the forwarding tests, run inside a lab namespace with `ip netns exec`
 * (src/lab/tcp-agent.ts does the work). Every mode has a hard deadline (--timeout ms) and
 * prints one JSON line on stdout at the end; receivers print "listening" first.
 *
 *   recv-seq  --bind A --port P --conns N --records R --size S --timeout MS
 *   send-seq  --host H --port P --conns N --records R --size S [--local A] --timeout MS
 *       N connections, each carrying R records of S bytes (u32 connection id, u32 sequence
 *       number, filler), as fast as TCP goes. The receiver checks every byte, exactly R
 *       records per connection, a clean end and N distinct connection ids.
 *   recv-file --bind A --port P --timeout MS [--out FILE]
 *   send-file --host H --port P --file F [--local A] --timeout MS
 *       One connection carrying a file; both ends report byte count and sha256.
 */
import { num, runAgent, str } from '../../../src/lab/agent-args.js';
import { receiveFile, receiveRecords, sendFile, sendRecords } from '../../../src/lab/tcp-agent.js';

runAgent('fwd-tcp', process.argv.slice(2), {
  'recv-seq': (a) => receiveRecords({
    bind: a.bind, port: num(a, 'port'), conns: num(a, 'conns'), size: num(a, 'size'), records: num(a, 'records'), timeoutMs: num(a, 'timeout'),
  }),
  'send-seq': (a) => sendRecords({
    host: str(a, 'host'), port: num(a, 'port'), local: a.local, conns: num(a, 'conns'), size: num(a, 'size'),
    records: num(a, 'records'), rate: 0, timeoutMs: num(a, 'timeout'),
  }),
  'recv-file': (a) => receiveFile({ bind: a.bind, port: num(a, 'port'), out: a.out, timeoutMs: num(a, 'timeout') }),
  'send-file': (a) => sendFile({ host: str(a, 'host'), port: num(a, 'port'), local: a.local, file: str(a, 'file'), timeoutMs: num(a, 'timeout') }),
});
