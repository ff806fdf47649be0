/** Every fuzz target, by name, in the order the runner reports them. */
import type { FuzzTarget } from '../harness.js';
import { txTarget } from './tx.js';
import { rxTarget } from './rx.js';
import { probeTarget } from './probe.js';
import { rtnetlinkTarget } from './rtnetlink.js';
import { configTarget } from './config.js';
import { mpathdTarget } from './mpathd.js';
import { ipTextTarget } from './ip-text.js';
import { controlTarget } from './control.js';

export const TARGETS: Record<string, () => FuzzTarget> = {
  'tx': txTarget,
  'rx': rxTarget,
  'probe': probeTarget,
  'rtnetlink': rtnetlinkTarget,
  'config': configTarget,
  'mpathd': mpathdTarget,
  'ip-text': ipTextTarget,
  'control': controlTarget,
};
