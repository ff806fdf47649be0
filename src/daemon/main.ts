/**
 * ipmpd: argument parsing, logging, signals. Wiring only.
 */
import { loadConfig } from './config.js';
import { ConfigError } from './config-types.js';
import { Daemon } from './daemon.js';
import { parseListen, startMetricsServer } from './metrics.js';
import { DEFAULT_CONFIG, DEFAULT_SOCKET } from './protocol.js';
import type { Logger } from './group-runtime.js';

const USAGE = 'usage: ipmpd [-c FILE] [--mpathd FILE] [--socket PATH] [--metrics ADDR:PORT] [-d]';
const HELP = `${USAGE}
  -c FILE          group configuration (default ${DEFAULT_CONFIG})
  --mpathd FILE    daemon tunables in /etc/default/mpathd syntax (default: that file when it exists)
  --socket PATH    control socket (default ${DEFAULT_SOCKET}; IPMP_SOCKET also works)
  --metrics A:P    serve Prometheus metrics on http://A:P/metrics (off by default)
  -d               debug logging
  --help           this text
Signals: SIGHUP reloads, SIGTERM/SIGINT stop cleanly, SIGUSR1 dumps the tables.`;

interface Args {
  config: string;
  mpathd: string | null | undefined;
  socket: string;
  debug: boolean;
  metrics: string | null;
}

class UsageError extends Error {}

export function parseArgs(argv: string[]): Args | 'help' {
  const a: Args = { config: DEFAULT_CONFIG, mpathd: undefined, socket: process.env.IPMP_SOCKET || DEFAULT_SOCKET, debug: false, metrics: null };
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
      case '--metrics': a.metrics = value(); parseListen(a.metrics); break;
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
  const argsOk = args;
  let loaded;
  try {
    loaded = loadConfig({ configPath: args.config, mpathdPath: args.mpathd });
  } catch (e) {
    process.stderr.write(`ipmpd: ${(e as Error).message}\n`);
    return 1;
  }
  for (const w of loaded.warnings) log('err', w);
  const daemon = new Daemon({ config: loaded.config, socketPath: args.socket, log });
  let stopping = false;
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
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  process.on('SIGUSR1', () => log('info', JSON.stringify(daemon.dump())));
  let reloading = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading.then(async () => {
      log('info', 'SIGHUP: rereading the configuration');
      let next;
      try {
        next = loadConfig({ configPath: argsOk.config, mpathdPath: argsOk.mpathd });
      } catch (e) {
        log('err', `SIGHUP: ${(e as Error).message}; keeping the running configuration`);
        return;
      }
      for (const w of next.warnings) log('err', w);
      await daemon.reload(next.config);
    });
  });
  try {
    await daemon.start();
  } catch (e) {
    const msg = e instanceof ConfigError ? e.message : (e as Error).message;
    log('err', `ipmpd: ${msg}`);
    if (args.debug) log('debug', (e as Error).stack ?? '');
    await daemon.stop().catch(() => undefined);
    return 1;
  }
  if (args.metrics) {
    try {
      await startMetricsServer(daemon, args.metrics);
    } catch (e) {
      log('err', `ipmpd: ${(e as Error).message}`);
      await daemon.stop().catch(() => undefined);
      return 1;
    }
  }
  log('info', `ipmpd: ready (${daemon.groups.map((g) => g.name).join(', ')})`);
  notifyReady();
  return new Promise<number>(() => undefined);
}

/** sd_notify READY=1 when started by systemd with Type=notify. */
function notifyReady(): void {
  const sock = process.env.NOTIFY_SOCKET;
  if (!sock) return;
  void import('./sd-notify.js').then((m) => m.sdNotify(sock, 'READY=1')).catch(() => undefined);
}
