import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  clearVnetHdr, setVnetCsumOffset, setVnetCsumStart, setVnetFlags, setVnetGsoSize, setVnetGsoType,
  setVnetHdrLen, shiftVnetOffsets, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_TCPV4, VNET_HDR_LEN, vnetCsumOffset, vnetCsumStart, vnetFlags, vnetGsoSize, vnetGsoType,
  vnetHdrLen, vnetIsGso, vnetNeedsCsum,
} from '../../../src/wire/vnet.js';
import { hex, toHex } from './helpers.js';

test('fields are little-endian at the documented offsets', () => {
  // NEEDS_CSUM, TCPV4, hdr_len 54, gso_size 1448, csum_start 34, csum_offset 16
  const b = hex('00 01 01 3600 a805 2200 1000');
  assert.equal(vnetFlags(b, 1), 1);
  assert.equal(vnetGsoType(b, 1), VIRTIO_NET_HDR_GSO_TCPV4);
  assert.equal(vnetHdrLen(b, 1), 54);
  assert.equal(vnetGsoSize(b, 1), 1448);
  assert.equal(vnetCsumStart(b, 1), 34);
  assert.equal(vnetCsumOffset(b, 1), 16);
  assert.ok(vnetNeedsCsum(b, 1));
  assert.ok(vnetIsGso(b, 1));
  const c = new Uint8Array(VNET_HDR_LEN);
  setVnetFlags(c, 0, 1); setVnetGsoType(c, 0, 1); setVnetHdrLen(c, 0, 54);
  setVnetGsoSize(c, 0, 1448); setVnetCsumStart(c, 0, 34); setVnetCsumOffset(c, 0, 16);
  assert.equal(toHex(c), toHex(b, 1));
  clearVnetHdr(c, 0);
  assert.equal(toHex(c), '00'.repeat(10));
  assert.ok(!vnetIsGso(c, 0));
  setVnetGsoType(c, 0, VIRTIO_NET_HDR_GSO_ECN);
  assert.ok(!vnetIsGso(c, 0));
});

test('shiftVnetOffsets moves csum_start (only with NEEDS_CSUM) and nonzero hdr_len', () => {
  const b = new Uint8Array(VNET_HDR_LEN);
  setVnetFlags(b, 0, VIRTIO_NET_HDR_F_NEEDS_CSUM);
  setVnetCsumStart(b, 0, 20);
  setVnetHdrLen(b, 0, 40);
  assert.ok(shiftVnetOffsets(b, 0, 14));
  assert.equal(vnetCsumStart(b, 0), 34);
  assert.equal(vnetHdrLen(b, 0), 54);
  assert.ok(shiftVnetOffsets(b, 0, -14));
  assert.equal(vnetCsumStart(b, 0), 20);
  assert.equal(vnetHdrLen(b, 0), 40);

  const n = new Uint8Array(VNET_HDR_LEN);
  setVnetCsumStart(n, 0, 7); // ignored without NEEDS_CSUM
  assert.ok(shiftVnetOffsets(n, 0, 14));
  assert.equal(vnetCsumStart(n, 0), 7);
  assert.equal(vnetHdrLen(n, 0), 0);
});

test('shiftVnetOffsets refuses invalid results and leaves the header untouched', () => {
  const b = new Uint8Array(VNET_HDR_LEN);
  setVnetFlags(b, 0, VIRTIO_NET_HDR_F_NEEDS_CSUM);
  setVnetCsumStart(b, 0, 10);
  setVnetHdrLen(b, 0, 60);
  const before = toHex(b);
  assert.equal(shiftVnetOffsets(b, 0, -14), false);
  assert.equal(toHex(b), before);
  setVnetCsumStart(b, 0, 0xfff0);
  assert.equal(shiftVnetOffsets(b, 0, 0x20), false);
  setVnetCsumStart(b, 0, 30);
  setVnetHdrLen(b, 0, 14);
  assert.equal(shiftVnetOffsets(b, 0, -14), false);
});
