/**
 * Classic BPF programs for the packet sockets, assembled as the 8-byte
 * sock_filter records the kernel takes (u16 code, u8 jt, u8 jf, u32 k; host order).
 */
const LD_H_ABS = 0x28;
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const RET_K = 0x06;
const SKF_AD_OFF = -0x1000;
const SKF_AD_PKTTYPE = 4;
const PACKET_OTHERHOST = 3;

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
 * The data sockets: IPv4, ARP and IPv6 frames addressed to this host
 * (unicast to us, broadcast, multicast); frames for other hosts are not copied.
 */
export function dataSocketFilter(): Uint8Array {
  return assemble([
    [LD_H_ABS, 0, 0, 12],
    [JEQ_K, 3, 0, 0x0800],
    [JEQ_K, 2, 0, 0x0806],
    [JEQ_K, 1, 0, 0x86dd],
    [RET_K, 0, 0, 0],
    [LD_W_ABS, 0, 0, (SKF_AD_OFF + SKF_AD_PKTTYPE) >>> 0],
    [JEQ_K, 0, 1, PACKET_OTHERHOST],
    [RET_K, 0, 0, 0],
    [RET_K, 0, 0, 0xffffffff],
  ]);
}

/** A socket that only sends: accepts nothing. */
export function sendOnlyFilter(): Uint8Array {
  return assemble([[RET_K, 0, 0, 0]]);
}
