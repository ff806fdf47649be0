import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressBinding } from '../../../src/control/binding.js';

function withAddrs(...addrs: string[]): AddressBinding {
  const b = new AddressBinding();
  for (const a of addrs) {
    b.addAddress(a);
    b.addressUp(a);
  }
  return b;
}

test('address up with no active NIC stays unbound', () => {
  const b = withAddrs('10.0.0.1');
  assert.equal(b.bindingOf('10.0.0.1'), null);
  assert.equal(b.carrier, false);
});

test('first activation: initial bind of every UP address, nomination, carrier up', () => {
  const b = withAddrs('10.0.0.1', '10.0.0.2');
  const r = b.activate(3);
  assert.deepEqual(r.moves, [
    { address: '10.0.0.1', from: null, to: 3, initial: true },
    { address: '10.0.0.2', from: null, to: 3, initial: true },
  ]);
  assert.equal(r.nominee, 3);
  assert.equal(r.carrier, true);
});

test('later activation rebalances from the most loaded to within 1, each a rebind of the head', () => {
  const b = withAddrs('a1', 'a2', 'a3', 'a4', 'a5');
  b.activate(0);
  assert.deepEqual(b.boundTo(0), ['a5', 'a4', 'a3', 'a2', 'a1']);
  const r = b.activate(1);
  assert.deepEqual(r.moves, [
    { address: 'a5', from: 0, to: 1, initial: false },
    { address: 'a4', from: 0, to: 1, initial: false },
  ]);
  assert.equal(r.nominee, undefined);
  assert.equal(r.carrier, undefined);
  assert.deepEqual(b.boundTo(0).length - b.boundTo(1).length, 1);
});

test('address up goes to the least-loaded NIC, earliest in the active list on ties', () => {
  const b = new AddressBinding();
  b.activate(5);
  b.activate(2);
  b.addAddress('x');
  assert.deepEqual(b.addressUp('x').moves, [{ address: 'x', from: null, to: 5, initial: true }]);
  b.addAddress('y');
  assert.equal(b.addressUp('y').moves[0].to, 2);
});

test('address down unbinds and pulls the head of the most loaded when it exceeds this + 1', () => {
  const b = withAddrs('a1', 'a2', 'a3', 'a4');
  b.activate(0);
  b.activate(1); // 0: a2 a1, 1: a3 a4
  assert.deepEqual(b.boundTo(0), ['a2', 'a1']);
  b.addAddress('a5');
  b.addressUp('a5'); // tie → 0 (earliest)
  assert.deepEqual(b.boundTo(0), ['a5', 'a2', 'a1']);
  const r = b.addressDown('a3'); // 1 now has 1, 0 has 3 > 1 + 1 → move head a5
  assert.deepEqual(r.moves, [
    { address: 'a3', from: 1, to: null, initial: false },
    { address: 'a5', from: 0, to: 1, initial: false },
  ]);
});

test('address down with loads within 1 moves nothing else', () => {
  const b = withAddrs('a1', 'a2');
  b.activate(0);
  b.activate(1);
  assert.equal(b.addressDown('a1').moves.length, 1);
});

test('deactivate rebinds each of its addresses to the least-loaded active NIC', () => {
  const b = withAddrs('a1', 'a2', 'a3', 'a4', 'a5', 'a6');
  b.activate(0);
  b.activate(1);
  b.activate(2);
  const held = [...b.boundTo(0)];
  const r = b.deactivate(0);
  assert.deepEqual(r.moves.map((m) => m.address).sort(), held.sort());
  assert.ok(r.moves.every((m) => m.from === 0 && m.to !== null && !m.initial));
  assert.ok(Math.abs(b.boundTo(1).length - b.boundTo(2).length) <= 1);
});

test('nominee moves only when its holder is deactivated, to the head of the active list', () => {
  const b = withAddrs('a1');
  b.activate(0);
  assert.equal(b.activate(1).nominee, undefined);
  assert.equal(b.activate(2).nominee, undefined);
  assert.equal(b.deactivate(2).nominee, undefined);
  assert.equal(b.deactivate(0).nominee, 1);
  assert.equal(b.nominee, 1);
});

test('none active: addresses unbound, nominee none, carrier down; next activation is initial', () => {
  const b = withAddrs('a1', 'a2');
  b.activate(0);
  const r = b.deactivate(0);
  assert.deepEqual(r.moves, [
    { address: 'a1', from: 0, to: null, initial: false },
    { address: 'a2', from: 0, to: null, initial: false },
  ]);
  assert.equal(r.nominee, null);
  assert.equal(r.carrier, false);
  const again = b.activate(4);
  assert.ok(again.moves.every((m) => m.initial && m.to === 4));
  assert.equal(again.carrier, true);
});

test('down addresses are not bound on activation', () => {
  const b = withAddrs('a1', 'a2');
  b.addressDown('a2');
  assert.deepEqual(b.activate(0).moves.map((m) => m.address), ['a1']);
});
