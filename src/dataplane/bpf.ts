/**
 * Classic BPF programs for the packet sockets, assembled as the 8-byte
 * sock_filter records the kernel takes (u16 code, u8 jt, u8 jf, u32 k; host order).
 */
const LD_H_ABS = 0x28;
const LD_W_ABS = 0x20;
const ALU_AND_K = 0x54;
const JEQ_K = 0x15;
const RET_K = 0x06;
const SKF_AD_OFF = -0x1000;
const SKF_AD_PKTTYPE = 4;
const SKF_AD_VLAN_TAG = 44;
const SKF_AD_VLAN_TAG_PRESENT = 48;
const PACKET_OTHERHOST = 3;

/**
 * Length the data-socket filter keeps of a frame tagged for a VLAN: the two
 * MAC addresses only. The kernel strips the tag before packet sockets see the
 * frame (it travels beside it, in the socket's auxiliary data), so without
 * this the frame would look untagged. No frame the kernel receives is shorter
 * than an Ethernet header, so this length means "tagged" to the RX loop.
 */
export const VLAN_MARK_LEN = 12;
/** Length kept of a frame with an ethertype the data plane does not handle: its header, to count it. */
export const HEADER_ONLY_LEN = 14;

type Insn = [code: number, jt: number, jf: number, k: number];

export function assemble(prog: Insn[]): Uint8Array {
  const out = new Uint8Array(prog.length * 8);
  const dv = new DataView(out.buffer);
  prog.forEach(([code, jt, jf, k], i) => {
    dv.setUint16(i * 8, code, true);
    out[i * 8 + 2] = jt;
    out[i * 8 + 3] = jf;
    dv.setUint32(i * 8 + 4, k >>> 0, true);
  });
  return out;
}

/**
 * The data sockets. Frames for other hosts are not copied at all. Of the
 * frames addressed to this host (unicast to us, broadcast, multicast):
 *   - tagged for a VLAN other than 0: the first VLAN_MARK_LEN bytes (counted as vlan);
 *   - IPv4, ARP, IPv6: whole;
 *   - any other ethertype: the Ethernet header only (counted as unsupported).
 */
export function dataSocketFilter(): Uint8Array {
  return assemble([
    /* 0 */ [LD_W_ABS, 0, 0, (SKF_AD_OFF + SKF_AD_PKTTYPE) >>> 0],
    /* 1 */ [JEQ_K, 10, 0, PACKET_OTHERHOST], // → 12 drop
    /* 2 */ [LD_W_ABS, 0, 0, (SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT) >>> 0],
    /* 3 */ [JEQ_K, 3, 0, 0], // untagged → 7
    /* 4 */ [LD_W_ABS, 0, 0, (SKF_AD_OFF + SKF_AD_VLAN_TAG) >>> 0],
    /* 5 */ [ALU_AND_K, 0, 0, 0x0fff],
    /* 6 */ [JEQ_K, 0, 6, 0], // VLAN id 0 (priority tag) is untagged; else → 13 mark
    /* 7 */ [LD_H_ABS, 0, 0, 12],
    /* 8 */ [JEQ_K, 5, 0, 0x0800], // → 14 accept
    /* 9 */ [JEQ_K, 4, 0, 0x0806],
    /* 10 */ [JEQ_K, 3, 0, 0x86dd],
    /* 11 */ [RET_K, 0, 0, HEADER_ONLY_LEN],
    /* 12 */ [RET_K, 0, 0, 0],
    /* 13 */ [RET_K, 0, 0, VLAN_MARK_LEN],
    /* 14 */ [RET_K, 0, 0, 0xffffffff],
  ]);
}

/** A socket that only sends: accepts nothing. */
export function sendOnlyFilter(): Uint8Array {
  return assemble([[RET_K, 0, 0, 0]]);
}
