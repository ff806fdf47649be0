/**
 * The I/O edges the forwarding loops use, as small interfaces. The native
 * addon implements them (src/io/native.ts); test/fakes/ has in-memory fakes so
 * the loops run in unit tests without root.
 */

/** The TUN side: batched reads and writes of IP packets with a vnet header in front. */
export interface TunPort {
  readBatch(buf: Uint8Array, slotSize: number, vnetOff: number, dataOff: number, maxPkts: number,
    lens: Int32Array, timeoutMs: number): number;
  writeBatch(buf: Uint8Array, vnetOffs: Int32Array, offs: Int32Array, lens: Int32Array, count: number): number;
}

/** The NIC side: batched AF_PACKET receive over several sockets, batched send, one-off send. */
export interface PacketPort {
  /** `ready` (parallel to fds, with timeoutMs 0): read only the sockets a poll found readable. */
  recvBatch(fds: Int32Array, nfds: number, buf: Uint8Array, slotSize: number, dataOff: number, maxPkts: number,
    lens: Int32Array, srcIdx: Int32Array, timeoutMs: number, ready?: Uint8Array): number;
  sendBatch(fds: Int32Array, buf: Uint8Array, offs: Int32Array, lens: Int32Array, count: number): number;
  send(fd: number, buf: Uint8Array, off: number, len: number): number;
}
