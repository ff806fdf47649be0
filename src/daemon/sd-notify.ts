/**
 * sd_notify(3): readiness, status and watchdog pings as datagrams to the socket systemd
 * names in NOTIFY_SOCKET, sent by the daemon's own PID (no helper process), so the unit
 * needs no NotifyAccess=all. The variables stay in the environment: the image after an
 * in-place re-execution (same PID) reports through them again.
 */
import type { NativeAddon } from '../io/native.js';

export class SdNotify {
  private readonly socket: string | null;

  constructor(private readonly native: Pick<NativeAddon, 'sdNotify'>, private readonly env: NodeJS.ProcessEnv = process.env) {
    this.socket = env.NOTIFY_SOCKET || null;
  }

  get enabled(): boolean {
    return this.socket !== null;
  }

  /** Sends newline-separated assignments; false when not under systemd or the send failed. */
  send(state: string): boolean {
    if (this.socket === null) return false;
    return this.native.sdNotify(this.socket, state) === 0;
  }

  ready(status: string): boolean {
    return this.send(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`);
  }

  /** Before an in-place re-execution: the service is reloading until the new image is ready. */
  reloading(status: string): boolean {
    return this.send(`RELOADING=1\nSTATUS=${status}`);
  }

  /**
   * Half of WatchdogSec in ms when systemd watches this process (WATCHDOG_USEC set and
   * WATCHDOG_PID absent or ours), else null.
   */
  watchdogIntervalMs(): number | null {
    const usec = Number(this.env.WATCHDOG_USEC);
    if (!this.socket || !Number.isFinite(usec) || usec <= 0) return null;
    const pid = this.env.WATCHDOG_PID;
    if (pid !== undefined && pid !== '' && Number(pid) !== process.pid) return null;
    return Math.max(1, Math.floor(usec / 2000));
  }
}
