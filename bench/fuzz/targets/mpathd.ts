/**
 * The Solaris /etc/default/mpathd file (src/daemon/mpathd-file.ts) on mutated
 * valid files and random text, and its merge with a valid YAML file.
 *
 * Properties: parseMpathd never throws; every warning is one line; tunables
 * present are in range (FDT an integer of at least 100 ms, booleans); the
 * value found for a name is the first occurrence's (defread semantics:
 * re-parsing the file with later duplicates removed gives the same result);
 * cStrtolInt agrees with a reference reading of C strtol on the value text.
 */
import fc from 'fast-check';
import { buildConfig } from '../../../src/daemon/config.js';
import { cStrtolInt, MIN_FDT_MS, parseMpathd } from '../../../src/daemon/mpathd-file.js';
import { assertOneLine, check, Tally, type FuzzTarget } from '../harness.js';
import { anyText, decodeUtf8, mutatedText, tokenText, utf8 } from '../mutate.js';

const FILE = '/etc/default/mpathd';

const SEEDS = [
  `#
# Time taken by mpathd to detect a NIC failure in ms. The minimum time
# that can be specified is 100 ms.
#
FAILURE_DETECTION_TIME=10000
#
# Failback is enabled by default. To disable failback turn off this option
#
FAILBACK=yes
#
# By default only interfaces configured as part of multipathing groups
# are tracked. Turn off this option to track all network interfaces
# on the system
#
TRACK_INTERFACES_ONLY_WITH_GROUPS=yes
`,
  'failure_detection_time = "0x3e8"\nFailBack=\'no\'\r\nTRACK_INTERFACES_ONLY_WITH_GROUPS=nonsense\n',
  'FAILURE_DETECTION_TIME=50\nFAILURE_DETECTION_TIME=20000\nUNKNOWN=1\nnot a setting\n=5\n',
  'FAILURE_DETECTION_TIME=  -0777\nFAILBACK=YESPLEASE\n',
];

const TOKENS = ['=', '#', '"', "'", ' ', '\t', '\r', '0x', '0X', '0', '-', '+', '99999999999999999999999', '2147483648',
  '4294967296', '100', '99', 'yes', 'no', 'YES', 'No', 'FAILBACK', 'FAILURE_DETECTION_TIME', 'TRACK_INTERFACES_ONLY_WITH_GROUPS',
  '\u00a0', '\u2028', '\u0000', 'é'];

/** Reference strtol(text, NULL, 0) → long, saturated, then truncated to int. */
function refStrtol(text: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX](?=[0-9a-fA-F])[0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*)?/.exec(text)!;
  if (m[2] === undefined) return 0;
  const digits = m[2];
  let v = digits.startsWith('0x') || digits.startsWith('0X') ? BigInt(digits) : digits.startsWith('0') ? BigInt(`0o${digits.slice(1) || '0'}`) : BigInt(digits);
  if (m[1] === '-') v = -v;
  const max = (1n << 63n) - 1n;
  const min = -(1n << 63n);
  if (v > max) v = max;
  if (v < min) v = min;
  return Number(BigInt.asIntN(32, v));
}

const YAML = 'groups:\n  ipmp0:\n    interfaces: [eth0]\nFAILBACK: yes\n';

export function mpathdTarget(): FuzzTarget {
  const tally = new Tally();
  return {
    name: 'mpathd',
    about: 'Solaris mpathd file parser and its merge under the YAML file: never throws, one-line warnings, first occurrence wins, C strtol',
    input: () => fc.oneof(
      { weight: 6, arbitrary: mutatedText(SEEDS, TOKENS, 4096) },
      { weight: 2, arbitrary: utf8(tokenText([...TOKENS, 'a', 'FAILBACK=', '\n', '1', '7', 'f'], 40)) },
      { weight: 1, arbitrary: utf8(anyText(200)) },
    ),
    run(input) {
      const text = decodeUtf8(input);
      const r = parseMpathd(text, FILE);
      for (const w of r.warnings) assertOneLine('mpathd warning', w);
      const t = r.tunables;
      if (t.fdtMs !== undefined) check(Number.isInteger(t.fdtMs) && t.fdtMs >= MIN_FDT_MS, `FDT ${t.fdtMs} accepted`);
      if (t.failback !== undefined) check(typeof t.failback === 'boolean', 'FAILBACK not a boolean');
      tally.add(`tunables:${Object.keys(t).length}`);
      tally.add(r.warnings.length > 0 ? 'warnings' : 'no-warnings');

      // First occurrence wins: dropping later lines naming the same setting changes nothing.
      const seen = new Set<string>();
      const kept = text.split('\n').filter((l) => {
        const s = l.replace(/\r$/, '').trim();
        const eq = s.indexOf('=');
        if (s === '' || s.startsWith('#') || eq <= 0) return true;
        const name = s.slice(0, eq).trim().toUpperCase();
        if (seen.has(name)) return false;
        seen.add(name);
        return true;
      });
      const r2 = parseMpathd(kept.join('\n'), FILE);
      check(JSON.stringify(r2.tunables) === JSON.stringify(t), 'a later duplicate setting changed the result');

      for (const line of text.split('\n')) {
        const eq = line.indexOf('=');
        if (eq < 0) continue;
        const v = line.slice(eq + 1);
        const a = cStrtolInt(v);
        const b = refStrtol(v);
        check(a === b, () => `cStrtolInt(${JSON.stringify(v)}) = ${a}, strtol gives ${b}`);
      }

      const merged = buildConfig(YAML, '/etc/ipmp/ipmp.yaml', text, FILE);
      check(merged.config.failback === true, 'the YAML file did not win over the mpathd file');
      if (t.fdtMs !== undefined) check(merged.config.fdtMs === t.fdtMs, 'the mpathd FDT was not used');
    },
    outcomes: () => tally.toJSON(),
  };
}
