/**
 * ipmpd: argument parsing, logging, signals, privileges, in-place re-execution. Wiring only.
 *
 * Only light modules are loaded before the privileges are settled: a start as root
 * re-executes at once with reduced capabilities, and loading the daemon's modules twice
 * would lengthen every start (and the gap of a restart after a crash).
 */
import { DEFAULT_CONFIG, DEFAULT_SOCKET } from './protocol.js';
import { loadNative, type NativeAddon } from '../io/native.js';
import {
  capHex, checkSocketDir, chownForUser, lookupUser, planPrivileges, reduceCapabilities, switchUser, type PrivilegePlan, type TargetUser,
} from './privileges.js';
import { SdNotify } from './sd-notify.js';
import { watchLiveness } from './liveness.js';
import { checkNewImage, reexec, takeHandover, type Handover, type HandoverReason } from './upgrade.js';
import { stateFiles } from './host-isolation.js';
import type { Logger } from './group-runtime.js';

const USAGE = 'usage: ipmpd [-c FILE] [--mpathd FILE] [--socket PATH] [--metrics ADDR:PORT] [--user NAME] [--check] [-d]';
const HELP = `${USAGE}
  -c FILE          group configuration (default ${DEFAULT_CONFIG})
  --mpathd FILE    daemon tunables in /etc/default/mpathd syntax (default: that file when it exists)
  --socket PATH    control socket (default ${DEFAULT_SOCKET}; IPMP_SOCKET also works)
  --metrics A:P    serve Prometheus metrics on http://A:P/metrics (off by default; a port of 1024 or more)
  --user NAME      after set-up, run as NAME with only CAP_NET_ADMIN and CAP_NET_RAW
  --check          check the configuration and exit (0 when it is valid)
  -d               debug logging
  --help           this text
Signals: SIGHUP reloads, SIGTERM/SIGINT stop cleanly, SIGUSR1 dumps the tables,
SIGUSR2 upgrades in place (re-executes the program on disk, keeping ipmp0's traffic).`;

interface Args {
  config: string;
  mpathd: string | null | undefined;
  socket: string;
  debug: boolean;
  metrics: string | null;
  user: string | null;
  check: boolean;
}

class UsageError extends Error {}

export function parseArgs(argv: string[]): Args | 'help' {
  const a: Args = {
    config: DEFAULT_CONFIG, mpathd: undefined, socket: process.env.IPMP_SOCKET || DEFAULT_SOCKET, debug: false, metrics: null,
    user: null, check: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v === '') throw new UsageError(`option ${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '-c': case '--config': a.config = value(); break;
      case '--mpathd': a.mpathd = value(); break;
      case '--socket': a.socket = value(); break;
      case '--metrics': a.metrics = value(); break;
      case '--user': a.user = value(); break;
      case '--check': a.check = true; break;
      case '-d': case '--debug': a.debug = true; break;
      case '-h': case '--help': return 'help';
      default: throw new UsageError(`unknown option ${arg}`);
    }
  }
  return a;
}

function makeLogger(debug: boolean): Logger {
  return (level, text) => {
    if (level === 'debug' && !debug) return;
    process.stderr.write(`${text}\n`);
  };
}

const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0];

export async function main(argv: string[]): Promise<number> {
  let args: Args | 'help';
  try {
    args = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`ipmpd: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args === 'help') { process.stdout.write(`${HELP}\n`); return 0; }
  const log = makeLogger(args.debug);
  let handover: Handover | null;
  try {
    handover = takeHandover();
  } catch (e) {
    log('err', `ipmpd: ${firstLine(e)}; starting without it`);
    handover = null;
  }
  // After a handover with descriptors, a failure must leave ipmp0 for the next start.
  const adopting = handover !== null && handover.groups.length > 0;
  const fail = (text: string): number => {
    log('err', adopting ? `ipmpd: ${text}; the interfaces stay (persistent) for the next start to re-attach` : `ipmpd: ${text}`);
    return 1;
  };
  let native!: NativeAddon;
  let user: TargetUser | null = null;
  let plan: PrivilegePlan = { kind: 'keep' };
  if (!args.check) {
    try {
      native = loadNative();
      if (args.user) user = lookupUser(args.user);
    } catch (e) {
      return fail(firstLine(e));
    }
    plan = planPrivileges(native.capState(), process.geteuid?.() ?? 0, user);
    if (plan.kind === 'missing') return fail(plan.error);
    if (plan.kind === 'keep' && plan.warning) log('err', `ipmpd: ${plan.warning}`);
    if (plan.kind === 'drop-now' && handover !== null) {
      log('err', `ipmpd: capabilities beyond CAP_NET_ADMIN and CAP_NET_RAW remain after re-execution (CapEff ${capHex(native.capState().effective)})`);
    }
    if (plan.kind === 'drop-now' && handover === null) {
      // Before any set-up: the new image starts every thread from the reduced sets.
      try {
        reduceCapabilities(native, (process.geteuid?.() ?? 0) !== 0);
        reexec(native, { v: 1, reason: 'privileges', control: -1, groups: [] });
      } catch (e) {
        return fail(`cannot drop capabilities: ${firstLine(e)}`);
      }
    }
  }
  const { loadConfig } = await import('./config.js');
  // prom-client is loaded only when metrics are asked for.
  const metrics = args.metrics ? await import('./metrics.js') : null;
  if (metrics && args.metrics) {
    try {
      metrics.parseListen(args.metrics);
    } catch (e) {
      process.stderr.write(`ipmpd: ${(e as Error).message}\n${USAGE}\n`);
      return 2;
    }
  }
  let loaded;
  try {
    loaded = loadConfig({ configPath: args.config, mpathdPath: args.mpathd });
  } catch (e) {
    return fail(firstLine(e));
  }
  for (const w of loaded.warnings) log('err', w);
  if (args.check) {
    process.stdout.write(`ipmpd: ${args.config}: configuration OK\n`);
    return 0;
  }
  try {
    checkSocketDir(args.socket);
  } catch (e) {
    return fail(firstLine(e));
  }
  const { Daemon } = await import('./daemon.js');
  const configFile = { path: args.config, text: loaded.text ?? null };
  const daemon = new Daemon({ config: loaded.config, socketPath: args.socket, log, handover, configFile });
  const notify = new SdNotify(native);
  let stopping = false;
  /** Between suspend and execve a stop must wait: the descriptors belong to the handover. */
  let handingOver = false;
  let stopRequested = false;
  const stop = async (code: number): Promise<never> => {
    if (stopping) process.exit(code);
    stopping = true;
    try {
      await daemon.stop();
    } catch (e) {
      log('err', `stop: ${(e as Error).message}`);
      process.exit(1);
    }
    process.exit(code);
  };
  const onStopSignal = (): void => {
    if (handingOver) stopRequested = true;
    else void stop(0);
  };
  process.on('SIGTERM', onStopSignal);
  process.on('SIGINT', onStopSignal);
  process.on('SIGUSR1', () => log('info', JSON.stringify(daemon.dump())));
  // Reloads and upgrades run one after the other.
  let serial = Promise.resolve();
  const argsOk = args;
  process.on('SIGHUP', () => {
    serial = serial.then(async () => {
      if (stopping) return;
      log('info', 'SIGHUP: rereading the configuration');
      let next;
      try {
        next = loadConfig({ configPath: argsOk.config, mpathdPath: argsOk.mpathd });
      } catch (e) {
        log('err', `SIGHUP: ${(e as Error).message}; keeping the running configuration`);
        return;
      }
      for (const w of next.warnings) log('err', w);
      await daemon.reload(next.config, next.text);
    });
  });
  try {
    await daemon.start();
  } catch (e) {
    const msg = (e as Error).message;
    if (args.debug) log('debug', (e as Error).stack ?? '');
    // A failed adoption ends like a crash: the TUN stays persistent for the next start.
    if (adopting) return fail(firstLine(msg));
    log('err', `ipmpd: ${msg}`);
    await daemon.stop().catch(() => undefined);
    return 1;
  }
  if (metrics && args.metrics) {
    try {
      await metrics.startMetricsServer(daemon, args.metrics);
    } catch (e) {
      log('err', `ipmpd: ${(e as Error).message}`);
      await daemon.stop().catch(() => undefined);
      return 1;
    }
  }
  /**
   * Suspends the daemon and re-executes. Returns only when execve failed (the daemon runs
   * again) or a stop was asked for meanwhile (the daemon stops cleanly instead).
   */
  const handOver = async (reason: HandoverReason, beforeExec: () => void): Promise<void> => {
    handingOver = true;
    const h = await daemon.suspend(reason);
    if (!stopRequested) {
      try {
        beforeExec();
        reexec(native, h);
      } catch (e) {
        log('err', `ipmpd: re-execution failed: ${firstLine(e)}; the running image continues`);
        await daemon.resume();
      }
    }
    handingOver = false;
    if (stopRequested) await stop(0);
  };
  if (plan.kind === 'switch-user') {
    const u = plan.user;
    log('info', `ipmpd: set up; continuing as user ${u.name} with CAP_NET_ADMIN and CAP_NET_RAW`);
    try {
      chownForUser(daemon.groups.flatMap((g) => stateFiles(g.isolation.stateDir, g.name)), u);
      await handOver('privileges', () => switchUser(native, u));
    } catch (e) {
      log('err', `ipmpd: --user ${u.name}: ${firstLine(e)}`);
    }
    await daemon.stop().catch(() => undefined);
    return 1;
  }
  process.on('SIGUSR2', () => {
    serial = serial.then(async () => {
      if (stopping) return;
      log('info', `SIGUSR2: upgrading in place: checking ${process.argv[1] ?? 'the program'} and the configuration`);
      const problem = await checkNewImage();
      if (stopping) return;
      if (problem !== null) {
        log('err', `SIGUSR2: upgrade refused: ${problem}; the running image continues`);
        return;
      }
      log('info', `SIGUSR2: re-executing in place (pid ${process.pid}), handing over ${daemon.groups.map((g) => g.name).join(', ')}`);
      notify.reloading('upgrading in place');
      await handOver('upgrade', () => undefined);
      notify.ready('the upgrade failed; the previous image runs');
    });
  });
  const caps = native.capState();
  const how = handover?.reason === 'upgrade' ? 'upgraded in place, ' : '';
  // Watched from before "ready": every stall after it is seen.
  watchLiveness({ log: (t) => log('err', t), ping: () => notify.send('WATCHDOG=1'), watchdogMs: notify.watchdogIntervalMs() });
  log('info', `ipmpd: ready (${daemon.groups.map((g) => g.name).join(', ')}; ${how}pid ${process.pid}, uid ${process.geteuid?.() ?? 0}, CapEff ${capHex(caps.effective)})`);
  notify.ready(`forwarding on ${daemon.groups.map((g) => g.name).join(', ')}`);
  return new Promise<number>(() => undefined);
}
