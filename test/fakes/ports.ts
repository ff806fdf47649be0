/**
 * In-memory fakes of the forwarding loops' I/O edges (src/io/ports.ts), so TX
 * and RX run in unit tests without root or devices.
 *
 * FakeTun hands out queued IP packets on readBatch (vnet header at
 * slot+vnetOff, IP at slot+dataOff, lens[i] = IP length) and records every
 * packet writeBatch wrote. FakePacketPort keeps one receive queue per fd,
 * drains them on recvBatch (lens[i] includes the vnet header, srcIdx[i] is the
 * index into fds) and records every frame sent with sendBatch or send.
 */
import type { PacketPort, TunPort } from '../../src/io/ports.js';
import { VNET_HDR_LEN } from '../../src/wire/vnet.js';

/** A packet as read from or written to the TUN: its vnet header (null when none) and IP bytes. */
export interface TunPacket {
  vnet: Uint8Array | null;
  ip: Uint8Array;
}

/** A frame handed to the packet port: the fd it went out on and a copy of its bytes (vnet header included). */
export interface SentFrame {
  fd: number;
  bytes: Uint8Array;
}

export class FakeTun implements TunPort {
  /** Packets waiting to be read, oldest first. */
  readonly inbox: TunPacket[] = [];
  /** Everything writeBatch wrote, in order. */
  readonly written: TunPacket[] = [];
  /** When set, readBatch returns this (e.g. a negative errno) instead of packets. */
  readResult: number | null = null;
  /** When set, writeBatch returns this instead of the count. */
  writeResult: number | null = null;
  readCalls = 0;

  /** Queues an IP packet; vnet defaults to ten zero bytes (no offload). */
  push(ip: Uint8Array, vnet?: Uint8Array): this {
    this.inbox.push({ vnet: vnet ?? new Uint8Array(VNET_HDR_LEN), ip });
    return this;
  }

  readBatch(buf: Uint8Array, slotSize: number, vnetOff: number, dataOff: number, maxPkts: number,
    lens: Int32Array, _timeoutMs: number): number {
    this.readCalls++;
    if (this.readResult !== null) return this.readResult;
    const n = Math.min(maxPkts, this.inbox.length, lens.length, Math.floor(buf.length / slotSize));
    for (let i = 0; i < n; i++) {
      const p = this.inbox.shift()!;
      const base = i * slotSize;
      if (vnetOff >= 0) {
        buf.fill(0, base + vnetOff, base + vnetOff + VNET_HDR_LEN);
        if (p.vnet) buf.set(p.vnet.subarray(0, VNET_HDR_LEN), base + vnetOff);
      }
      const room = slotSize - dataOff;
      const len = Math.min(p.ip.length, room);
      buf.set(p.ip.subarray(0, len), base + dataOff);
      lens[i] = len;
    }
    return n;
  }

  writeBatch(buf: Uint8Array, vnetOffs: Int32Array, offs: Int32Array, lens: Int32Array, count: number): number {
    if (this.writeResult !== null) return this.writeResult;
    for (let i = 0; i < count; i++) {
      const v = vnetOffs[i];
      this.written.push({
        vnet: v >= 0 ? buf.slice(v, v + VNET_HDR_LEN) : null,
        ip: buf.slice(offs[i], offs[i] + lens[i]),
      });
    }
    return count;
  }
}

export class FakePacketPort implements PacketPort {
  private readonly queues = new Map<number, Uint8Array[]>();
  /** Every frame sent, through sendBatch or send, in order. */
  readonly sent: SentFrame[] = [];
  /** When set, sendBatch returns this instead of the count. */
  sendBatchResult: number | null = null;
  /** When set, send returns this instead of the length. */
  sendResult: number | null = null;

  /** Queues a received frame on fd: a vnet header (zeros unless given) followed by the Ethernet frame. */
  deliver(fd: number, frame: Uint8Array, vnet?: Uint8Array): this {
    const b = new Uint8Array(VNET_HDR_LEN + frame.length);
    if (vnet) b.set(vnet.subarray(0, VNET_HDR_LEN), 0);
    b.set(frame, VNET_HDR_LEN);
    return this.deliverRaw(fd, b);
  }

  /** Queues exactly these bytes as what one recv on fd returns (vnet header included, possibly truncated). */
  deliverRaw(fd: number, bytes: Uint8Array): this {
    let q = this.queues.get(fd);
    if (!q) { q = []; this.queues.set(fd, q); }
    q.push(bytes);
    return this;
  }

  /** Frames still queued on fd. */
  queued(fd: number): number {
    return this.queues.get(fd)?.length ?? 0;
  }

  /** Frames sent on fd. */
  sentOn(fd: number): SentFrame[] {
    return this.sent.filter((s) => s.fd === fd);
  }

  recvBatch(fds: Int32Array, nfds: number, buf: Uint8Array, slotSize: number, dataOff: number, maxPkts: number,
    lens: Int32Array, srcIdx: Int32Array, _timeoutMs: number, ready?: Uint8Array): number {
    const max = Math.min(maxPkts, lens.length, srcIdx.length, Math.floor(buf.length / slotSize));
    let n = 0;
    for (let j = 0; j < nfds && n < max; j++) {
      if (ready && !ready[j]) continue;
      const q = this.queues.get(fds[j]);
      while (q && q.length > 0 && n < max) {
        const f = q.shift()!;
        const len = Math.min(f.length, slotSize - dataOff);
        buf.set(f.subarray(0, len), n * slotSize + dataOff);
        lens[n] = len;
        srcIdx[n] = j;
        n++;
      }
    }
    return n;
  }

  sendBatch(fds: Int32Array, buf: Uint8Array, offs: Int32Array, lens: Int32Array, count: number): number {
    if (this.sendBatchResult !== null) return this.sendBatchResult;
    for (let i = 0; i < count; i++) this.sent.push({ fd: fds[i], bytes: buf.slice(offs[i], offs[i] + lens[i]) });
    return count;
  }

  send(fd: number, buf: Uint8Array, off: number, len: number): number {
    if (this.sendResult !== null) return this.sendResult;
    this.sent.push({ fd, bytes: buf.slice(off, off + len) });
    return len;
  }
}
