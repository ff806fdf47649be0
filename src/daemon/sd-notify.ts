/** sd_notify(3) over the datagram socket systemd passes in NOTIFY_SOCKET, via socat-free `systemd-notify` when present. */
import { execFile } from 'node:child_process';

export function sdNotify(_socket: string, state: string): Promise<void> {
  return new Promise((resolve) => {
    execFile('systemd-notify', [`--pid=${process.pid}`, state], { timeout: 2000 }, () => resolve());
  });
}
