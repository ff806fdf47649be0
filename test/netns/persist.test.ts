/**
 * `ipmp VERB --persist` against a real daemon in a three-NIC lab: every live verb, addressed by
 * group name or interface name, rewrites the configuration file with the admin's comments and
 * layout kept; a SIGHUP then changes nothing (no binding moves); a new daemon started on the
 * file comes up in the same state; a file edited behind the daemon's back is left alone while
 * the live change applies and the CLI exits 1 naming the file and the reason.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withLab } from '../../src/lab/fixture.js';
import { buildConfig } from '../../src/daemon/config.js';
import type { DaemonConfig } from '../../src/daemon/config.js';
import type { Snapshot } from '../../src/daemon/protocol.js';
import { REPO, snapshot, startDaemon, withLog, type RunningDaemon } from './helpers/daemon.js';

const root = process.getuid?.() === 0;
const skip = root ? false : 'needs root (network namespaces)';

const YAML = `# ipmp test configuration: this comment stays
FAILURE_DETECTION_TIME: 10000     # ms, aligned

groups:
  ipmp0:                          # the TUN
    groupname: web
    interfaces:
      eth0: { test-address: 198.18.0.100/24 }   # flow map
      eth1:
    addresses:
      - 198.18.0.10/24            # first address
      - 198.18.0.11/24
    targets: [198.18.0.1]
`;
const KEPT = ['# ipmp test configuration: this comment stays\n', 'FAILURE_DETECTION_TIME: 10000     # ms, aligned\n',
  '  ipmp0:                          # the TUN\n', '      eth0: { test-address: 198.18.0.100/24 }   # flow map\n',
  '      - 198.18.0.10/24            # first address\n', '    targets: [198.18.0.1]\n'];

function ipmp(socket: string, ...args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO, 'bin', 'ipmp'), '--socket', socket, ...args], { timeout: 20_000 }, (err, _out, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr });
    });
  });
}

/** What the configuration decides, as the daemon runs it: members, standby, test addresses, data addresses. */
function state(s: Snapshot, withBindings: boolean): unknown {
  return {
    groups: s.groups.map((g) => [g.ifname, g.groupname, [...g.interfaces].sort()]),
    interfaces: s.interfaces.map((i) => [i.name, i.group, i.flags.standby]).sort(),
    tests: s.targets.filter((t) => t.testaddr !== '').map((t) => [t.interface, t.testaddr]).sort(),
    addresses: s.addresses.map((a) => [a.address, ...(withBindings ? [a.inbound] : [])]).sort(),
  };
}

/** The file's configuration of ipmp0, in the snapshot's terms. */
function fileState(text: string): unknown {
  const c: DaemonConfig = buildConfig(text, 'ipmp.yaml', null, null).config;
  const g = c.groups[0]!;
  return {
    groups: [[g.ifname, g.groupname, g.interfaces.map((i) => i.name).sort()]],
    interfaces: g.interfaces.map((i) => [i.name, g.ifname, i.standby]).sort(),
    tests: g.interfaces.filter((i) => i.testAddress).map((i) => [i.name, i.testAddress!.address]).sort(),
    addresses: g.addresses.map((a) => [a.address]).sort(),
  };
}

describe('ipmp --persist on a live daemon', { skip, timeout: 120_000 }, () => {
  it('persists every verb, survives SIGHUP and a restart, and refuses a file edited behind its back', async () => {
    await withLab({ nics: 3 }, async (lab) => {
      let d: RunningDaemon | undefined = await startDaemon(lab.prefix, YAML);
      try {
        await withLog(d, async () => {
          const file = join(d!.dir, 'ipmp.yaml');
          const verbs: Array<[string[], string]> = [
            [['add-ipmp', '--persist', '-i', 'eth2', 'web'], 'persisted add-ipmp eth2 to ipmp0'],
            [['--persist', 'create-addr', '-a', '198.18.0.12/24', 'ipmp0'], 'persisted create-addr 198.18.0.12/24 on ipmp0'],
            [['set-ifprop', '-p', 'standby=on', 'eth2', '--persist'], 'persisted set-ifprop standby=on on eth2 (ipmp0)'],
            [['set-ifprop', '--persist', '-p', 'test-address=198.18.0.102/24', 'eth2'],
              'persisted set-ifprop test-address=198.18.0.102/24 on eth2 (ipmp0)'],
            [['delete-addr', '--persist', '198.18.0.11/24', 'web'], 'persisted delete-addr 198.18.0.11/24 on ipmp0'],
            [['remove-ipmp', '--persist', '-i', 'eth1', 'ipmp0'], 'persisted remove-ipmp eth1 from ipmp0'],
          ];
          for (const [argv, logged] of verbs) {
            const r = await ipmp(d!.socket, ...argv);
            assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
            assert.equal(r.stderr, '');
            assert.ok(d!.log().includes(`configuration ${file}: ${logged}\n`), `logged: ${logged}`);
            const text = readFileSync(file, 'utf8');
            for (const line of KEPT) assert.ok(text.includes(line), `kept byte for byte: ${JSON.stringify(line)}\n${text}`);
            assert.deepEqual(fileState(text), state(await snapshot(d!.socket), false), `the file says what runs after ${argv[0]}`);
          }
          const persisted = readFileSync(file, 'utf8');
          assert.match(persisted, /^ {6}eth2: \{ standby: true, test-address: 198\.18\.0\.102\/24 \}$/m);
          assert.doesNotMatch(persisted, /eth1|198\.18\.0\.11/);

          // SIGHUP: the file is the running configuration; nothing moves.
          const before = await snapshot(d!.socket);
          const mark = d!.log().length;
          process.kill(d!.pid, 'SIGHUP');
          await d!.waitLog('SIGHUP: the configuration is unchanged', 10_000, mark);
          const after = await snapshot(d!.socket);
          assert.deepEqual(state(after, true), state(before, true));
          assert.doesNotMatch(d!.log().slice(mark), / bound to |reload: /, 'no binding moved and no change was applied');
          assert.equal(readFileSync(file, 'utf8'), persisted);

          // A new daemon on the same file comes up as the old one ran.
          const ran = state(after, false);
          await d!.stop();
          d = undefined;
          d = await startDaemon(lab.prefix, persisted);
          assert.deepEqual(state(await snapshot(d.socket), false), ran);

          // After an upgrade in place the new image still knows the file it may rewrite.
          const from = d.log().length;
          process.kill(d.pid, 'SIGUSR2');
          await d.waitLog(/ipmpd: ready \([^)]*upgraded in place/, 30_000, from);
          const r = await ipmp(d.socket, 'set-ifprop', '-p', 'standby=off', '--persist', 'eth2');
          assert.equal(r.code, 0, r.stderr);
          const file2 = join(d.dir, 'ipmp.yaml');
          assert.match(readFileSync(file2, 'utf8'), /^ {6}eth2: \{ test-address: 198\.18\.0\.102\/24 \}$/m);
          assert.deepEqual(fileState(readFileSync(file2, 'utf8')), state(await snapshot(d.socket), false));
        });

        // Edited behind the daemon's back: the change runs, the file stays as the admin left it.
        await withLog(d, async () => {
          const file = join(d!.dir, 'ipmp.yaml');
          const edited = `${readFileSync(file, 'utf8')}# edited by hand, not reloaded yet\n`;
          writeFileSync(file, edited);
          const r = await ipmp(d!.socket, 'create-addr', '--persist', '-a', '198.18.0.13/24', 'ipmp0');
          assert.equal(r.code, 1);
          assert.equal(r.stderr,
            `ipmp: create-addr applied, but not persisted: ${file} changed on disk since it was loaded (reload it with SIGHUP first)\n`);
          assert.equal(readFileSync(file, 'utf8'), edited);
          assert.ok((await snapshot(d!.socket)).addresses.some((a) => a.address === '198.18.0.13'), 'the live change applied');
          assert.match(d!.log(), /configuration: create-addr 198\.18\.0\.13\/24 on ipmp0 applied, but not persisted: .* changed on disk/);

          // Once reloaded, the edited file is the one to rewrite: the hand edit stays.
          const mark = d!.log().length;
          process.kill(d!.pid, 'SIGHUP');
          await d!.waitLog('SIGHUP: the configuration is unchanged', 10_000, mark);
          const r2 = await ipmp(d!.socket, 'create-addr', '--persist', '-a', '198.18.0.14/24', 'ipmp0');
          assert.equal(r2.code, 0, r2.stderr);
          const text = readFileSync(file, 'utf8');
          assert.match(text, /^ {6}- 198\.18\.0\.14\/24$/m);
          assert.equal(text.replace('      - 198.18.0.14/24\n', ''), edited, 'only the new address is added');
        });
      } finally {
        await d?.stop().catch(() => undefined);
      }
    });
  });
});
