import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ipmpstatMain } from '../../../src/cli/ipmpstat.js';
import { ControlUnavailableError, fakeDaemon, golden, run, snapshotDaemon } from './fake.js';
import { BROKEN, EVENTS, LINK_ONLY, manyInterfaces, SNAP } from './fixtures.js';

const ALL: Record<string, string> = {
  a: 'address,state,group,inbound,outbound',
  g: 'group,groupname,state,fdt,interfaces',
  i: 'interface,active,group,flags,link,probe,state',
  t: 'interface,mode,testaddr,targets',
  p: 'time,interface,probe,netrtt,rtt,rttavg,target,rttdev',
};

const USAGE_LINE = 'usage: ipmpstat [-n] [-o FIELD[,FIELD...] [-P]] -a|-g|-i|-p|-t\n';

describe('ipmpstat golden output', () => {
  for (const mode of ['a', 'g', 'i', 't']) {
    const cases: [string, string[]][] = [
      [`${mode}.txt`, [`-${mode}`]],
      [`${mode}-n.txt`, ['-n', `-${mode}`]],
      [`${mode}-all.txt`, ['-o', 'all', `-${mode}`]],
      [`${mode}-P.txt`, ['-P', '-o', ALL[mode].toUpperCase(), `-${mode}`]],
      [`${mode}-j.txt`, ['-j', `-${mode}`]],
    ];
    for (const [file, argv] of cases) {
      it(`ipmpstat ${argv.join(' ')}`, async () => {
        const r = await run(ipmpstatMain, argv, snapshotDaemon(SNAP));
        assert.equal(r.stderr, '');
        assert.equal(r.code, 0);
        if (file.endsWith('-n.txt')) {
          golden(file.replace('-n', ''), r.stdout);
        } else {
          golden(file, r.stdout);
        }
      });
    }
  }

  it('-P with one field does not escape', async () => {
    const r = await run(ipmpstatMain, ['-Po', 'address', '-a'], snapshotDaemon(SNAP));
    assert.equal(r.code, 0);
    golden('a-P-address.txt', r.stdout);
    assert.match(r.stdout, /^2001:db8:1234:/m);
  });

  it('-P with several fields escapes : and \\', async () => {
    const r = await run(ipmpstatMain, ['-P', '-o', 'ADDRESS,inbound', '-a'], snapshotDaemon(SNAP));
    assert.match(r.stdout, /^2001\\:db8\\:\\:10:eth1$/m);
    assert.match(r.stdout, /^198\.18\.0\.11:$/m);
  });

  it('-o picks fields in the given order, case-insensitively', async () => {
    const r = await run(ipmpstatMain, ['-o', 'State,INTERFACE', '-i'], snapshotDaemon(SNAP));
    golden('i-o-state-interface.txt', r.stdout);
  });

  it('-p default fields keep RTTAVG and drop RTTDEV', async () => {
    const r = await run(ipmpstatMain, ['-p'], snapshotDaemon(SNAP, { events: EVENTS }));
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
    golden('p.txt', r.stdout);
    const header = r.stdout.split('\n')[0];
    assert.match(header, /RTTAVG/);
    assert.doesNotMatch(header, /RTTDEV/);
  });

  it('-p -o all and -P', async () => {
    const all = await run(ipmpstatMain, ['-p', '-o', 'all'], snapshotDaemon(SNAP, { events: EVENTS }));
    golden('p-all.txt', all.stdout);
    const p = await run(ipmpstatMain, ['-p', '-P', '-o', ALL.p], snapshotDaemon(SNAP, { events: EVENTS }));
    golden('p-P.txt', p.stdout);
  });
});

describe('ipmpstat behaviour', () => {
  it('repeats the header every 24 rows when stdout is not a tty', async () => {
    const r = await run(ipmpstatMain, ['-i'], snapshotDaemon(manyInterfaces(50)));
    const lines = r.stdout.trimEnd().split('\n');
    const headers = lines.flatMap((l, n) => (l.startsWith('INTERFACE') ? [n] : []));
    assert.deepEqual(headers, [0, 25, 50]);
    assert.equal(lines.length, 53);
  });

  it('repeats the header every terminal height on a tty', async () => {
    const r = await run(ipmpstatMain, ['-i'], snapshotDaemon(manyInterfaces(20)), { tty: { rows: 8 } });
    const headers = r.stdout.split('\n').flatMap((l, n) => (l.startsWith('INTERFACE') ? [n] : []));
    assert.deepEqual(headers, [0, 9, 18]);
  });

  it('prints nothing, not even a header, when there are no rows', async () => {
    const r = await run(ipmpstatMain, ['-a'], snapshotDaemon(LINK_ONLY));
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '');
  });

  it('prints ? and warns for a value it cannot obtain', async () => {
    const r = await run(ipmpstatMain, ['-i'], snapshotDaemon(BROKEN));
    assert.equal(r.code, 0);
    golden('i-broken.txt', r.stdout);
    assert.equal(r.stderr, 'ipmpstat: warning: cannot obtain FLAGS\nipmpstat: warning: cannot obtain LINK\n');
    const j = await run(ipmpstatMain, ['-j', '-o', 'interface,flags', '-i'], snapshotDaemon(BROKEN));
    assert.deepEqual(JSON.parse(j.stdout), [{ interface: 'eth0', flags: null }]);
  });

  it('warns about an unknown -o field in human mode', async () => {
    const r = await run(ipmpstatMain, ['-o', 'group,bogus,STATE', '-g'], snapshotDaemon(SNAP));
    assert.equal(r.code, 0);
    assert.equal(r.stderr, 'ipmpstat: warning: ignoring unknown output field: bogus\n');
    assert.match(r.stdout, /^GROUP {7}STATE$/m);
  });

  it('refuses an unknown -o field in parsable mode', async () => {
    const d = snapshotDaemon(SNAP);
    const r = await run(ipmpstatMain, ['-P', '-o', 'group,bogus,nope', '-g'], d);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.ok(r.stderr.startsWith('ipmpstat: unknown output fields: bogus nope\nusage: '));
    assert.equal(d.connects.length, 0);
  });

  it('says so when the daemon cannot be contacted', async () => {
    const r = await run(ipmpstatMain, ['-g'], fakeDaemon(() => ({ ok: true, result: {} }), {
      connectError: new ControlUnavailableError('connect ENOENT', '/run/ipmp/ipmpd.sock', 'ENOENT'),
    }));
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'ipmpstat: cannot contact ipmpd -- is IPMP in use?\n');
  });

  it('treats a failed ping as no daemon', async () => {
    const r = await run(ipmpstatMain, ['-g'], fakeDaemon(() => ({ ok: false, error: 'x', code: 'EFAILED' })));
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'ipmpstat: cannot contact ipmpd -- is IPMP in use?\n');
  });

  it('passes --socket to connect', async () => {
    const d = snapshotDaemon(SNAP);
    await run(ipmpstatMain, ['--socket', '/tmp/x.sock', '-g'], d);
    assert.deepEqual(d.connects, ['/tmp/x.sock']);
  });

  const usage: [string[], string][] = [
    [['-a', '-g'], 'only one output format may be specified'],
    [['-ag'], 'only one output format may be specified'],
    [[], 'one of -a, -g, -i, -p or -t is required'],
    [['-P', '-g'], 'output field list (-o) required in parsable output mode'],
    [['-P', '-o', 'ALL', '-g'], '"all" not allowed in parsable output mode'],
    [['-g', 'extra'], "unexpected operand 'extra'"],
    [['-j', '-p'], '-j cannot be used with -p'],
    [['-x', '-g'], "illegal option -- 'x'"],
    [['-g', '-o'], "option requires an argument -- 'o'"],
    [['-o', 'nope', '-g'], 'no valid output fields'],
  ];
  for (const [argv, msg] of usage) {
    it(`usage error: ipmpstat ${argv.join(' ')}`, async () => {
      const d = snapshotDaemon(SNAP);
      const r = await run(ipmpstatMain, argv, d);
      assert.equal(r.code, 2);
      assert.ok(r.stderr.includes(`ipmpstat: ${msg}\n${USAGE_LINE}`), r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(d.connects.length, 0);
    });
  }

  it('--help prints usage and exits 0', async () => {
    const r = await run(ipmpstatMain, ['--help'], snapshotDaemon(SNAP));
    assert.equal(r.code, 0);
    assert.ok(r.stdout.startsWith(USAGE_LINE));
  });

  it('-p refuses when no member is probe-enabled', async () => {
    const d = snapshotDaemon(LINK_ONLY, { events: EVENTS });
    const r = await run(ipmpstatMain, ['-p'], d);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'ipmpstat: probe-based failure detection is disabled\n');
    assert.ok(!d.requests.some((q) => q.op === 'probe-subscribe'));
  });

  it('-p without privilege', async () => {
    const err = Object.assign(new Error('permission denied'), { code: 'EPERM' });
    const r = await run(ipmpstatMain, ['-p'], snapshotDaemon(SNAP, { subscribeError: err }));
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'ipmpstat: insufficient privileges for -p\n');
  });

  it('-p runs until interrupted and closes the connection', async () => {
    let interrupt: () => void = () => {};
    const interrupted = new Promise<void>((resolve) => { interrupt = resolve; });
    const d = snapshotDaemon(SNAP, { events: EVENTS.slice(0, 1) });
    let done = false;
    const p = run(ipmpstatMain, ['-p'], d, { interrupted }).then((r) => { done = true; return r; });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(done, false);
    interrupt();
    const r = await p;
    assert.equal(r.code, 0);
    assert.equal(d.closed, 1);
  });

  it('-p ends with an error when the daemon goes away', async () => {
    const d = snapshotDaemon(SNAP, { events: EVENTS.slice(0, 1), dropAfterSubscribe: new Error('ipmpd closed the connection') });
    const r = await run(ipmpstatMain, ['-p'], d, { interrupted: new Promise(() => {}) });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'ipmpstat: ipmpd closed the connection\n');
    assert.equal(r.stdout.split('\n').length, 3);
  });

  it('shows a stack only with --debug', async () => {
    const boom = fakeDaemon((req) => {
      if (req.op === 'ping') return { ok: true, result: {} };
      throw new Error('kaboom');
    });
    const plain = await run(ipmpstatMain, ['-g'], boom);
    assert.equal(plain.code, 1);
    assert.equal(plain.stderr, 'ipmpstat: kaboom\n');
    const debug = await run(ipmpstatMain, ['--debug', '-g'], boom);
    assert.match(debug.stderr, /^ipmpstat: kaboom\nError: kaboom\n\s+at /);
  });
});
