/**
 * Names the calling thread (at most 15 bytes are kept), as /proc/PID/task/TID/comm, `top -H` and
 * `ps -L` show it. A synchronous write runs on the calling thread, so /proc/thread-self is this
 * thread. Best effort: the thread stays unnamed otherwise.
 */
import { writeFileSync } from 'node:fs';

export function nameThread(name: string): void {
  try {
    writeFileSync('/proc/thread-self/comm', name);
  } catch {
    // no /proc, or a kernel without /proc/thread-self
  }
}
