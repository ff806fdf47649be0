/**
 * Sends raw frames on one interface through an AF_PACKET socket (our addon), for the
 * hostile-traffic tests. Run inside a lab namespace with `ip netns exec`:
 *
 *   node inject.js IFNAME < JSON {"frames": [hex, ...], "repeat": N, "burst": B, "gapMs": G}
 *
 * Sends frames[0..] in order, `repeat` times, pausing gapMs after every B frames. On an
 * Ethernet interface a frame is the whole Ethernet frame; on ipmp0 (a TUN, no link header)
 * it is the IP packet itself, which the TUN hands to ipmpd's reader. Bounded: at most
 * MAX_FRAMES frames and DEADLINE_MS. Prints one JSON line: {"sent": [per frame index],
 * "errors": {"-errno": count}}.
 */
import { loadNative } from '../../../src/io/native.js';

const MAX_FRAMES = 20_000;
const DEADLINE_MS = 20_000;

interface Job { frames: string[]; repeat?: number; burst?: number; gapMs?: number }

async function readStdin(): Promise<string> {
  let s = '';
  for await (const chunk of process.stdin) s += chunk;
  return s;
}

async function main(): Promise<void> {
  const ifname = process.argv[2];
  if (!ifname) throw new Error('usage: inject IFNAME < job.json');
  const job = JSON.parse(await readStdin()) as Job;
  const frames = job.frames.map((h) => Uint8Array.from(Buffer.from(h, 'hex')));
  const repeat = job.repeat ?? 1;
  const burst = job.burst ?? 64;
  const gapMs = job.gapMs ?? 0;
  if (frames.length * repeat > MAX_FRAMES) throw new Error(`at most ${MAX_FRAMES} frames`);
  const n = loadNative();
  const ifindex = n.ifNameToIndex(ifname);
  // Receives nothing (filter: return 0), so nothing queues on it while it sends.
  const fd = n.packetOpen(ifindex, {
    vnetHdr: false, rcvbuf: 0, sndbuf: 0, ignoreOutgoing: true, nonblock: false,
    filter: new Uint8Array([6, 0, 0, 0, 0, 0, 0, 0]),
  });
  const sent = new Array<number>(frames.length).fill(0);
  const errors: Record<string, number> = {};
  const end = Date.now() + DEADLINE_MS;
  let count = 0;
  try {
    for (let r = 0; r < repeat && Date.now() < end; r++) {
      for (let i = 0; i < frames.length; i++) {
        let res = n.send(fd, frames[i], 0, frames[i].length);
        for (let tries = 0; res === -11 && tries < 100; tries++) { // EAGAIN: the queue drains
          await new Promise((ok) => setTimeout(ok, 1));
          res = n.send(fd, frames[i], 0, frames[i].length);
        }
        if (res >= 0) sent[i]++;
        else errors[String(res)] = (errors[String(res)] ?? 0) + 1;
        if (++count % burst === 0 && gapMs > 0) await new Promise((ok) => setTimeout(ok, gapMs));
      }
    }
  } finally {
    n.close(fd);
  }
  process.stdout.write(`${JSON.stringify({ sent, errors })}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`inject: ${e.message}\n`);
  process.exit(1);
});
