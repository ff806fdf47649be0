// `ipmp lab demo`: options and the ipmpd configuration it writes.

import { LabError } from './exec.js';
import type { LabInfo } from './topology.js';

export const DEMO_PREFIX = 'ipmpdemo';
export const DATA_ADDRESSES = ['198.18.0.10/24', '198.18.0.11/24'];

export const USAGE = `usage: ipmp lab demo [--nics N] [--keep] [--prefix P]
Builds a lab (namespaces P-host, P-sw, P-peer), starts ipmpd with group ipmp0 and data
addresses ${DATA_ADDRESSES.join(', ')}, sends iperf3 and ping traffic through it, prints
per-NIC throughput every second, fails eth0 (link down) and repairs it, then removes
everything (also on error and Ctrl-C). Needs root; takes about 30 seconds.
  --nics N     host NICs in the group, 2..8 (default 2)
  --keep       leave the lab and ipmpd running afterwards, and print how to remove them
  --prefix P   lab name (default ${DEMO_PREFIX}); a lab with this name is replaced`;

export interface DemoOptions {
  nics: number;
  keep: boolean;
  prefix: string;
}

export function parseDemoArgs(argv: readonly string[]): DemoOptions | 'help' {
  const o: DemoOptions = { nics: 2, keep: false, prefix: DEMO_PREFIX };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const name = eq < 0 ? a : a.slice(0, eq);
    const value = (): string => {
      const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || v === '') throw new LabError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '-h': case '--help': return 'help';
      case '--keep': o.keep = true; break;
      case '--nics': {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) < 2 || Number(v) > 8) throw new LabError(`--nics expects 2..8, got '${v}'`);
        o.nics = Number(v);
        break;
      }
      case '--prefix': {
        const v = value();
        if (!/^[a-z][a-z0-9]{0,11}$/.test(v)) throw new LabError(`--prefix expects [a-z][a-z0-9]{0,11}, got '${v}'`);
        o.prefix = v;
        break;
      }
      default: throw new LabError(`unknown argument '${a}'`);
    }
  }
  return o;
}

/**
 * The group file: every lab NIC in ipmp0; optionally with test addresses, a 2 s FDT and
 * the peer's addresses as probe targets (the host namespace has no default route, and the
 * peer ignores multicast echo requests, so discovery would find no targets).
 */
export function buildConfig(info: LabInfo, withTestAddresses: boolean): string {
  const lines: string[] = [];
  if (withTestAddresses) lines.push('FAILURE_DETECTION_TIME: 2000');
  lines.push('groups:', '  ipmp0:', '    interfaces:');
  for (const n of info.nics) {
    const props = [
      ...(withTestAddresses ? [`test-address: 198.18.0.${100 + n.index}/24`] : []),
      ...(n.standby ? ['standby: true'] : []),
    ];
    lines.push(`      ${n.name}: {${props.length ? ` ${props.join(', ')} ` : ''}}`);
  }
  lines.push(`    addresses: [${DATA_ADDRESSES.join(', ')}]`);
  if (withTestAddresses) lines.push(`    targets: [${info.targets.join(', ')}]`);
  return `${lines.join('\n')}\n`;
}
