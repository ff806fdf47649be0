// What one JavaScript callback per packet costs, against one crossing per batch, measured on a
// receiver inside a lab namespace:
//   node recvcost.js raw-socket|batched IFNAME SECONDS
// raw-socket: the npm package's raw IPv4 socket for UDP, one 'message' event per packet (the
//   shape raw-socket and cap give a forwarding path).
// batched: ipmp's addon, an AF_PACKET socket on IFNAME drained with packetRecvBatch, 64 per call.
// Prints `ready` once its socket is open, then one JSON line: {packets, cpuUs, seconds}; cpuUs is this process's CPU time while it
// received. Bounded by SECONDS.

import { createRequire } from 'node:module';
import { loadNative } from '../../src/io/native.js';

interface RawSocket {
  on(ev: 'message', f: (b: Buffer) => void): void;
  on(ev: 'error', f: (e: Error) => void): void;
  close(): void;
}
interface RawModule {
  createSocket(o: { protocol: number }): RawSocket;
  Protocol: { UDP: number };
}

function report(packets: number, cpu0: NodeJS.CpuUsage, t0: number): void {
  const c = process.cpuUsage(cpu0);
  process.stdout.write(`${JSON.stringify({ packets, cpuUs: c.user + c.system, seconds: (performance.now() - t0) / 1000 })}\n`);
}

function rawSocket(seconds: number): void {
  let raw: RawModule;
  try {
    raw = createRequire(import.meta.url)('raw-socket') as RawModule;
  } catch (e) {
    process.stderr.write(`recvcost: raw-socket is not installed (${(e as Error).message.split('\n')[0]})\n`);
    process.exitCode = 3;
    return;
  }
  const s = raw.createSocket({ protocol: raw.Protocol.UDP });
  let packets = 0;
  s.on('message', () => { packets++; });
  s.on('error', (e) => { process.stderr.write(`recvcost: ${e.message}\n`); process.exitCode = 1; });
  process.stdout.write('ready\n');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  setTimeout(() => { s.close(); report(packets, cpu0, t0); }, seconds * 1000);
}

function batched(ifname: string, seconds: number): void {
  const n = loadNative();
  const ifindex = n.ifNameToIndex(ifname);
  if (!ifindex) { process.stderr.write(`recvcost: no interface ${ifname}\n`); process.exitCode = 1; return; }
  const fd = n.packetOpen(ifindex, { vnetHdr: false, rcvbuf: 8 << 20, sndbuf: 0, ignoreOutgoing: true,
    filter: new Uint8Array(0), nonblock: true });
  const slot = 2048;
  const max = 64;
  const buf = new Uint8Array(slot * max);
  const lens = new Int32Array(max);
  const src = new Int32Array(max);
  const fds = new Int32Array([fd]);
  let packets = 0;
  process.stdout.write('ready\n');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    const c = n.packetRecvBatch(fds, 1, buf, slot, 0, max, lens, src, 50);
    if (c > 0) packets += c;
  }
  n.close(fd);
  report(packets, cpu0, t0);
}

const [mode, ifname, secs] = process.argv.slice(2);
const seconds = Number(secs);
if (!(seconds > 0 && seconds <= 60) || (mode !== 'raw-socket' && mode !== 'batched') || !ifname) {
  process.stderr.write('usage: recvcost raw-socket|batched IFNAME SECONDS (0 < SECONDS <= 60)\n');
  process.exitCode = 2;
} else if (mode === 'raw-socket') {
  rawSocket(seconds);
} else {
  batched(ifname, seconds);
}
