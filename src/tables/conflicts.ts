/**
 * Address conflicts seen by the RX worker (a foreign MAC claiming one of our
 * addresses), passed to the control plane without messages: a ring of
 * CONFLICT_SLOTS fixed-size records in a SharedArrayBuffer. The RX worker is
 * the single writer and already limits how often it reports one address; the
 * daemon polls and logs. A reader that falls more than a ring behind skips
 * what was overwritten and is told how many it missed.
 *
 * Layout: Int32 head @0 (records written so far), then records of
 * CONFLICT_RECORD bytes at 16: seq i32 @0 (head value of this record + 1, 0
 * while being written), family u8 @4, nic slot u8 @5, kind u8 @6, defended
 * u8 @7, address[16] @8, MAC[6] @24.
 */
import { ipv4ToString } from '../wire/ipv4.js';
import { ipv6ToString } from '../wire/ipv6-text.js';
import { macToString } from '../wire/ethernet.js';

export const CONFLICT_SLOTS = 32;
const CONFLICT_RECORD = 32;
const HEAD = 16;
export const CONFLICT_BYTES = HEAD + CONFLICT_SLOTS * CONFLICT_RECORD;

/** What the foreign frame claimed. */
export const CK_DATA = 0;
export const CK_TEST = 1;

const R_SEQ = 0;
const R_FAMILY = 4;
const R_NIC = 5;
const R_KIND = 6;
const R_DEFENDED = 7;
const R_ADDR = 8;
const R_MAC = 24;

export interface ConflictReport {
  family: 4 | 6;
  /** Dotted quad or IPv6 text. */
  address: string;
  /** The foreign MAC, aa:bb:cc:dd:ee:ff. */
  mac: string;
  /** Slot of the NIC the claim was heard on. */
  nic: number;
  kind: 'data' | 'test';
  /** A gratuitous ARP / unsolicited NA with our MAC went out in reply. */
  defended: boolean;
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
   * by the MAC at mac[macOff], heard on NIC `nic`. No allocation.
   */
  write(family: number, addr: Uint8Array, addrOff: number, mac: Uint8Array, macOff: number, nic: number,
    kind: number, defended: boolean): void {
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
      reports.push({
        family, address, mac: macToString(rec, R_MAC), nic: rec[R_NIC],
        kind: rec[R_KIND] === CK_TEST ? 'test' : 'data', defended: rec[R_DEFENDED] === 1,
      });
    }
    return { reports, missed };
  }
}
