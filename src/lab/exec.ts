// Running `ip`, `tc`, `nft`, `ethtool` and lab programs, always with argument arrays, never
// a shell string. Every command has a timeout; a failure becomes a LabError whose message is
// one line naming the command and its stderr.

import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** Default timeout for one configuration command (ms). */
export const DEFAULT_TIMEOUT_MS = 10_000;

export class LabError extends Error {
  override name = 'LabError';
}

export interface ExecResult {
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  timeoutMs?: number;
}

/** Collapses multi-line tool output to one line for error messages. */
export function oneLine(text: string, max = 300): string {
  const s = text.replace(/\s+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/** Runs argv[0] with argv[1..]; resolves with its output, rejects with a one-line LabError. */
export function run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  if (argv.length === 0) return Promise.reject(new LabError('run: empty command'));
  const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    execFile(argv[0], argv.slice(1), { timeout, maxBuffer: 16 << 20, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: unknown };
        let why: string;
        if (e.code === 'ENOENT') why = `${argv[0]} not found`;
        else if (e.killed) why = `timed out after ${timeout} ms`;
        else why = oneLine(stderr) || oneLine(stdout) || `exit code ${String(e.code)}`;
        reject(new LabError(`${argv.join(' ')}: ${why}`));
      });
  });
}

/** Runs a command and resolves true/false instead of throwing (for best-effort teardown). */
export async function tryRun(argv: readonly string[], opts: ExecOptions = {}): Promise<boolean> {
  try {
    await run(argv, opts);
    return true;
  } catch {
    return false;
  }
}

/** Runs argv inside network namespace `ns` (`ip netns exec`, which also remounts /sys). */
export function execIn(ns: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return run(['ip', 'netns', 'exec', ns, ...argv], opts);
}

/** Children started by spawnIn, by namespace, so teardown and process exit can end them. */
const children = new Map<ChildProcess, string>();

/**
 * Starts a long-running program (iperf3, ping) inside `ns`. `ip netns exec` execs the
 * program, so the returned child's pid is the program's. The child is killed by
 * killSpawnedIn(ns) (called by labDown) and when this process exits.
 */
export function spawnIn(ns: string, argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: 'pipe', ...options });
  children.set(child, ns);
  child.once('exit', () => children.delete(child));
  child.once('error', () => children.delete(child));
  installExitHook();
  return child;
}

/** Sends SIGKILL to every child spawned in a namespace accepted by `match`. */
export function killSpawned(match: (ns: string) => boolean): void {
  for (const [child, ns] of children) {
    if (!match(ns)) continue;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    children.delete(child);
  }
}

let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => killSpawned(() => true));
}

/** Bounded polling: resolves when `check` returns true, rejects with `what` after timeoutMs. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean,
  timeoutMs = 5_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new LabError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
