/**
 * An in-memory stand-in for the native addon's packet-socket and clock calls the probe worker
 * makes: sockets keep the frames sent on them and a queue of frames to receive; the monotonic
 * clock is set by the test; `fire(fd)` runs the socket's readable callback (one worker turn).
 */
import type { NativeAddon } from '../../../../src/io/native.js';
import { E } from '../../../../src/io/native.js';

export interface FakeSocket {
  fd: number;
  ifindex: number;
  rx: Uint8Array[];
  tx: Uint8Array[];
  memberships: string[];
  cb: (() => void) | null;
  closed: boolean;
}

function macText(m: Uint8Array): string {
  return Array.from(m.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

export class FakeNative {
  nowNs = 1_000_000_000n;
  readonly sockets: FakeSocket[] = [];
  private readonly watches = new Map<number, FakeSocket>();
  private nextFd = 100;

  get addon(): NativeAddon {
    return this as unknown as NativeAddon;
  }

  advanceMs(ms: number): void {
    this.nowNs += BigInt(Math.round(ms * 1e6));
  }

  monotonicNs(): bigint {
    return this.nowNs;
  }

  /** ifindexes whose packetOpen throws (a NIC that is down). */
  readonly failOpen = new Set<number>();

  packetOpen(ifindex: number): number {
    if (this.failOpen.has(ifindex)) throw new Error('Network is down');
    const s: FakeSocket = { fd: this.nextFd++, ifindex, rx: [], tx: [], memberships: [], cb: null, closed: false };
    this.sockets.push(s);
    return s.fd;
  }

  setTimestamping(): void {}

  packetMembership(fd: number, _ifindex: number, mac: Uint8Array, add: boolean): void {
    const s = this.sock(fd);
    if (add) s.memberships.push(macText(mac));
    else s.memberships = s.memberships.filter((m) => m !== macText(mac));
  }

  watch(fd: number, cb: () => void): number {
    const s = this.sock(fd);
    s.cb = cb;
    this.watches.set(fd, s);
    return fd;
  }

  unwatch(id: number): void {
    this.watches.delete(id);
  }

  close(fd: number): number {
    this.sock(fd).closed = true;
    return 0;
  }

  recv(fd: number, buf: Uint8Array, off: number, len: number, ts?: BigInt64Array): number {
    const f = this.sock(fd).rx.shift();
    if (!f) return -E.EAGAIN;
    const n = Math.min(len, f.length);
    buf.set(f.subarray(0, n), off);
    if (ts) ts[0] = 0n;
    return n;
  }

  send(fd: number, buf: Uint8Array, off: number, len: number): number {
    this.sock(fd).tx.push(buf.slice(off, off + len));
    return len;
  }

  strerror(n: number): string {
    return `errno ${-n}`;
  }

  sock(fd: number): FakeSocket {
    const s = this.sockets.find((x) => x.fd === fd);
    if (!s) throw new Error(`no fake socket ${fd}`);
    return s;
  }

  /** The open socket on ifindex (the newest one). */
  on(ifindex: number): FakeSocket {
    const s = [...this.sockets].reverse().find((x) => x.ifindex === ifindex && !x.closed);
    if (!s) throw new Error(`no open fake socket on ifindex ${ifindex}`);
    return s;
  }

  /** Queues frame on the socket and runs its readable callback. */
  deliver(s: FakeSocket, frame: Uint8Array): void {
    s.rx.push(frame);
    this.fire(s);
  }

  fire(s: FakeSocket): void {
    s.cb?.();
  }
}
