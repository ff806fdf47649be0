/**
 * IP address text parsers: parseIpv4 (src/wire/ipv4.ts), parseIpv6 and
 * ipv6ToString (src/wire/ipv6-text.ts), the codec's parseIPv4/parseIPv6, the
 * configuration's canonicalAddress/parsePrefix and parseMac, on mutated valid
 * addresses and random text.
 *
 * Properties: the throwing parsers throw only their declared "invalid ...
 * address: <text>" Error with a one-line message, the others return null or
 * a "expected ..." result; accepted text agrees with node:net's isIPv4/isIPv6
 * (IPv4 strict dotted quad; IPv6 without zone); parse → format → parse is the
 * identity, and the formatted IPv6 text is what node's URL canonicaliser
 * gives (RFC 5952).
 */
import fc from 'fast-check';
import { isIPv4, isIPv6 } from 'node:net';
import { canonicalAddress, parsePrefix } from '../../../src/daemon/config-addr.js';
import { parseIPv4 as codecV4, parseIPv6 as codecV6 } from '../../../src/io/rtnetlink-codec.js';
import { parseMac, macToString } from '../../../src/wire/ethernet.js';
import { ipv4ToString, parseIpv4 } from '../../../src/wire/ipv4.js';
import { ipv6ToString, parseIpv6 } from '../../../src/wire/ipv6-text.js';
import { assertOneLine, check, Tally, type FuzzTarget } from '../harness.js';
import { anyText, decodeUtf8, mutatedText, tokenText, utf8 } from '../mutate.js';

const SEEDS = ['198.18.0.10', '0.0.0.0', '255.255.255.255', '2001:db8::10', '::', '::1', 'fe80::1', '::ffff:198.18.0.1',
  '2001:db8:0:0:1:0:0:1', '1:2:3:4:5:6:7:8', '1::', '::2:3:4:5:6:7:8', '64:ff9b::198.18.0.1', 'FE80::ABCD:0:0:1',
  '198.18.0.10/24', '2001:db8::/64', '02:00:00:00:00:0a', '52-54-00-AB-cd-EF', ' 198.18.0.1', '2001:db8::1 '];
const TOKENS = [':', '::', '.', '/', '0', '00', '0000', '00000', 'ffff', 'FFFF', 'g', '1', '255', '256', '999', '-', ' ', '%eth0',
  '[', ']', '\n', '\t', '1.2.3.4', 'x', '٣', '０'];

function threwDeclared(f: () => unknown, prefix: string): boolean {
  try {
    f();
    return false;
  } catch (e) {
    if (!(e instanceof Error) || e.constructor !== Error) throw e;
    assertOneLine(prefix, e.message);
    check(e.message.startsWith(prefix), () => `unexpected error text: ${e.message}`);
    return true;
  }
}

export function ipTextTarget(): FuzzTarget {
  const tally = new Tally();
  return {
    name: 'ip-text',
    about: 'IPv4/IPv6/prefix/MAC text parsers: declared one-line errors, agreement with node:net, parse/format round trips (RFC 5952)',
    input: () => fc.oneof(
      { weight: 6, arbitrary: mutatedText(SEEDS, TOKENS, 128) },
      { weight: 2, arbitrary: utf8(tokenText([...TOKENS, 'a', 'b', 'f', '2', '3'], 24)) },
      { weight: 1, arbitrary: utf8(anyText(48)) },
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => new TextEncoder().encode(ipv6ToString(b))) },
    ),
    run(input) {
      const s = decodeUtf8(input);

      let v4 = -1;
      const bad4 = threwDeclared(() => { v4 = parseIpv4(s); }, 'invalid IPv4 address: ');
      check(bad4 === !isIPv4(s), () => `parseIpv4 ${bad4 ? 'rejects' : 'accepts'} ${JSON.stringify(s)}, node:net disagrees`);
      if (!bad4) {
        check(Number.isInteger(v4) && v4 >= 0 && v4 <= 0xffffffff, `parseIpv4 gave ${v4}`);
        check(parseIpv4(ipv4ToString(v4)) === v4 && ipv4ToString(v4) === s, `IPv4 round trip of ${JSON.stringify(s)}`);
        tally.add('ipv4');
      }
      check((codecV4(s) === null) === bad4, 'the codec and the wire IPv4 parsers disagree');

      let v6: Uint8Array | null = null;
      const bad6 = threwDeclared(() => { v6 = parseIpv6(s); }, 'invalid IPv6 address: ');
      const trimmed = s.trim();
      const node6 = isIPv6(trimmed) && !trimmed.includes('%');
      check(bad6 === !node6, () => `parseIpv6 ${bad6 ? 'rejects' : 'accepts'} ${JSON.stringify(s)}, node:net disagrees`);
      if (v6 !== null) {
        const b = v6 as Uint8Array;
        check(b.length === 16, 'parseIpv6 result is not 16 bytes');
        const text = ipv6ToString(b);
        const again = parseIpv6(text);
        check(again.every((x, i) => x === b[i]), `IPv6 round trip of ${JSON.stringify(s)} via ${text}`);
        const url = new URL(`http://[${trimmed}]/`).hostname.slice(1, -1);
        check(text === url || /^::ffff:/.test(text), () => `ipv6ToString gives ${text}, RFC 5952 text is ${url}`);
        tally.add('ipv6');
      }
      check((codecV6(s) === null) === (bad6 || s !== trimmed), 'the codec and the wire IPv6 parsers disagree');

      const c = canonicalAddress(s);
      if (c !== null) {
        check(c.family === 4 ? !bad4 : !bad6, `canonicalAddress accepts ${JSON.stringify(s)}, the wire parser does not`);
        check(JSON.stringify(canonicalAddress(c.address)) === JSON.stringify(c), 'canonicalAddress is not idempotent');
      }
      const p = parsePrefix(s);
      if (p.ok) {
        const again = parsePrefix(`${p.value.address}/${p.value.prefixlen}`);
        check(again.ok && again.value.address === p.value.address && again.value.prefixlen === p.value.prefixlen,
          `parsePrefix round trip of ${JSON.stringify(s)}`);
        tally.add('prefix');
      } else {
        assertOneLine('parsePrefix expected', p.expected);
      }

      let mac: Uint8Array | null = null;
      if (!threwDeclared(() => { mac = parseMac(s); }, 'invalid MAC address: ')) {
        const m = mac as unknown as Uint8Array;
        check(parseMac(macToString(m)).every((x, i) => x === m[i]), 'MAC round trip');
        tally.add('mac');
      }
    },
    outcomes: () => tally.toJSON(),
  };
}
