/**
 * One forwarding thread serving both directions (role `both`): one poll over the TUN and
 * every NIC's packet socket, then a TX batch (ipmp0 → NICs) when the TUN is readable and an RX
 * batch (NICs → ipmp0) when a NIC is. A reply the kernel produced while a batch was sent (a
 * ping answered by a peer, a TCP ACK) is already queued when the loop polls again, so it is
 * forwarded without a thread wake-up. `pass()` is one poll and what follows it; the worker
 * calls it until it is told to stop, and the warm-up (warmup.ts) calls the same code over
 * local sockets first.
 */
import type { NativeAddon } from '../io/native.js';
import { ageMs, coarseNowMs } from '../tables/neighbours.js';
import { MAX_NICS } from '../tables/shared-tables.js';
import type { RxPath } from './rx-path.js';
import type { TxPath } from './tx-path.js';

/** How long TX may go without servicing its pending (ARP/ND) queue while only RX is busy. */
const TX_SERVICE_MS = 10;

export class BothLoop {
  // fds[0] is the TUN, fds[1..] the present NICs' packet sockets.
  private readonly fds = new Int32Array(1 + MAX_NICS);
  private readonly ready = new Uint8Array(1 + MAX_NICS);
  // The NICs' flags, in the order RxPath lists its sockets (the tables' present NICs).
  private readonly nicReady = this.ready.subarray(1);
  private nfds = 1;
  private gen = -1;
  private lastTx: number;

  constructor(private readonly native: NativeAddon, private readonly tx: TxPath, private readonly rx: RxPath, tunFd: number) {
    this.fds[0] = tunFd;
    this.lastTx = coarseNowMs();
  }

  /** One poll (waiting up to timeoutMs) and the batches it calls for; returns the poll's count (0: nothing was ready). */
  pass(timeoutMs: number): number {
    const tx = this.tx;
    const rx = this.rx;
    const fds = this.fds;
    const ready = this.ready;
    tx.tables.refresh();
    rx.tables.refresh();
    const t = tx.tables;
    if (t.generation !== this.gen) {
      this.gen = t.generation;
      let nfds = 1;
      for (let s = 0; s < t.nicCount; s++) if (t.nicPresent[s] && t.nicFd[s] >= 0) fds[nfds++] = t.nicFd[s];
      this.nfds = nfds;
    }
    const nfds = this.nfds;
    // poll returns at once when anything is readable, so after a batch the answer the
    // kernel produced while the batch was sent (a ping reply, a TCP ACK) is taken without
    // a sleep and a wake-up.
    const n = this.native.pollFds(fds, nfds, ready, timeoutMs);
    const now = coarseNowMs();
    if ((n > 0 && ready[0]) || ageMs(now, this.lastTx) >= TX_SERVICE_MS) {
      tx.runOnce(0, now);
      this.lastTx = now;
    }
    if (n > 0) {
      let nic = false;
      for (let i = 1; i < nfds; i++) if (ready[i]) { nic = true; break; }
      // RxPath orders its sockets as fds[1..] are (present NICs by slot) once both tables
      // readers are at the same generation; otherwise every socket is tried.
      if (nic) {
        rx.runOnce(0, rx.tables.generation === this.gen ? this.nicReady : undefined, now);
        // Packets waiting for a neighbour leave as soon as RX has learnt it, not at the next wake-up.
        if (tx.pending.size() > 0) { tx.runOnce(0, now); this.lastTx = now; }
      }
    } else if (nfds === 1) {
      rx.runOnce(0);
    }
    return n;
  }
}
