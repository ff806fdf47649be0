/**
 * The control socket: a UNIX stream socket (directory 0755, socket 0666) speaking
 * newline-delimited JSON, one reply line per request line with the request's id.
 *
 * Everything a client sends is untrusted: lines are bounded (MAX_REQUEST_BYTES,
 * then ETOOBIG and close), must be finished within the request timeout, and are
 * validated strictly (EBADREQ). State-changing ops (PRIVILEGED_OPS) are accepted
 * only from uid 0 or members of group `ipmp`, from the peer's SO_PEERCRED (EPERM).
 * Requests on one connection are answered in order. A `probe-subscribe` connection
 * then receives {"event":"probe", ...ProbeEvent} lines until it closes.
 */
import { chmodSync, lstatSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { dirname } from 'node:path';
import { MAX_REQUEST_BYTES, PRIVILEGED_OPS, REQUEST_TIMEOUT_MS } from './protocol.js';
import type { ErrorCode, Op, ProbeEvent, Reply, Request } from './protocol.js';

type FieldKind = 'ifname' | 'group' | 'ifnames' | 'text' | 'prop' | 'bool';

const FIELDS: Record<Op, Record<string, FieldKind>> = {
  'ping': {},
  'snapshot': {},
  'probe-subscribe': {},
  'offline': { ifname: 'ifname' },
  'undo-offline': { ifname: 'ifname' },
  'add-ipmp': { group: 'group', interfaces: 'ifnames' },
  'remove-ipmp': { group: 'group', interfaces: 'ifnames' },
  'create-addr': { group: 'group', address: 'text' },
  'delete-addr': { group: 'group', address: 'text' },
  'set-ifprop': { ifname: 'ifname', prop: 'prop', value: 'text' },
  'test-hook': { group: 'group', hook: 'text' },
};

/** Fields a request may leave out. */
const OPTIONAL: Partial<Record<Op, Record<string, FieldKind>>> = {
  'add-ipmp': { persist: 'bool' },
  'remove-ipmp': { persist: 'bool' },
  'create-addr': { persist: 'bool' },
  'delete-addr': { persist: 'bool' },
  'set-ifprop': { persist: 'bool' },
};

const MAX_TEXT = 256;
const MAX_IFNAMES = 64;

export type Validated = { ok: true; req: Request } | { ok: false; id: number; what: string };

function isIfName(v: unknown): v is string {
  return typeof v === 'string' && v.length >= 1 && Buffer.byteLength(v) <= 15 && !/[/:\s\x00-\x1f\x7f]/.test(v);
}

function checkField(kind: FieldKind, v: unknown): string | null {
  switch (kind) {
    case 'ifname': return isIfName(v) ? null : 'an interface name';
    case 'group': return typeof v === 'string' && v.length >= 1 && v.length <= 64 && !/[\s\x00-\x1f]/.test(v) ? null : 'a group name';
    case 'text': return typeof v === 'string' && v.length <= MAX_TEXT && !/[\x00-\x1f]/.test(v) ? null : `a string of at most ${MAX_TEXT} characters`;
    case 'prop': return v === 'standby' || v === 'test-address' ? null : '"standby" or "test-address"';
    case 'bool': return typeof v === 'boolean' ? null : 'true or false';
    case 'ifnames':
      return Array.isArray(v) && v.length >= 1 && v.length <= MAX_IFNAMES && v.every(isIfName)
        ? null : `a list of 1-${MAX_IFNAMES} interface names`;
  }
}

/** Checks a parsed JSON value against the request types; extra fields are refused. */
export function validateRequest(v: unknown): Validated {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, id: 0, what: 'expected a JSON object' };
  const o = v as Record<string, unknown>;
  const idOk = typeof o.id === 'number' && Number.isSafeInteger(o.id) && o.id >= 0;
  const id = idOk ? (o.id as number) : 0;
  if (!idOk) return { ok: false, id, what: '"id" must be a non-negative integer' };
  if (typeof o.op !== 'string' || !Object.hasOwn(FIELDS, o.op)) {
    return { ok: false, id, what: typeof o.op === 'string' ? `unknown op ${JSON.stringify(o.op.slice(0, 40))}` : '"op" must be a string' };
  }
  const fields = FIELDS[o.op as Op];
  const optional = OPTIONAL[o.op as Op] ?? {};
  for (const k of Object.keys(o)) {
    if (k !== 'id' && k !== 'op' && !Object.hasOwn(fields, k) && !Object.hasOwn(optional, k)) {
      return { ok: false, id, what: `unexpected field ${JSON.stringify(k.slice(0, 40))} for ${o.op}` };
    }
  }
  for (const [k, kind] of Object.entries(fields)) {
    if (!Object.hasOwn(o, k)) return { ok: false, id, what: `missing field "${k}" for ${o.op}` };
    const expected = checkField(kind, o[k]);
    if (expected) return { ok: false, id, what: `"${k}" must be ${expected}` };
  }
  for (const [k, kind] of Object.entries(optional)) {
    const expected = Object.hasOwn(o, k) ? checkField(kind, o[k]) : null;
    if (expected) return { ok: false, id, what: `"${k}" must be ${expected}` };
  }
  return { ok: true, req: o as unknown as Request };
}

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

export interface PrivilegeFiles {
  groupFile: string;
  passwdFile: string;
  groupName: string;
}

export const DEFAULT_PRIVILEGE_FILES: PrivilegeFiles = { groupFile: '/etc/group', passwdFile: '/etc/passwd', groupName: 'ipmp' };

function readLines(file: string): string[][] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
  } catch {
    return [];
  }
}

/**
 * uid 0, or a member of the group: the peer's gid is the group's, the user's
 * primary group (/etc/passwd) is it, or the user is listed in it (/etc/group).
 * Read on every call, so membership changes apply without a restart.
 */
export function isPrivileged(peer: PeerCred, files: PrivilegeFiles = DEFAULT_PRIVILEGE_FILES): boolean {
  if (peer.uid === 0) return true;
  if (peer.uid < 0) return false;
  const group = readLines(files.groupFile).find((f) => f[0] === files.groupName);
  if (!group || group[2] === undefined || !/^[0-9]+$/.test(group[2])) return false;
  const gid = Number(group[2]);
  if (peer.gid === gid) return true;
  const user = readLines(files.passwdFile).find((f) => f[2] !== undefined && Number(f[2]) === peer.uid && /^[0-9]+$/.test(f[2]));
  if (!user) return false;
  if (user[3] !== undefined && /^[0-9]+$/.test(user[3]) && Number(user[3]) === gid) return true;
  const members = (group[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean);
  return members.includes(user[0]!);
}

// ---- the server ----

export type ControlLog = ((line: string) => void) | { info?(m: string): void; warn?(m: string): void; debug?(m: string): void };

/** What onSubscribe receives: a probe-subscribed connection. */
export interface ControlConnection {
  readonly peer: PeerCred;
  /** Writes one {"event":"probe", ...} line; false once the connection is gone. */
  sendProbe(ev: ProbeEvent): boolean;
  close(): void;
}

export interface ControlServerOptions {
  path: string;
  handler: (req: Request, peer: PeerCred) => Promise<unknown> | unknown;
  /** Called for an accepted probe-subscribe; returns the unsubscribe function. */
  onSubscribe: (conn: ControlConnection) => () => void;
  peerCred: (fd: number) => PeerCred;
  log: ControlLog;
  maxConnections?: number;
  requestTimeoutMs?: number;
  maxRequestBytes?: number;
  privilege?: PrivilegeFiles;
  /** A listening descriptor for `path` inherited from the previous image (in-place re-execution). */
  inheritedFd?: number;
}

export interface ControlServer {
  readonly path: string;
  readonly server: Server;
  connectionCount(): number;
  /** The listening descriptor (to hand to the next image), or -1. */
  listeningFd(): number;
  /** Closes every client connection; the listener stays. */
  dropConnections(): void;
  /** Stops listening, closes every connection and removes the socket file. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_CONNECTIONS = 64;
/** A client this far behind in reading (bytes queued to it) is dropped. */
const MAX_BACKLOG = 4 * 1024 * 1024;
const MAX_QUEUED_LINES = 16;
const ERROR_CODES = new Set<string>(['EFAILED', 'EMINRED', 'EFBDISABLED', 'EUNKADDR', 'EINVAL', 'ENOMEM', 'EUNKGROUP',
  'EUNKIF', 'EHWADDRDUP', 'EPERM', 'EBADREQ', 'ETOOBIG', 'ETIMEDOUT', 'EALREADY', 'ENOTOFFLINE']);

const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ').trim();

function logger(log: ControlLog): (level: 'info' | 'warn' | 'debug', m: string) => void {
  if (typeof log === 'function') return (level, m) => { if (level !== 'debug') log(m); };
  return (level, m) => (log[level] ?? log.info)?.call(log, m);
}

function errorReply(id: number, err: unknown): Reply {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return { id, ok: false, code: typeof code === 'string' && ERROR_CODES.has(code) ? code as ErrorCode : 'EFAILED', error: oneLine(message) || 'operation failed' };
}

/** Whether a daemon answers on `path`: 'none' (no file), 'stale' (nobody listens) or 'live'. */
function probeSocket(path: string): Promise<'none' | 'stale' | 'live'> {
  try {
    if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return Promise.resolve('none');
    throw e;
  }
  return new Promise((resolve) => {
    const s = createConnection(path);
    const timer = setTimeout(() => { s.destroy(); resolve('live'); }, 1000);
    s.once('connect', () => { clearTimeout(timer); s.destroy(); resolve('live'); });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(e.code === 'ECONNREFUSED' || e.code === 'ENOENT' ? 'stale' : 'live');
    });
  });
}

class Connection implements ControlConnection {
  private buf = '';
  private bufBytes = 0;
  private readonly queue: string[] = [];
  private busy = false;
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private closed = false;

  constructor(readonly socket: Socket, readonly peer: PeerCred, private readonly o: Required<Omit<ControlServerOptions, 'log'>>,
    private readonly log: ReturnType<typeof logger>, private readonly onGone: () => void) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('error', () => this.teardown());
    socket.on('close', () => this.teardown());
    this.armTimer();
  }

  sendProbe(ev: ProbeEvent): boolean {
    return this.send({ event: 'probe', ...ev });
  }

  close(): void {
    this.socket.destroy();
  }

  private send(obj: unknown): boolean {
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) return false;
    this.socket.write(`${JSON.stringify(obj)}\n`);
    if (this.socket.writableLength > MAX_BACKLOG) {
      this.log('warn', `control: dropping a client (pid ${this.peer.pid}) that does not read its replies`);
      this.socket.destroy();
      return false;
    }
    return true;
  }

  /** Sends a last error line and closes. */
  private finish(reply: Reply): void {
    this.send(reply);
    this.queue.length = 0;
    this.socket.resume();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.teardown();
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.onGone();
  }

  /** The client has the request timeout to finish a line whenever none is being served. */
  private armTimer(): void {
    const waiting = !this.busy && this.queue.length === 0 && !this.unsubscribe && !this.closed;
    if (!waiting) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.buf.length > 0) this.finish({ id: 0, ok: false, code: 'ETIMEDOUT', error: 'request not finished in time' });
        else { this.socket.end(); this.teardown(); }
      }, this.o.requestTimeoutMs);
    }
  }

  private onData(d: string): void {
    if (this.closed) return;
    let start = 0;
    for (let nl = d.indexOf('\n'); nl >= 0; nl = d.indexOf('\n', start)) {
      const part = d.slice(start, nl);
      const line = this.buf + part;
      const bytes = this.bufBytes + Buffer.byteLength(part);
      this.buf = '';
      this.bufBytes = 0;
      start = nl + 1;
      if (bytes > this.o.maxRequestBytes) return this.tooBig();
      if (line.trim() !== '') this.queue.push(line);
    }
    const rest = d.slice(start);
    this.buf += rest;
    this.bufBytes += Buffer.byteLength(rest);
    if (this.bufBytes > this.o.maxRequestBytes) return this.tooBig();
    if (this.queue.length >= MAX_QUEUED_LINES) this.socket.pause();
    this.armTimer();
    void this.drain();
  }

  private tooBig(): void {
    this.finish({ id: 0, ok: false, code: 'ETOOBIG', error: `request longer than ${this.o.maxRequestBytes} bytes` });
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.armTimer();
    while (this.queue.length > 0 && !this.closed) {
      const line = this.queue.shift()!;
      let reply: Reply | null;
      try {
        reply = await this.serve(line);
      } catch (e) {
        reply = errorReply(0, e);
      }
      if (reply) {
        try {
          this.send(reply);
        } catch (e) {
          this.send(errorReply(reply.id, new Error(`cannot encode the reply: ${(e as Error).message}`)));
        }
      }
      if (this.queue.length < MAX_QUEUED_LINES && !this.closed) this.socket.resume();
    }
    this.busy = false;
    this.armTimer();
  }

  private async serve(line: string): Promise<Reply | null> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return { id: 0, ok: false, code: 'EBADREQ', error: 'bad request: not a JSON value' };
    }
    const v = validateRequest(parsed);
    if (!v.ok) return { id: v.id, ok: false, code: 'EBADREQ', error: `bad request: ${v.what}` };
    const req = v.req;
    if (PRIVILEGED_OPS.has(req.op) && !isPrivileged(this.peer, this.o.privilege)) {
      this.log('info', `Unprivileged request from uid ${this.peer.uid} pid ${this.peer.pid} for privileged command ${req.op}`);
      return { id: req.id, ok: false, code: 'EPERM', error: 'permission denied' };
    }
    if (req.op === 'probe-subscribe') {
      if (this.unsubscribe) return { id: req.id, ok: false, code: 'EALREADY', error: 'already subscribed' };
      this.send({ id: req.id, ok: true, result: null } satisfies Reply);
      this.unsubscribe = this.o.onSubscribe(this);
      if (this.closed) { this.unsubscribe(); this.unsubscribe = null; }
      return null;
    }
    try {
      const result = await this.o.handler(req, this.peer);
      return { id: req.id, ok: true, result: result ?? null };
    } catch (e) {
      return errorReply(req.id, e);
    }
  }
}

/** Creates the directory and socket and starts serving. Throws a one-line Error. */
export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const log = logger(opts.log);
  const o = {
    maxConnections: DEFAULT_MAX_CONNECTIONS, requestTimeoutMs: REQUEST_TIMEOUT_MS,
    maxRequestBytes: MAX_REQUEST_BYTES, privilege: DEFAULT_PRIVILEGE_FILES, inheritedFd: -1, ...opts,
  };
  const inherited = o.inheritedFd >= 0;
  if (!inherited) {
    const dir = dirname(opts.path);
    if (mkdirSync(dir, { recursive: true, mode: 0o755 }) !== undefined) chmodSync(dir, 0o755);
    const state = await probeSocket(opts.path);
    if (state === 'live') throw new Error(`another ipmpd is already running on ${opts.path}`);
    if (state === 'stale') unlinkSync(opts.path);
  }

  const conns = new Set<Connection>();
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: false }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (conns.size >= o.maxConnections) {
      socket.on('error', () => {});
      socket.resume();
      socket.end(`${JSON.stringify({ id: 0, ok: false, code: 'EFAILED', error: 'too many connections' })}\n`);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    let peer: PeerCred = { pid: 0, uid: -1, gid: -1 };
    try {
      peer = opts.peerCred((socket as unknown as { _handle: { fd: number } })._handle.fd);
    } catch (e) {
      log('warn', `control: cannot read peer credentials: ${oneLine((e as Error).message)}`);
    }
    const conn: Connection = new Connection(socket, peer, o, log, () => conns.delete(conn));
    conns.add(conn);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: Error) => reject(new Error(`cannot listen on ${opts.path}: ${oneLine(e.message)}`)));
    if (inherited) server.listen({ fd: o.inheritedFd }, () => resolve());
    else server.listen(opts.path, () => resolve());
  });
  server.on('error', (e) => log('warn', `control: ${oneLine(e.message)}`));
  if (!inherited) chmodSync(opts.path, 0o666);
  return {
    path: opts.path,
    server,
    connectionCount: () => conns.size,
    listeningFd: () => (server as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1,
    dropConnections: () => { for (const s of sockets) s.destroy(); },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
      try { if (lstatSync(opts.path).isSocket()) unlinkSync(opts.path); } catch { /* already gone */ }
    }),
  };
}
