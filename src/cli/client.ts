/**
 * Control-socket client: newline-delimited JSON requests with ids, one pending
 * promise per id, a timeout on every request, and probe events for subscribers.
 *
 *   const c = await connectControl(resolveSocketPath(opts.socket));
 *   const reply = await c.request({ op: 'snapshot' });
 */
import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import { DEFAULT_SOCKET } from '../daemon/protocol.js';
import type { ErrorCode, ProbeEvent, Reply, Request } from '../daemon/protocol.js';

export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Default time (ms) to wait for the daemon: libipmp's IPMP_REQTIMEOUT of 5 s. */
export const IPMP_REQTIMEOUT_MS = 5000;

export interface ControlClient {
  request(req: DistributiveOmit<Request, 'id'>): Promise<Reply>;
  /** Sends probe-subscribe; resolves once accepted, rejects with ControlReplyError if refused. */
  subscribe(onEvent: (ev: ProbeEvent) => void): Promise<void>;
  close(): void;
  /** Called once when the connection ends (err set unless close() ended it). */
  onClose(cb: (err?: Error) => void): void;
}

/** The daemon cannot be reached, or the connection was lost. */
export class ControlUnavailableError extends Error {
  override readonly name = 'ControlUnavailableError';
  constructor(message: string, readonly path: string, readonly code?: string) {
    super(message);
  }
}

/** No reply within the request timeout. */
export class ControlTimeoutError extends Error {
  override readonly name = 'ControlTimeoutError';
}

/** The daemon refused a request the client cannot go on without (e.g. probe-subscribe). */
export class ControlReplyError extends Error {
  override readonly name = 'ControlReplyError';
  constructor(message: string, readonly code: ErrorCode) {
    super(message);
  }
}

/** `--socket PATH`, else IPMP_SOCKET from the environment, else DEFAULT_SOCKET. */
export function resolveSocketPath(argvValue?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (argvValue) return argvValue;
  if (env.IPMP_SOCKET) return env.IPMP_SOCKET;
  return DEFAULT_SOCKET;
}

interface Pending {
  resolve(r: Reply): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

class Client implements ControlClient {
  private nextId = 1;
  private buf = '';
  private readonly pending = new Map<number, Pending>();
  private onEvent: ((ev: ProbeEvent) => void) | null = null;
  private closeCbs: Array<(err?: Error) => void> = [];
  private ended: Error | null | undefined;
  /** An id-0 error line from the daemon (e.g. too many connections), for the close message. */
  private lastNotice = '';

  constructor(private readonly socket: Socket, private readonly path: string, private readonly timeoutMs: number) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('error', (e: NodeJS.ErrnoException) => this.end(new ControlUnavailableError(
      `lost the connection to ipmpd on ${path}: ${e.message}`, path, e.code)));
    socket.on('close', () => this.end(new ControlUnavailableError(
      `ipmpd closed the connection${this.lastNotice ? `: ${this.lastNotice}` : ''}`, path)));
  }

  request(body: DistributiveOmit<Request, 'id'>): Promise<Reply> {
    if (this.ended !== undefined) {
      return Promise.reject(this.ended ?? new ControlUnavailableError('the connection to ipmpd is closed', this.path));
    }
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ControlTimeoutError(`no reply from ipmpd within ${this.timeoutMs} ms (${body.op})`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }

  async subscribe(onEvent: (ev: ProbeEvent) => void): Promise<void> {
    this.onEvent = onEvent;
    const reply = await this.request({ op: 'probe-subscribe' });
    if (!reply.ok) {
      this.onEvent = null;
      throw new ControlReplyError(reply.error, reply.code);
    }
  }

  close(): void {
    this.end(null);
    this.socket.destroy();
  }

  onClose(cb: (err?: Error) => void): void {
    if (this.ended !== undefined) cb(this.ended ?? undefined);
    else this.closeCbs.push(cb);
  }

  private end(err: Error | null): void {
    if (this.ended !== undefined) return;
    this.ended = err;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err ?? new ControlUnavailableError('the connection to ipmpd is closed', this.path));
    }
    this.pending.clear();
    for (const cb of this.closeCbs) cb(err ?? undefined);
    this.closeCbs = [];
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line.trim()) this.onLine(line);
    }
  }

  private onLine(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof msg !== 'object' || msg === null) return;
    if (msg.event === 'probe') {
      const { event: _e, ...ev } = msg;
      this.onEvent?.(ev as unknown as ProbeEvent);
      return;
    }
    const p = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
    if (!p) {
      if (msg.ok === false && typeof msg.error === 'string') this.lastNotice = msg.error;
      return;
    }
    this.pending.delete(msg.id as number);
    clearTimeout(p.timer);
    p.resolve(msg as unknown as Reply);
  }
}

/** Connects to the daemon. Throws ControlUnavailableError when nobody answers in time. */
export function connectControl(path: string, timeoutMs = IPMP_REQTIMEOUT_MS): Promise<ControlClient> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ControlUnavailableError(`cannot contact ipmpd on ${path}: timed out after ${timeoutMs} ms`, path, 'ETIMEDOUT'));
    }, timeoutMs);
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ControlUnavailableError(`cannot contact ipmpd on ${path}: ${e.code ?? e.message}`, path, e.code));
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(new Client(socket, path, timeoutMs));
    });
  });
}
