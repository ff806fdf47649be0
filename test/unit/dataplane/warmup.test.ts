// The forwarding worker's JIT warm-up over local sockets: it drives every path it claims to
// (TX sends, RX delivers, both roles alone), keeps its hands off the worker's own descriptors,
// points the TUN port back at the TUN after every slice, and leaves no socket open.
// Real AF_UNIX sockets; no root needed.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { loadNative } from '../../../src/io/native.js';
import { nativePacketPort, nativeTunPort } from '../../../src/io/native-ports.js';
import { WARMUP_SLICE, WarmUp } from '../../../src/dataplane/warmup.js';

const native = loadNative();

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** A socket pair standing in for the worker's TUN: anything written to it shows on `peer`. */
function fakeTun(): { fd: number; peer: number; close(): void } {
  const [fd, peer] = native.socketPair(0);
  return { fd, peer, close: () => { native.close(fd); native.close(peer); } };
}

function pending(fd: number): number {
  const buf = new Uint8Array(65536);
  const lens = new Int32Array(64);
  const src = new Int32Array(64);
  let n = 0;
  for (;;) {
    const got = native.packetRecvBatch(new Int32Array([fd]), 1, buf, 1024, 0, 64, lens, src, 0);
    if (got <= 0) return n;
    n += got;
  }
}

describe('forwarding warm-up', () => {
  it('runs both paths over local sockets, restores the TUN port and closes what it opened', () => {
    const real = fakeTun();
    const before = openFds();
    const tun = nativeTunPort(native, real.fd);
    const w = new WarmUp(native, 'both', tun, nativePacketPort(native), 200);
    assert.equal(openFds(), before + 6, 'three socket pairs');
    let slices = 0;
    while (w.step(WARMUP_SLICE)) {
      slices++;
      assert.equal(tun.fd, real.fd, 'the TUN port points at the TUN between slices');
    }
    assert.equal(w.steps, 200);
    assert.equal(slices, Math.ceil(200 / WARMUP_SLICE) - 1);
    assert.ok(w.done);
    assert.ok(w.txSent > 500, `TX sent ${w.txSent}`);
    assert.ok(w.rxDelivered > 500, `RX delivered ${w.rxDelivered}`);
    assert.equal(openFds(), before, 'its sockets are closed');
    assert.equal(pending(real.peer), 0, 'nothing reached the worker\'s TUN');
    assert.equal(w.step(WARMUP_SLICE), false);
    real.close();
  });

  it('warms one direction for the tx and rx roles', () => {
    const real = fakeTun();
    const tun = nativeTunPort(native, real.fd);
    const tx = new WarmUp(native, 'tx', tun, nativePacketPort(native), 100);
    while (tx.step(WARMUP_SLICE));
    assert.ok(tx.txSent > 200);
    assert.equal(tx.rxDelivered, 0);
    const rx = new WarmUp(native, 'rx', tun, nativePacketPort(native), 100);
    while (rx.step(WARMUP_SLICE));
    assert.ok(rx.rxDelivered > 200);
    assert.equal(pending(real.peer), 0);
    real.close();
  });

  it('close() before the end releases the sockets', () => {
    const before = openFds();
    const w = new WarmUp(native, 'both', nativeTunPort(native, -1), nativePacketPort(native), 1000);
    w.step(1);
    w.close();
    assert.equal(openFds(), before);
    assert.equal(w.step(WARMUP_SLICE), false);
  });
});
