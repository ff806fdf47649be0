/**
 * Address conflicts seen by the RX worker (a foreign MAC claiming one of our
 * addresses, or another node's duplicate address detection probe for one of
 * our tentative addresses), passed to the control plane without messages: a ring of
 * CONFLICT_SLOTS fixed-size records in a SharedArrayBuffer. The RX worker is
 * the single writer and already limits how often it reports one address; the
 * daemon polls and logs. A reader that falls more than a ring behind skips
 * what was overwritten and is told how many it missed.
 *
 * Layout: Int32 head @0 (records written so far), then records of
 * CONFLICT_RECORD bytes at 16: seq i32 @0 (head value of this record + 1, 0
 * while being written), family u8 @4, nic slot u8 @5, kind u8 @6, defended
 * u8 @7, address[16] @8, MAC[6] @24, nonce length u8 @30 (0: none), nonce[6]
 * @32 (the RFC 7527 nonce of a DAD probe).
 */
import { ipv4ToString } from '../wire/ipv4.js';
import { ipv6ToString } from '../wire/ipv6-text.js';
import { macToString } from '../wire/ethernet.js';

export const CONFLICT_SLOTS = 32;
const CONFLICT_RECORD = 40;
const HEAD = 16;
export const CONFLICT_BYTES = HEAD + CONFLICT_SLOTS * CONFLICT_RECORD;

/** What the foreign frame claimed. */
export const CK_DATA = 0;
export const CK_TEST = 1;
/** A DAD probe (NS from ::) for a data address we hold tentative or duplicate. */
export const CK_DAD = 2;
/** Nonce bytes a record keeps. */
export const CONFLICT_NONCE_LEN = 6;

const R_SEQ = 0;
const R_FAMILY = 4;
const R_NIC = 5;
const R_KIND = 6;
const R_DEFENDED = 7;
const R_ADDR = 8;
const R_MAC = 24;
const R_NONCE_LEN = 30;
const R_NONCE = 32;

export interface ConflictReport {
  family: 4 | 6;
  /** Dotted quad or IPv6 text. */
  address: string;
  /** The foreign MAC, aa:bb:cc:dd:ee:ff. */
  mac: string;
  /** Slot of the NIC the claim was heard on. */
  nic: number;
  kind: 'data' | 'test' | 'dad';
  /** A gratuitous ARP / unsolicited NA with our MAC went out in reply. */
  defended: boolean;
  /** kind 'dad': the probe's nonce option as hex, or null when it carried none. */
  nonce?: string | null;
}

export class ConflictRing {
  readonly sab: SharedArrayBuffer;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readPos = 0;

  constructor(sab?: SharedArrayBuffer) {
    this.sab = sab ?? new SharedArrayBuffer(CONFLICT_BYTES);
    this.i32 = new Int32Array(this.sab);
    this.u8 = new Uint8Array(this.sab);
  }

  /**
   * Writer only. Records a claim on the address (4 or 16 bytes at addr[addrOff])
   * by the MAC at mac[macOff], heard on NIC `nic`, with the CONFLICT_NONCE_LEN
   * nonce bytes at nonce[nonceOff] when `nonce` is given. No allocation.
   */
  write(family: number, addr: Uint8Array, addrOff: number, mac: Uint8Array, macOff: number, nic: number,
    kind: number, defended: boolean, nonce: Uint8Array | null = null, nonceOff = 0): void {
    const n = Atomics.load(this.i32, 0);
    const base = HEAD + (n % CONFLICT_SLOTS) * CONFLICT_RECORD;
    const u8 = this.u8;
    Atomics.store(this.i32, (base + R_SEQ) >> 2, 0);
    u8[base + R_FAMILY] = family;
    u8[base + R_NIC] = nic;
    u8[base + R_KIND] = kind;
    u8[base + R_DEFENDED] = defended ? 1 : 0;
    const len = family === 4 ? 4 : 16;
    for (let i = 0; i < 16; i++) u8[base + R_ADDR + i] = i < len ? addr[addrOff + i] : 0;
    for (let i = 0; i < 6; i++) u8[base + R_MAC + i] = mac[macOff + i];
    u8[base + R_NONCE_LEN] = nonce === null ? 0 : CONFLICT_NONCE_LEN;
    for (let i = 0; i < CONFLICT_NONCE_LEN; i++) u8[base + R_NONCE + i] = nonce === null ? 0 : nonce[nonceOff + i];
    Atomics.store(this.i32, (base + R_SEQ) >> 2, n + 1);
    Atomics.store(this.i32, 0, n + 1);
  }

  /** Reader only: the records written since the last call, and how many were overwritten before being read. */
  poll(): { reports: ConflictReport[]; missed: number } {
    const head = Atomics.load(this.i32, 0);
    let missed = 0;
    if (head - this.readPos > CONFLICT_SLOTS) {
      missed = head - this.readPos - CONFLICT_SLOTS;
      this.readPos = head - CONFLICT_SLOTS;
    }
    const reports: ConflictReport[] = [];
    for (; this.readPos < head; this.readPos++) {
      const base = HEAD + (this.readPos % CONFLICT_SLOTS) * CONFLICT_RECORD;
      const seqIdx = (base + R_SEQ) >> 2;
      if (Atomics.load(this.i32, seqIdx) !== this.readPos + 1) { missed++; continue; }
      const rec = this.u8.slice(base, base + CONFLICT_RECORD);
      if (Atomics.load(this.i32, seqIdx) !== this.readPos + 1) { missed++; continue; }
      const family = rec[R_FAMILY] === 6 ? 6 : 4;
      const address = family === 4
        ? ipv4ToString(((rec[R_ADDR] << 24) | (rec[R_ADDR + 1] << 16) | (rec[R_ADDR + 2] << 8) | rec[R_ADDR + 3]) >>> 0)
        : ipv6ToString(rec.subarray(R_ADDR, R_ADDR + 16));
      const kind = rec[R_KIND] === CK_TEST ? 'test' : rec[R_KIND] === CK_DAD ? 'dad' : 'data';
      const r: ConflictReport = { family, address, mac: macToString(rec, R_MAC), nic: rec[R_NIC], kind, defended: rec[R_DEFENDED] === 1 };
      if (kind === 'dad') r.nonce = rec[R_NONCE_LEN] === 0 ? null : Buffer.from(rec.subarray(R_NONCE, R_NONCE + CONFLICT_NONCE_LEN)).toString('hex');
      reports.push(r);
    }
    return { reports, missed };
  }
}
