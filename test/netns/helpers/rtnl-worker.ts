/**
 * Worker-thread half of rtnl-child: reads a link with Rtnetlink, listens with
 * RtnetlinkEvents on the worker's own event loop, posts {ready} and then the
 * first link event showing MTU 1280 for the given ifindex.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Rtnetlink, RtnetlinkEvents } from '../../../src/io/rtnetlink.js';

const { ifindex } = workerData as { ifindex: number };
const rt = new Rtnetlink().open();
const name = rt.getLink(ifindex)?.name ?? null;
const links = rt.getLinks().length;
rt.close();

const ev = new RtnetlinkEvents({
  onLink: (l) => {
    if (l.ifindex === ifindex && l.mtu === 1280) {
      ev.close();
      parentPort!.postMessage({ result: { name, links, eventMtu: l.mtu } });
    }
  },
}).start();
parentPort!.postMessage({ ready: true });
