// The byte-stream pieces of the lab's traffic agents, without sockets: the record layout, the
// offset pattern, the receiving check (chunking, first difference, bytes beyond the end, sha256),
// the header gatherer, and the writer against a fake socket (whole records, the byte limit,
// 'drain', the rate and the backlog).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { Head, OFFSET_PATTERN, Records, StreamCheck, StreamWriter, type Pattern } from '../../../src/lab/tcp-agent.js';
import { Rng } from '../../../bench/soak/prng.js';

/** Records as the agents have always laid them out, one at a time. */
function referenceRecords(id: number, size: number, count: number): Buffer {
  const b = Buffer.alloc(size * count);
  for (let seq = 0; seq < count; seq++) {
    const off = seq * size;
    b.writeUInt32BE(id, off);
    b.writeUInt32BE(seq, off + 4);
    for (let i = 8; i < size; i++) b[off + i] = (id + seq + i) & 0xff;
  }
  return b;
}

function bytesOf(p: Pattern, offset: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  p.read(offset, b, 0, n);
  return b;
}

/** Feeds `data` to a check in chunks of random sizes. */
function feed(check: StreamCheck, data: Buffer, rng: Rng, max = 5000): void {
  for (let off = 0; off < data.length;) {
    const n = Math.min(rng.int(1, max), data.length - off);
    check.push(data, off, off + n);
    off += n;
  }
}

describe('patterns', () => {
  it('Records gives the record layout at any offset and length', () => {
    const rng = new Rng(3);
    for (const [id, size] of [[0, 8], [5, 1000], [0xfffffffe, 1024], [300, 9]] as const) {
      const ref = referenceRecords(id, size, 40);
      const p = new Records(id, size);
      assert.ok(bytesOf(p, 0, ref.length).equals(ref), `whole run, id ${id} size ${size}`);
      for (let k = 0; k < 200; k++) {
        const off = rng.int(0, ref.length - 1);
        const n = rng.int(0, ref.length - off);
        assert.ok(bytesOf(p, off, n).equals(ref.subarray(off, off + n)), `id ${id} size ${size} [${off}, +${n})`);
      }
    }
    // Far into a stream: sequence numbers above 2^16 keep every byte.
    const far = new Records(9, 1000);
    const seq = 70_000;
    const rec = bytesOf(far, seq * 1000, 1000);
    assert.equal(rec.readUInt32BE(0), 9);
    assert.equal(rec.readUInt32BE(4), seq);
    assert.equal(rec[500], (9 + seq + 500) & 0xff);
    assert.equal(far.where(seq * 1000 + 6), `record ${seq}, sequence number byte 6`);
    assert.equal(far.where(2), 'record 0, connection id byte 2');
    assert.equal(far.where(1999), 'record 1, filler byte 999');
    assert.throws(() => new Records(0, 7), /record size 7: expected a whole number of at least 8 bytes/);
  });

  it('OFFSET_PATTERN is its formula, also where the offset exceeds 2^31 / 131', () => {
    for (const i of [0, 1, 511, 512, 131071, 131072, 20_000_000, 3_000_000_000]) {
      assert.equal(bytesOf(OFFSET_PATTERN, i, 1)[0], (i * 131 + Math.floor(i / 512) + Math.floor(i / 131072)) % 256, `offset ${i}`);
    }
    assert.ok(!bytesOf(OFFSET_PATTERN, 0, 4096).equals(bytesOf(OFFSET_PATTERN, 256, 4096)), 'no period of 256');
  });
});

describe('StreamCheck', () => {
  const data = bytesOf(OFFSET_PATTERN, 0, 200_000);

  it('accepts the pattern in any chunking and hashes what arrived', () => {
    const c = new StreamCheck(OFFSET_PATTERN, { hash: true, limit: data.length });
    feed(c, data, new Rng(1), 70_000);
    assert.equal(c.received, data.length);
    assert.equal(c.mismatchAt, -1);
    assert.equal(c.digest(), createHash('sha256').update(data).digest('hex'));
  });

  it('finds the first differing byte, whatever the chunking, and what it was', () => {
    for (const at of [0, 1, 65_535, 65_536, 123_457, data.length - 1]) {
      const bad = Buffer.from(data);
      bad[at] ^= 0x10;
      bad[Math.min(at + 10, data.length - 1)] ^= 0x01;
      const c = new StreamCheck(OFFSET_PATTERN);
      feed(c, bad, new Rng(at));
      assert.equal(c.mismatchAt, at);
      assert.equal(c.got, bad[at]);
      assert.equal(c.want, data[at]);
      assert.equal(c.received, data.length);
    }
  });

  it('a byte beyond the limit is a difference at the limit', () => {
    const c = new StreamCheck(OFFSET_PATTERN, { limit: 1000 });
    c.push(data, 0, 999);
    assert.equal(c.mismatchAt, -1);
    c.push(data, 999, 1002);
    assert.equal(c.mismatchAt, 1000);
    assert.equal(c.want, -1);
    assert.equal(c.received, 1002);
  });

  it('without a pattern it counts and hashes only', () => {
    const c = new StreamCheck(null, { hash: true });
    feed(c, Buffer.from('not a pattern at all'), new Rng(2), 3);
    assert.equal(c.received, 20);
    assert.equal(c.mismatchAt, -1);
    assert.equal(c.digest(), createHash('sha256').update('not a pattern at all').digest('hex'));
  });

  it('Head gathers a header across chunks and says where the rest starts', () => {
    const h = new Head(6);
    const d = Buffer.from('abcdefghij');
    assert.equal(h.take(d.subarray(0, 2)), 2);
    assert.equal(h.full, false);
    assert.equal(h.take(d.subarray(2, 10)), 4);
    assert.equal(h.full, true);
    assert.equal(h.buf.toString(), 'abcdef');
  });
});

/** A socket as far as the writer sees it: write() is refused (false) while `full`. */
class FakeSocket extends EventEmitter {
  writableLength = 0;
  destroyed = false;
  full = false;
  endedAt = -1;
  readonly writes: Buffer[] = [];

  write(b: Buffer): boolean {
    this.writes.push(b);
    if (this.full) this.writableLength += b.length;
    return !this.full;
  }

  end(): void {
    if (this.endedAt < 0) this.endedAt = Date.now();
  }

  drained(): void {
    this.full = false;
    this.writableLength = 0;
    this.emit('drain');
  }

  data(): Buffer {
    return Buffer.concat(this.writes);
  }
}

async function until(what: string, cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('StreamWriter', () => {
  it('unpaced: whole records up to the limit, waiting for drain when the socket is full, then FIN', () => {
    const s = new FakeSocket();
    s.full = true;
    const w = new StreamWriter(s as unknown as Socket, new Records(3, 1000), { rate: 0, bytes: 200_500, unit: 1000, hash: true });
    w.start();
    assert.equal(s.writes.length, 1, 'one write, then it waits for drain');
    assert.equal(s.writes[0].length, 65_000, 'a write is whole records');
    s.drained();
    assert.equal(s.endedAt >= 0, true, 'ended once the limit was written');
    assert.equal(w.sent, 200_000, 'the limit rounds down to whole records');
    assert.ok(s.data().equals(referenceRecords(3, 1000, 200)));
    assert.equal(w.digest(), createHash('sha256').update(referenceRecords(3, 1000, 200)).digest('hex'));
    w.halt();
  });

  it('paced: never ahead of the rate, whole records, ends after the duration', async () => {
    const s = new FakeSocket();
    const rate = 400_000;
    const w = new StreamWriter(s as unknown as Socket, new Records(1, 1024), { rate, durationMs: 300, unit: 1024 });
    const t0 = Date.now();
    w.start();
    await until('the end of the stream', () => s.endedAt >= 0);
    const elapsed = s.endedAt - t0;
    try {
      assert.ok(elapsed >= 300, `ended after ${elapsed} ms, not before 300`);
      assert.equal(w.sent % 1024, 0);
      assert.ok(s.writes.every((b) => b.length % 1024 === 0 && b.length <= 2 * 4 * 1024), `write sizes ${s.writes.map((b) => b.length)}`);
      // The bucket starts with one tick's worth (4 KiB at 10 ms) and fills at the rate.
      const most = 4096 + (rate * elapsed) / 1000;
      assert.ok(w.sent <= most, `${w.sent} bytes in ${elapsed} ms: at most ${most}`);
      assert.ok(w.sent > 0 && s.data().equals(referenceRecords(1, 1024, w.sent / 1024)));
    } finally {
      w.halt();
    }
  });

  it('paced: writes nothing while the socket holds more than the backlog', async () => {
    const s = new FakeSocket();
    const w = new StreamWriter(s as unknown as Socket, OFFSET_PATTERN, { rate: 1_000_000, tickMs: 5, backlog: 100 });
    w.start();
    try {
      const first = s.writes.length;
      assert.ok(first >= 1, 'the first tick writes at once');
      s.writableLength = 101;
      const n = s.writes.length;
      await new Promise((r) => setTimeout(r, 60));
      assert.equal(s.writes.length, n, 'no write while backed up');
      s.writableLength = 100;
      await until('a write once the backlog is down to the bound', () => s.writes.length > n);
      w.stop();
      assert.ok(s.endedAt >= 0);
      assert.ok(s.data().equals(bytesOf(OFFSET_PATTERN, 0, w.sent)));
    } finally {
      w.halt();
    }
  });
});
