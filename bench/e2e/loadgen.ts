// The small-packet load generator, run inside a lab namespace:
//   node loadgen.js DST PORT LEN SECONDS PPS FLOWS
// sends LEN-byte UDP datagrams to DST:PORT with sendmmsg (native udpGenerate) for SECONDS
// (PPS 0: as fast as the stack takes them) and prints one JSON line {sent, errors, seconds}.
// iperf3 sends one datagram per system call and tops out below what the forwarding path
// carries, so it cannot measure the forwarding path's small-packet rate.

import { loadNative } from '../../src/io/native.js';

const USAGE = 'usage: loadgen DST PORT LEN SECONDS PPS FLOWS';

function main(argv: string[]): number {
  if (argv.length !== 6) { process.stderr.write(`${USAGE}\n`); return 2; }
  const [dst, ...rest] = argv;
  const [port, len, seconds, pps, flows] = rest.map(Number);
  if (rest.some((x) => !/^\d+(\.\d+)?$/.test(x))) {
    process.stderr.write(`loadgen: arguments after DST must be numbers (${rest.join(' ')})\n`);
    return 2;
  }
  try {
    const native = loadNative();
    if (typeof native.udpGenerate !== 'function') throw new Error('native addon is older than the code (no udpGenerate): run `npm run build:native`');
    const r = native.udpGenerate(dst, port, len, seconds, pps, flows);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`loadgen: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
