/**
 * Runs inside a throw-away network namespace (ip netns exec): builds a veth
 * pair with `ip`, then drives it through Rtnetlink / RtnetlinkEvents and
 * prints one JSON object with what it observed on stdout.
 *
 * Usage: node rtnl-child.js
 */
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { Rtnetlink, RtnetlinkEvents, RtnetlinkError, type LinkInfo, type AddrInfo, type RouteInfo } from '../../../src/io/rtnetlink.js';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, f: () => T | undefined | null | false, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function errText(f: () => void): { message: string; code: string; errno: number } | null {
  try {
    f();
    return null;
  } catch (e) {
    if (e instanceof RtnetlinkError) return { message: e.message, code: e.code, errno: e.errno };
    throw e;
  }
}

async function main(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const links: Array<{ link: LinkInfo; deleted: boolean }> = [];
  const addrs: Array<{ addr: AddrInfo; deleted: boolean }> = [];
  const routes: Array<{ route: RouteInfo; deleted: boolean }> = [];
  let overruns = 0;
  const errors: string[] = [];
  const ev = new RtnetlinkEvents({
    onLink: (link, deleted) => links.push({ link, deleted }),
    onAddr: (addr, deleted) => addrs.push({ addr, deleted }),
    onRoute: (route, deleted) => routes.push({ route, deleted }),
    onOverrun: () => { overruns++; },
    onError: (e) => errors.push(e.message),
  }).start();

  const rt = new Rtnetlink().open();
  try {
    ip('link', 'add', 'rt0', 'type', 'veth', 'peer', 'name', 'rt1');
    const l0 = rt.getLink('rt0');
    if (!l0) throw new Error('rt0 not found by name');
    const idx = l0.ifindex;
    out.initial = { ifindex: idx, name: l0.name, kind: l0.kind, up: l0.up, mtu: l0.mtu, macLen: l0.mac?.length ?? 0 };
    out.byIndexName = rt.getLink(idx)?.name ?? null;
    out.missing = rt.getLink('nosuchdev0');
    out.missingIndex = rt.getLink(999999);
    out.dumpNames = rt.getLinks().map((l) => l.name).sort();
    out.linkCreatedEvent = (await waitFor('RTM_NEWLINK for rt0', () =>
      links.find((e) => e.link.name === 'rt0' && !e.deleted))).link.ifindex === idx;

    // admin up and MTU through rtnetlink
    rt.setLinkUp(idx, true);
    rt.setMtu(idx, 1400);
    const l1 = rt.getLink(idx)!;
    out.afterUp = { up: l1.up, mtu: l1.mtu };
    out.mtuEvent = (await waitFor('mtu event', () => links.find((e) => e.link.ifindex === idx && e.link.mtu === 1400))) !== undefined;
    out.badMtu = errText(() => rt.setMtu(idx, 10));

    // carrier: peer down → no carrier on rt0; peer up → carrier
    ip('link', 'set', 'rt1', 'up');
    await waitFor('carrier up event', () => links.find((e) => e.link.ifindex === idx && e.link.carrier === true && e.link.lowerUp));
    const mark = links.length;
    ip('link', 'set', 'rt1', 'down');
    const down = await waitFor('carrier down event', () =>
      links.slice(mark).find((e) => e.link.ifindex === idx && e.link.carrier === false));
    out.carrierDownEvent = { carrier: down.link.carrier, lowerUp: down.link.lowerUp, running: down.link.running, operstate: down.link.operstate };
    const mark2 = links.length;
    ip('link', 'set', 'rt1', 'up');
    const up = await waitFor('carrier up event (again)', () =>
      links.slice(mark2).find((e) => e.link.ifindex === idx && e.link.carrier === true));
    out.carrierUpEvent = { carrier: up.link.carrier, lowerUp: up.link.lowerUp, running: up.link.running };
    const l2 = await waitFor('operstate up', () => { const l = rt.getLink(idx); return l && l.operstate === 'up' ? l : null; });
    out.linkAfterCarrier = { carrier: l2.carrier, lowerUp: l2.lowerUp, running: l2.running, operstate: l2.operstate };

    // addresses
    rt.addAddr(idx, 4, '198.18.0.2', 24, { broadcast: true });
    rt.addAddr(idx, 6, '2001:db8::2', 64, { nodad: true });
    rt.addAddr(idx, 6, '2001:db8:1::2', 64, { nodad: true, noprefixroute: true });
    const v4 = rt.getAddrs(4).filter((a) => a.ifindex === idx);
    const v6 = rt.getAddrs(6).filter((a) => a.ifindex === idx);
    const all = rt.getAddrs().filter((a) => a.ifindex === idx);
    out.addrs4 = v4.map((a) => ({ address: a.address, prefixlen: a.prefixlen, broadcast: a.broadcast ?? null }));
    out.addrs6 = v6.map((a) => ({ address: a.address, prefixlen: a.prefixlen, nodad: (a.flags & 0x02) !== 0, noprefixroute: (a.flags & 0x200) !== 0 }));
    out.addrsAllCount = all.length;
    out.addrDup = errText(() => rt.addAddr(idx, 4, '198.18.0.2', 24));
    out.addrReplace = errText(() => rt.addAddr(idx, 4, '198.18.0.2', 24, { replace: true }));
    out.addrEvent4 = (await waitFor('v4 addr event', () => addrs.find((e) => !e.deleted && e.addr.address === '198.18.0.2'))).addr.prefixlen;
    out.addrEvent6 = (await waitFor('v6 addr event', () => addrs.find((e) => !e.deleted && e.addr.address === '2001:db8::2'))).addr.prefixlen;

    // routes: a gateway route added with ip, seen by dump and by event
    ip('route', 'add', '198.19.1.0/24', 'via', '198.18.0.1');
    ip('-6', 'route', 'add', '2001:db8:ff::/48', 'via', '2001:db8::1');
    const r4 = rt.getRoutes(4);
    const via = r4.find((r) => r.dst === '198.19.1.0' && r.dstLen === 24);
    out.viaRoute = via ? { gateway: via.gateway, oif: via.oif === idx, table: via.table, type: via.type } : null;
    out.connected4 = r4.some((r) => r.dst === '198.18.0.0' && r.dstLen === 24 && r.oif === idx && r.gateway === null && r.table === 254);
    out.localTable4 = r4.some((r) => r.table === 255 && r.type === 2 && r.dst === '198.18.0.2');
    const r6 = rt.getRoutes(6);
    const via6 = r6.find((r) => r.dst === '2001:db8:ff::' && r.dstLen === 48);
    out.viaRoute6 = via6 ? { gateway: via6.gateway, oif: via6.oif === idx, table: via6.table } : null;
    out.noPrefixRoute6 = !r6.some((r) => r.dst === '2001:db8:1::' && r.dstLen === 64);
    out.routeEvent = (await waitFor('route event', () =>
      routes.find((e) => !e.deleted && e.route.dst === '198.19.1.0'))).route.gateway;
    ip('route', 'del', '198.19.1.0/24');
    out.routeDelEvent = (await waitFor('route delete event', () =>
      routes.find((e) => e.deleted && e.route.dst === '198.19.1.0'))).route.dstLen;

    // address removal
    rt.delAddr(idx, 4, '198.18.0.2', 24);
    rt.delAddr(idx, 6, '2001:db8::2', 64);
    out.addrsAfterDel = rt.getAddrs().filter((a) => a.ifindex === idx && !a.address.startsWith('fe80:')).map((a) => a.address);
    out.delMissing = errText(() => rt.delAddr(idx, 4, '198.18.0.2', 24));
    out.delMissingTolerated = errText(() => rt.delAddr(idx, 4, '198.18.0.2', 24, { ignoreMissing: true }));
    out.addrDelEvent = (await waitFor('addr delete event', () =>
      addrs.find((e) => e.deleted && e.addr.address === '198.18.0.2'))) !== undefined;

    // admin down
    rt.setLinkUp(idx, false);
    out.afterDown = rt.getLink(idx)!.up;

    // the same classes inside a worker thread
    out.worker = await runWorker(idx);

    // deletion event
    ip('link', 'del', 'rt0');
    out.linkDelEvent = (await waitFor('RTM_DELLINK', () => links.find((e) => e.deleted && e.link.ifindex === idx))) !== undefined;
  } finally {
    rt.close();
    ev.close();
  }
  out.overruns = overruns;
  out.eventErrors = errors;
  return out;
}

async function runWorker(idx: number): Promise<unknown> {
  const here = dirname(fileURLToPath(import.meta.url));
  const w = new Worker(join(here, 'rtnl-worker.js'), { workerData: { ifindex: idx } });
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('worker timed out')), 5000);
      w.on('message', (m: { ready?: boolean; result?: unknown }) => {
        if (m.ready) {
          ip('link', 'set', 'rt0', 'mtu', '1280');
          return;
        }
        clearTimeout(timer);
        resolve(m.result);
      });
      w.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
  } finally {
    await w.terminate();
  }
}

main().then(
  (out) => { process.stdout.write(`${JSON.stringify(out)}\n`); process.exit(0); },
  (e: unknown) => {
    process.stdout.write(`${JSON.stringify({ error: e instanceof Error ? e.stack ?? e.message : String(e) })}\n`);
    process.exit(1);
  },
);
