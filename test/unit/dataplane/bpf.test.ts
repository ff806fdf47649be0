// The data sockets' classic BPF program, run by a small interpreter of the instructions it
// uses, over frames with the kernel's ancillary data (packet type, VLAN tag) set per case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEADER_ONLY_LEN, VLAN_MARK_LEN, dataSocketFilter } from '../../../src/dataplane/bpf.js';

interface Skb { frame: Uint8Array; pkttype: number; vlan: number | null }

const SKF_AD_OFF = -0x1000;

/** Classic BPF over an skb: LD W/H ABS (with ancillary loads), ALU AND K, JEQ K, RET K. */
function run(prog: Uint8Array, skb: Skb): number {
  const dv = new DataView(prog.buffer, prog.byteOffset, prog.byteLength);
  let a = 0;
  for (let pc = 0, steps = 0; pc * 8 < prog.length; pc++, steps++) {
    assert.ok(steps < 4096, 'the program terminates');
    const code = dv.getUint16(pc * 8, true);
    const jt = prog[pc * 8 + 2];
    const jf = prog[pc * 8 + 3];
    const k = dv.getUint32(pc * 8 + 4, true);
    const ks = k | 0;
    switch (code) {
      case 0x20: // ld w abs
        if (ks === SKF_AD_OFF + 4) a = skb.pkttype;
        else if (ks === SKF_AD_OFF + 44) a = skb.vlan ?? 0;
        else if (ks === SKF_AD_OFF + 48) a = skb.vlan === null ? 0 : 1;
        else if (ks >= 0 && ks + 4 <= skb.frame.length) a = new DataView(skb.frame.buffer).getUint32(ks);
        else return 0; // out of bounds: the kernel drops
        break;
      case 0x28: // ld h abs
        if (ks < 0 || ks + 2 > skb.frame.length) return 0;
        a = (skb.frame[ks] << 8) | skb.frame[ks + 1];
        break;
      case 0x54: a = (a & k) >>> 0; break;
      case 0x15: pc += a === k ? jt : jf; break;
      case 0x06: return k;
      default: assert.fail(`unexpected BPF opcode 0x${code.toString(16)}`);
    }
  }
  assert.fail('fell off the end of the program');
}

function frame(type: number): Uint8Array {
  const f = new Uint8Array(60);
  f[12] = type >>> 8;
  f[13] = type & 0xff;
  return f;
}

const HOST = 0;
const BROADCAST = 1;
const OTHERHOST = 3;
const ALL = 0xffffffff;

test('data socket filter: IPv4, ARP, IPv6 whole; other ethertypes header only; other hosts dropped', () => {
  const prog = dataSocketFilter();
  assert.equal(run(prog, { frame: frame(0x0800), pkttype: HOST, vlan: null }), ALL);
  assert.equal(run(prog, { frame: frame(0x0806), pkttype: BROADCAST, vlan: null }), ALL);
  assert.equal(run(prog, { frame: frame(0x86dd), pkttype: HOST, vlan: null }), ALL);
  assert.equal(run(prog, { frame: frame(0x88cc), pkttype: HOST, vlan: null }), HEADER_ONLY_LEN);
  assert.equal(run(prog, { frame: frame(38), pkttype: HOST, vlan: null }), HEADER_ONLY_LEN);
  assert.equal(run(prog, { frame: frame(0x0800), pkttype: OTHERHOST, vlan: null }), 0);
  assert.equal(run(prog, { frame: frame(0x88cc), pkttype: OTHERHOST, vlan: 100 }), 0);
});

test('data socket filter: a VLAN tag (id 1..4095) is marked with VLAN_MARK_LEN; a priority tag (id 0) is not', () => {
  const prog = dataSocketFilter();
  for (const tci of [1, 100, 4095, 0xe064]) {
    assert.equal(run(prog, { frame: frame(0x0800), pkttype: HOST, vlan: tci }), VLAN_MARK_LEN, `tci 0x${tci.toString(16)}`);
  }
  assert.equal(run(prog, { frame: frame(0x0800), pkttype: HOST, vlan: 0xe000 }), ALL, 'priority 7, id 0');
  assert.equal(run(prog, { frame: frame(0x88cc), pkttype: HOST, vlan: 0 }), HEADER_ONLY_LEN);
  assert.ok(VLAN_MARK_LEN < 14, 'the mark is shorter than any frame the kernel receives');
});
