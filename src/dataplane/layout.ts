/**
 * Buffer layout shared by the forwarding loops. Every packet owns one slot of
 * SLOT_SIZE bytes; headers are written in place in the headroom in front of
 * the IP packet, so nothing is copied on the way through:
 *
 *   slot + 0   virtio_net_hdr (10 bytes; GSO and checksum-offload metadata)
 *   slot + 10  Ethernet header (14 bytes), written by TX, stripped by RX
 *   slot + 24  IP packet (up to 64 KiB with GSO)
 *
 * TUN reads/writes use [slot+0, 10 bytes] + [slot+24, ...] (readv/writev);
 * AF_PACKET sends/receives [slot+0 ...] contiguously.
 */
export const VNET_LEN = 10;
export const ETH_LEN = 14;
export const VNET_OFF = 0;
export const ETH_OFF = VNET_OFF + VNET_LEN;
export const IP_OFF = ETH_OFF + ETH_LEN;
/** 64 KiB of IP plus headroom, rounded to a cache line. Benchmark: bench/e2e (GSO super-packets). */
export const SLOT_SIZE = 65_600;
/** Packets per batch. Benchmark: bench/e2e throughput; 64 amortises the crossing without hurting latency. */
export const BATCH = 64;
/** Poll timeout of the blocking batch calls: how long a loop may sleep before it looks at its tables and stop flag. */
export const POLL_MS = 20;
