/** The native addon behind the TunPort and PacketPort interfaces of ports.ts. */
import type { NativeAddon } from './native.js';
import type { PacketPort, TunPort } from './ports.js';

/** A TunPort on a descriptor the owner may point elsewhere for a while (the JIT warm-up does). */
export interface NativeTunPort extends TunPort {
  fd: number;
}

export function nativeTunPort(n: NativeAddon, fd: number): NativeTunPort {
  return {
    fd,
    readBatch(buf, slotSize, vnetOff, dataOff, maxPkts, lens, timeoutMs) {
      return n.tunReadBatch(this.fd, buf, slotSize, vnetOff, dataOff, maxPkts, lens, timeoutMs);
    },
    writeBatch(buf, vnetOffs, offs, lens, count) {
      return n.tunWriteBatch(this.fd, buf, vnetOffs, offs, lens, count);
    },
  };
}

export function nativePacketPort(n: NativeAddon): PacketPort {
  return {
    recvBatch: (fds, nfds, buf, slotSize, dataOff, maxPkts, lens, srcIdx, timeoutMs, ready) =>
      n.packetRecvBatch(fds, nfds, buf, slotSize, dataOff, maxPkts, lens, srcIdx, timeoutMs, ready),
    sendBatch: (fds, buf, offs, lens, count) => n.packetSendBatch(fds, buf, offs, lens, count),
    send: (fd, buf, off, len) => n.send(fd, buf, off, len),
  };
}
