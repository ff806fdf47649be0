/**
 * Control-socket requests: lines sent over a real UNIX socket to the control
 * server (src/daemon/control-server.ts: line framing, size bound, JSON
 * parsing, validateRequest, privilege check), dispatched by the daemon's
 * request handler (Daemon.handle in src/daemon/daemon.ts) to fake groups that
 * keep a little state (members, offline, standby, data addresses) and refuse
 * like the real ones (LiveError, refusal results).
 *
 * Input: bytes sent as one or more lines (a newline is added at the end);
 * odd-length inputs go over a connection from an unprivileged peer.
 *
 * Properties: the server answers every non-blank line with exactly one reply
 * line, in order, and nothing else; each reply is a JSON object with the
 * request's id (0 when it has none), ok true with a result, or ok false with a
 * known error code and a non-empty one-line message; a line longer than the
 * bound gets ETOOBIG and the connection closes; a request the validator
 * accepts has exactly the fields of its op (and at most its optional ones); privileged ops from the
 * unprivileged peer get EPERM; the server never stops answering (each input is
 * answered within a bound).
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlServer, validateRequest, type ControlServer } from '../../../src/daemon/control-server.js';
import { Daemon } from '../../../src/daemon/daemon.js';
import { LiveError, type GroupRuntime } from '../../../src/daemon/group-runtime.js';
import { PRIVILEGED_OPS, type Snapshot } from '../../../src/daemon/protocol.js';
import type { IpPrefix } from '../../../src/daemon/config-addr.js';
import { assertOneLine, check, PropertyViolation, Tally, type FuzzTarget } from '../harness.js';
import { anyText, decodeUtf8, mutatedText, utf8 } from '../mutate.js';

const MAX_LINE = 4096;
const REPLY_TIMEOUT_MS = 10_000;
const CODES = new Set(['EFAILED', 'EMINRED', 'EFBDISABLED', 'EUNKADDR', 'EINVAL', 'ENOMEM', 'EUNKGROUP', 'EUNKIF', 'EHWADDRDUP',
  'EPERM', 'EBADREQ', 'ETOOBIG', 'ETIMEDOUT', 'EALREADY', 'ENOTOFFLINE']);

const SEEDS = [
  '{"id":1,"op":"ping"}', '{"id":2,"op":"snapshot"}', '{"id":3,"op":"offline","ifname":"eth0"}',
  '{"id":4,"op":"undo-offline","ifname":"eth1"}', '{"id":5,"op":"add-ipmp","group":"ipmp0","interfaces":["eth2","eth3"]}',
  '{"id":6,"op":"remove-ipmp","group":"web","interfaces":["eth1"]}', '{"id":7,"op":"create-addr","group":"ipmp0","address":"198.18.0.12/24"}',
  '{"id":8,"op":"delete-addr","group":"ipmp0","address":"2001:db8::10/64"}',
  '{"id":9,"op":"set-ifprop","ifname":"eth0","prop":"standby","value":"on"}',
  '{"id":10,"op":"set-ifprop","ifname":"eth1","prop":"test-address","value":"198.18.0.100/24"}',
  '{"id":11,"op":"probe-subscribe"}', '{"id":12,"op":"ping"}\n{"id":13,"op":"snapshot"}', '  \n{"id":14,"op":"ping"}  ',
  '[1,2]', 'null', '"ping"', '{"id":-1,"op":"ping"}', '{"id":1.5,"op":"ping"}', '{"id":9007199254740993,"op":"ping"}',
  '{"id":1,"op":"ping","extra":true}', '{"id":1,"op":"__proto__"}', '{"__proto__":{"op":"ping"},"id":1,"op":"ping"}',
  '{"id":1,"op":"offline","ifname":"eth0/../x"}', '{"id":1,"op":"create-addr","group":"ipmp0","address":"not an address"}',
];
const TOKENS = ['"', '\\', '\\n', '\\u0000', '\\ud800', '{', '}', '[', ']', ',', ':', 'null', 'true', '1e999', '-0', '0x10',
  '"ping"', '"op"', '"id"', '"constructor"', '"toString"', '"hasOwnProperty"', '\n', '\r', ' ', '\u2028', 'é', '\u0000',
  '"eth0"', '"ipmp0"', '"web"', '"198.18.0.10/24"', '"on"', '"off"', '"standby"', 'x'.repeat(300)];

/** The fields of each op besides id and op (the protocol's Request type). */
const OP_FIELDS: Record<string, string[]> = {
  'ping': [], 'snapshot': [], 'probe-subscribe': [], 'offline': ['ifname'], 'undo-offline': ['ifname'],
  'add-ipmp': ['group', 'interfaces'], 'remove-ipmp': ['group', 'interfaces'], 'create-addr': ['group', 'address'],
  'delete-addr': ['group', 'address'], 'set-ifprop': ['ifname', 'prop', 'value'],
};

/** Fields an op may leave out: `persist` of the live verbs. */
const OP_OPTIONAL: Record<string, string[]> = {
  'add-ipmp': ['persist'], 'remove-ipmp': ['persist'], 'create-addr': ['persist'], 'delete-addr': ['persist'], 'set-ifprop': ['persist'],
};

/** JSON objects with the protocol's keys and values of every JSON type. */
const KEYS = ['id', 'op', 'ifname', 'group', 'interfaces', 'address', 'prop', 'value', 'persist', 'extra', '__proto__', 'constructor'];
const jsonLeaf = fc.oneof(
  fc.integer({ min: -2, max: 1 << 20 }), fc.double(), fc.boolean(), fc.constant(null), anyText(12),
  fc.constantFrom(...Object.keys(OP_FIELDS), 'eth0', 'eth1', 'eth9', 'ipmp0', 'web', '198.18.0.12/24', 'on', 'off', 'standby', 'test-address'),
);
const jsonValue = fc.oneof({ weight: 4, arbitrary: jsonLeaf }, { weight: 1, arbitrary: fc.array(jsonLeaf, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom(...KEYS), jsonLeaf, { maxKeys: 3 }) });
const requestLike = fc.dictionary(fc.constantFrom(...KEYS), jsonValue, { maxKeys: 5 }).map((o) => JSON.stringify(o));

interface FakeNic { name: string; offline: boolean; standby: boolean }

/** A group with the surface Daemon.handle uses, refusing the way the real group does. */
class FakeGroup {
  readonly name = 'ipmp0';
  readonly groupname = 'web';
  private readonly members = new Map<string, FakeNic>();
  private addrs: IpPrefix[] = [{ family: 6, address: '2001:db8::10', prefixlen: 64 }];
  readonly nics = { byName: (n: string) => this.members.get(n) };

  constructor() {
    for (const n of ['eth0', 'eth1']) this.members.set(n, { name: n, offline: false, standby: false });
  }

  snapshot(): Snapshot {
    return {
      generation: 1, groups: [{ ifname: this.name, groupname: this.groupname, state: 'ok', fdtMs: null, interfaces: [...this.members.keys()] }],
      interfaces: [], addresses: this.addrs.map((a) => ({ address: a.address, prefixlen: a.prefixlen, up: true, group: this.name, inbound: 'eth0', outbound: ['eth0'] })),
      targets: [],
    };
  }

  adminOffline(name: string, offline: boolean): { ok: true } | { ok: false; code: string; error: string } {
    const n = this.members.get(name);
    if (!n) return { ok: false, code: 'EUNKIF', error: 'not a physical interface or not in an IPMP group' };
    if (!offline && !n.offline) return { ok: false, code: 'ENOTOFFLINE', error: 'interface is not offline' };
    if (offline && [...this.members.values()].filter((m) => !m.offline).length <= 1) {
      return { ok: false, code: 'EMINRED', error: 'minimum redundancy not met' };
    }
    n.offline = offline;
    return { ok: true };
  }

  async addNic(name: string): Promise<void> {
    if (this.members.has(name)) throw new LiveError('EALREADY', `${name} is already in group ${this.groupname}`);
    if (this.members.size >= 32) throw new LiveError('ENOMEM', 'too many interfaces');
    this.members.set(name, { name, offline: false, standby: false });
  }

  async removeNic(name: string): Promise<void> {
    if (!this.members.delete(name)) throw new LiveError('EUNKIF', `${name} is not in group ${this.groupname}`);
    if (this.members.size === 0) this.members.set('eth0', { name: 'eth0', offline: false, standby: false });
  }

  setStandby(name: string, standby: boolean): void {
    const n = this.members.get(name);
    if (!n) throw new LiveError('EUNKIF', `${name} is not in group ${this.groupname}`);
    n.standby = standby;
  }

  addAddress(a: IpPrefix): void {
    if (this.addrs.some((x) => x.address === a.address)) throw new LiveError('EALREADY', `${a.address} is already a data address of ${this.name}`);
    if (this.addrs.length >= 64) this.addrs = this.addrs.slice(32);
    this.addrs.push(a);
  }

  removeAddress(a: IpPrefix): void {
    const i = this.addrs.findIndex((x) => x.address === a.address);
    if (i < 0) throw new LiveError('EUNKADDR', `unknown IPMP data address ${a.address}`);
    this.addrs.splice(i, 1);
  }
}

/** One client connection reading reply lines. */
class Client {
  readonly lines: string[] = [];
  closed = false;
  private buf = '';
  private wake: (() => void) | null = null;
  private constructor(readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        this.lines.push(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
      }
      this.wake?.();
    });
    sock.on('error', () => {});
    sock.on('close', () => { this.closed = true; this.wake?.(); });
  }

  static open(path: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }

  /** Waits until n reply lines arrived or the connection closed; false on timeout. */
  async waitFor(n: number, ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (this.lines.length < n && !this.closed) {
      const left = until - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.wake = () => { clearTimeout(t); r(); }; });
      this.wake = null;
    }
    return true;
  }

  /** Waits for the close that follows a last reply. */
  async waitClosed(ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (!this.closed) {
      const left = until - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.wake = () => { clearTimeout(t); r(); }; });
      this.wake = null;
    }
    return true;
  }
}

/** What the server should do with the text: the lines it serves, and whether one is too long. */
function expectedLines(text: string): { lines: string[]; tooBig: boolean } {
  const lines: string[] = [];
  const parts = text.split('\n');
  parts.pop();
  for (const p of parts) {
    if (Buffer.byteLength(p) > MAX_LINE) return { lines, tooBig: true };
    if (p.trim() !== '') lines.push(p);
  }
  return { lines, tooBig: false };
}

function checkReply(raw: string, line: string, privileged: boolean, tally: Tally): void {
  let r: unknown;
  try { r = JSON.parse(raw); } catch { throw new PropertyViolation(`reply is not JSON: ${raw.slice(0, 200)}`); }
  check(typeof r === 'object' && r !== null && !Array.isArray(r), 'reply is not an object');
  const o = r as Record<string, unknown>;
  check(typeof o.id === 'number' && Number.isSafeInteger(o.id) && o.id >= 0, `reply id ${String(o.id)}`);
  let parsed: unknown;
  let v: ReturnType<typeof validateRequest> | null = null;
  try { parsed = JSON.parse(line); v = validateRequest(parsed); } catch { /* not JSON: answered with id 0 */ }
  const wantId = v ? (v.ok ? v.req.id : v.id) : 0;
  check(o.id === wantId, () => `reply id ${String(o.id)} for a request with id ${wantId}`);
  if (v && v.ok) {
    const optional = OP_OPTIONAL[v.req.op] ?? [];
    const keys = Object.keys(parsed as object).filter((k) => !optional.includes(k)).sort().join(',');
    const want = ['id', 'op', ...OP_FIELDS[v.req.op]!].sort().join(',');
    check(keys === want, () => `validator accepted ${v.req.op} with fields ${keys}`);
  }
  if (o.ok === true) {
    check('result' in o, 'ok reply without a result');
    check(v !== null && v.ok, () => `ok reply to a request the validator refuses: ${line.slice(0, 200)}`);
    check(privileged || !PRIVILEGED_OPS.has(v!.ok ? v!.req.op : 'ping'), 'privileged op served to an unprivileged peer');
    tally.add(`ok:${v!.ok ? v!.req.op : '?'}`);
    return;
  }
  check(o.ok === false, 'reply without ok');
  check(typeof o.code === 'string' && CODES.has(o.code), `reply code ${String(o.code)}`);
  check(typeof o.error === 'string', 'error reply without a message');
  assertOneLine(`${String(o.code)} reply`, o.error as string);
  if (v && v.ok && !privileged && PRIVILEGED_OPS.has(v.req.op)) check(o.code === 'EPERM', `privileged op from an unprivileged peer got ${String(o.code)}`);
  tally.add(`error:${String(o.code)}`);
}

export function controlTarget(): FuzzTarget {
  const tally = new Tally();
  let dir = '';
  let server: ControlServer;
  let daemon: Daemon;
  const clients: [Client | null, Client | null] = [null, null];
  const uids = [0, 1000];
  let openingUid = 0;

  /** Connection 0 is root's, connection 1 an unprivileged user's; reopened after the server closes one. */
  async function client(k: 0 | 1): Promise<Client> {
    const c = clients[k];
    if (c && !c.closed) return c;
    openingUid = uids[k]!;
    clients[k] = await Client.open(server.path);
    return clients[k]!;
  }

  return {
    name: 'control',
    async: true,
    about: 'control socket over a real UNIX socket into Daemon.handle with fake groups: one well-formed reply per line, declared codes, one-line errors, EPERM, ETOOBIG',
    input: () => fc.oneof(
      { weight: 6, arbitrary: mutatedText(SEEDS, TOKENS, 6000) },
      { weight: 2, arbitrary: utf8(requestLike) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
      { weight: 1, arbitrary: fc.constantFrom(...SEEDS).map((s) => new TextEncoder().encode(s)) },
    ),
    async setup() {
      dir = mkdtempSync(join(tmpdir(), 'ipmp-fuzz-ctl-'));
      writeFileSync(join(dir, 'group'), 'root:x:0:\nipmp:x:990:\n');
      writeFileSync(join(dir, 'passwd'), 'root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/:/bin/sh\n');
      daemon = new Daemon({ config: { fdtMs: 10000, failback: true, trackInterfacesOnlyWithGroups: true, groups: [] }, socketPath: '', log: () => {} });
      daemon.groups.push(new FakeGroup() as unknown as GroupRuntime);
      server = await startControlServer({
        path: join(dir, 'ipmpd.sock'),
        handler: (req) => daemon.handle(req),
        onSubscribe: () => () => {},
        peerCred: () => ({ pid: 1, uid: openingUid, gid: openingUid }),
        log: () => {},
        maxRequestBytes: MAX_LINE,
        privilege: { groupFile: join(dir, 'group'), passwdFile: join(dir, 'passwd'), groupName: 'ipmp' },
      });
      await client(0);
      await client(1);
    },
    async run(input) {
      const k = (input.length & 1) as 0 | 1;
      let text = decodeUtf8(input);
      if (!text.endsWith('\n')) text += '\n';
      const want = expectedLines(text);
      const c = await client(k);
      const privileged = k === 0;
      c.lines.length = 0;
      c.sock.write(text);
      const n = want.lines.length + (want.tooBig ? 1 : 0);
      if (!(await c.waitFor(n, REPLY_TIMEOUT_MS))) {
        throw new PropertyViolation(`got ${c.lines.length} of ${n} replies within ${REPLY_TIMEOUT_MS} ms`);
      }
      check(c.lines.length === n, () => `${c.lines.length} replies to ${n} lines${c.closed ? ' (connection closed)' : ''}`);
      for (let i = 0; i < want.lines.length; i++) checkReply(c.lines[i]!, want.lines[i]!, privileged, tally);
      if (want.tooBig) {
        const last = JSON.parse(c.lines[n - 1]!) as { code?: string };
        check(last.code === 'ETOOBIG', `an over-long line got ${String(last.code)}`);
        check(await c.waitClosed(REPLY_TIMEOUT_MS), 'connection not closed after ETOOBIG');
        tally.add('closed:ETOOBIG');
      } else {
        check(!c.closed, 'connection closed without a reason');
      }
    },
    async teardown() {
      for (const c of clients) c?.sock.destroy();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
    outcomes: () => tally.toJSON(),
  };
}
