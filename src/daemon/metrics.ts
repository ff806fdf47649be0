/**
 * Prometheus metrics (`ipmpd --metrics ADDR:PORT`), read from the daemon's
 * snapshot and the forwarding workers' counters at scrape time.
 */
import { createServer, type Server } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { DROP_REASONS, X_ARP_REPLIES, X_ARP_REQUESTS, X_DEFENCES, X_REQUESTS_LIMITED } from '../tables/counters.js';
import type { Daemon } from './daemon.js';
import type { WorkerStatus } from './protocol.js';

const IF_STATES = ['ok', 'failed', 'offline', 'unknown'] as const;
const GROUP_STATES = ['ok', 'degraded', 'failed'] as const;

export function parseListen(spec: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]*):(\d{1,5})$/.exec(spec);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`--metrics: expected ADDR:PORT, got "${spec}"`);
  return { host: m[1].replace(/^\[|\]$/g, '') || '127.0.0.1', port };
}

export function buildRegistry(daemon: Daemon): Registry {
  const reg = new Registry();
  collectDefaultMetrics({ register: reg, prefix: 'ipmpd_' });
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const g = (name: string, help: string, labelNames: string[], collect: (this: Gauge) => void) =>
    new Gauge({ name, help, labelNames, registers: [reg], collect });

  g('ipmp_group_state', 'Group state (1 for the current state)', ['group', 'state'], function () {
    this.reset();
    for (const grp of daemon.snapshot().groups) {
      for (const s of GROUP_STATES) this.set({ group: grp.ifname, state: s }, grp.state === s ? 1 : 0);
    }
  });
  g('ipmp_interface_state', 'Interface state (1 for the current state)', ['interface', 'group', 'state'], function () {
    this.reset();
    for (const i of daemon.snapshot().interfaces) {
      for (const s of IF_STATES) this.set({ interface: i.name, group: i.group, state: s }, i.state === s ? 1 : 0);
    }
  });
  g('ipmp_interface_active', 'Interface carries data traffic', ['interface'], function () {
    this.reset();
    for (const i of daemon.snapshot().interfaces) this.set({ interface: i.name }, i.active ? 1 : 0);
  });
  g('ipmp_interface_link_up', 'Link state (1 up, 0 down or unknown)', ['interface'], function () {
    this.reset();
    for (const i of daemon.snapshot().interfaces) this.set({ interface: i.name }, i.link === 'up' ? 1 : 0);
  });
  g('ipmp_interface_probe_ok', 'Probe state (1 ok; 0 failed, unknown or disabled)', ['interface', 'probe'], function () {
    this.reset();
    for (const i of daemon.snapshot().interfaces) this.set({ interface: i.name, probe: i.probe }, i.probe === 'ok' ? 1 : 0);
  });
  const perNic = (name: string, help: string, pick: (rt: (typeof daemon.groups)[number], slot: number) => number) =>
    g(name, help, ['interface'], function () {
      this.reset();
      for (const rt of daemon.groups) for (const n of rt.nics.list) this.set({ interface: n.name }, pick(rt, n.slot));
    });
  perNic('ipmp_interface_out_packets_total', 'Packets sent on the NIC by the forwarding path', (rt, s) => rt.forwarding?.txCounters.nicPkts(s) ?? 0);
  perNic('ipmp_interface_out_bytes_total', 'IP bytes sent on the NIC by the forwarding path', (rt, s) => rt.forwarding?.txCounters.nicBytes(s) ?? 0);
  perNic('ipmp_interface_in_packets_total', 'Packets received on the NIC and delivered to the IPMP interface', (rt, s) => rt.forwarding?.rxCounters.nicPkts(s) ?? 0);
  perNic('ipmp_interface_in_bytes_total', 'IP bytes received on the NIC and delivered', (rt, s) => rt.forwarding?.rxCounters.nicBytes(s) ?? 0);
  g('ipmp_forwarding_drops_total', 'Packets dropped by the forwarding path, by direction and reason', ['group', 'direction', 'reason'], function () {
    this.reset();
    for (const rt of daemon.groups) {
      const fw = rt.forwarding;
      if (!fw) continue;
      DROP_REASONS.forEach((r, i) => {
        this.set({ group: rt.name, direction: 'out', reason: r }, fw.txCounters.drops(i));
        this.set({ group: rt.name, direction: 'in', reason: r }, fw.rxCounters.drops(i));
      });
    }
  });
  const perGroup = (name: string, help: string, pick: (rt: (typeof daemon.groups)[number]) => number) =>
    g(name, help, ['group'], function () {
      this.reset();
      for (const rt of daemon.groups) this.set({ group: rt.name }, pick(rt));
    });
  perGroup('ipmp_arp_nd_replies_total', 'ARP replies and solicited NAs sent for data addresses',
    (rt) => rt.forwarding?.rxCounters.extraValue(X_ARP_REPLIES) ?? 0);
  perGroup('ipmp_neighbour_requests_total', 'ARP requests and neighbour solicitations sent to resolve next hops',
    (rt) => rt.forwarding?.txCounters.extraValue(X_ARP_REQUESTS) ?? 0);
  perGroup('ipmp_neighbour_requests_limited_total', 'ARP requests and neighbour solicitations withheld over the overall request budget',
    (rt) => rt.forwarding?.txCounters.extraValue(X_REQUESTS_LIMITED) ?? 0);
  perGroup('ipmp_conflict_defences_total', 'Gratuitous ARPs and unsolicited NAs sent to defend an address a foreign MAC claimed',
    (rt) => rt.forwarding?.rxCounters.extraValue(X_DEFENCES) ?? 0);
  perGroup('ipmp_address_conflicts_total', 'Address conflicts logged (a foreign MAC claiming a data or test address)',
    (rt) => rt.forwarding?.conflictStats.reported ?? 0);
  perGroup('ipmp_forwarding_up', 'Forwarding workers running (1), or restarting or failing repeatedly (0)',
    (rt) => (rt.forwarding?.status().state === 'up' ? 1 : 0));
  perGroup('ipmp_forwarding_worker_restarts_total', 'Forwarding worker failures, each followed by a restart',
    (rt) => rt.forwarding?.status().restarts ?? 0);
  const perProbingGroup = (name: string, help: string, pick: (st: WorkerStatus) => number) =>
    g(name, help, ['group'], function () {
      this.reset();
      for (const rt of daemon.groups) {
        const st = rt.probing.workerStatus();
        if (st) this.set({ group: rt.name }, pick(st));
      }
    });
  perProbingGroup('ipmp_probing_up', 'Probe worker running (1), or restarting or failing repeatedly (0); only groups that probe',
    (st) => (st.state === 'up' ? 1 : 0));
  perProbingGroup('ipmp_probe_worker_restarts_total', 'Probe worker failures, each followed by a restart; only groups that probe',
    (st) => st.restarts);
  g('ipmp_announcements_total', 'Gratuitous ARPs sent for address moves', ['group'], function () {
    this.reset();
    for (const rt of daemon.groups) this.set({ group: rt.name }, rt.announcer.sent);
  });
  g('ipmp_rebinds_total', 'Data-address moves between NICs', ['group'], function () {
    this.reset();
    for (const rt of daemon.groups) this.set({ group: rt.name }, rt.stats.rebinds);
  });
  g('ipmp_failovers_total', 'Interface failures acted on', ['group'], function () {
    this.reset();
    for (const rt of daemon.groups) this.set({ group: rt.name }, rt.stats.failovers);
  });
  g('ipmpd_event_loop_lag_seconds', 'Event-loop delay of the control thread (p99 since start)', [], function () {
    this.set(lag.percentile(99) / 1e9);
  });
  return reg;
}

export function startMetricsServer(daemon: Daemon, spec: string): Promise<Server> {
  const { host, port } = parseListen(spec);
  const reg = buildRegistry(daemon);
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') { res.writeHead(404).end('not found\n'); return; }
    reg.metrics().then(
      (text) => res.writeHead(200, { 'content-type': reg.contentType }).end(text),
      (e: Error) => res.writeHead(500).end(`${e.message}\n`),
    );
  });
  server.requestTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`--metrics ${spec}: ${e.message}`)));
    server.listen(port, host, () => resolve(server));
  });
}
