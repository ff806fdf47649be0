/** The native addon behind the TunPort and PacketPort interfaces of ports.ts. */
import type { NativeAddon } from './native.js';
import type { PacketPort, TunPort } from './ports.js';

export function nativeTunPort(n: NativeAddon, fd: number): TunPort {
  return {
    readBatch: (buf, slotSize, vnetOff, dataOff, maxPkts, lens, timeoutMs) =>
      n.tunReadBatch(fd, buf, slotSize, vnetOff, dataOff, maxPkts, lens, timeoutMs),
    writeBatch: (buf, vnetOffs, offs, lens, count) => n.tunWriteBatch(fd, buf, vnetOffs, offs, lens, count),
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
