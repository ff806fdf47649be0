// Memory under sustained load: the daemon forwards a rotating, paced load (8 TCP streams,
// 64-byte UDP, 1 TCP stream, each bounded by iperf3 -t and paced with -b so a long run leaves
// CPU to whatever else runs on the machine) for --soak-minutes while its
// resident set size is sampled every 5 s. Reported: RSS at the start and the end of the
// load, the maximum, and the growth (end − start). The start is taken after one round of
// the load, so the first-use growth (JIT code, buffers touched) is not counted as growth.

import { hostNs, peerNs, type LabInfo } from '../../src/lab/lab.js';
import { iperf, iperfServer, waitNicsOk, type Daemon } from './tools.js';
import { NsAnchor, progress, rssKb } from './sys.js';
import { TCP8, type Params } from './baseline.js';
import type { Results } from './results.js';
import { NICS } from './forward.js';

const PEER = '198.18.0.1';
const SAMPLE_MS = 5000;
/** Growth over the load that still counts as flat (heap sizing moves by a few MB). */
export const GROWTH_MB = 5;

export async function runMemory(lab: LabInfo, d: Daemon, _anchor: NsAnchor, p: Params, r: Results): Promise<void> {
  const host = hostNs(lab.prefix);
  await iperfServer(peerNs(lab.prefix));
  await waitNicsOk(d, NICS, 30_000);
  const loads: { name: string; sec: number; extra: string[] }[] = [
    { name: 'tcp8', sec: 20, extra: [...TCP8, '-b', '100M'] },
    { name: 'udp64', sec: 10, extra: ['-u', '-l', '64', '-b', '20M'] },
    { name: 'tcp1', sec: 10, extra: ['-b', '1G'] },
  ];
  const mb = (): number => rssKb(d.pid) / 1024;
  progress(`memory under load: warm-up round (${loads.reduce((a, l) => a + l.sec, 0)} s)`);
  for (const l of loads) await iperf(host, PEER, l.sec, l.extra);
  const t0 = performance.now();
  const endAt = t0 + p.soakMinutes * 60_000;
  const samples: { t: number; mb: number }[] = [{ t: 0, mb: mb() }];
  const timer = setInterval(() => samples.push({ t: (performance.now() - t0) / 1000, mb: mb() }), SAMPLE_MS);
  let rounds = 0;
  try {
    while (performance.now() < endAt) {
      for (const l of loads) {
        const left = Math.ceil((endAt - performance.now()) / 1000);
        if (left < 2) break;
        await iperf(host, PEER, Math.min(l.sec, left), l.extra);
      }
      rounds++;
      progress(`memory under load: ${((performance.now() - t0) / 60_000).toFixed(1)} of ${p.soakMinutes} min, RSS ${mb().toFixed(1)} MB`);
    }
  } finally {
    clearInterval(timer);
  }
  samples.push({ t: (performance.now() - t0) / 1000, mb: mb() });
  const start = samples[0].mb;
  const end = samples[samples.length - 1].mb;
  r.add('memory', 'rss_start_mb', 'MB', start);
  r.add('memory', 'rss_end_mb', 'MB', end);
  r.add('memory', 'rss_max_mb', 'MB', Math.max(...samples.map((s) => s.mb)));
  r.add('memory', 'rss_growth_mb', 'MB', end - start);
  r.raw.push({ scenario: 'memory', run: 0, minutes: p.soakMinutes, rounds, samples });
}
