// The bundled tree (filters/) as a host without fail2ban uses it: every jail resolves on every
// layout, paths-distro.conf stands for this machine's paths file, and a user's jail.local (or a
// directory of their own files) is laid over the bundled tree.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUNDLED_CONFIG, detectDistro, readConfigTree, readFilter, treeSource } from '../src/config';
import { F2bError } from '../src/errors';
import { tmpDir } from './helpers/tmp';

const ROOT = path.resolve(__dirname, '../..');
const BUNDLED = path.join(ROOT, 'filters');
const BIN = path.join(ROOT, 'bin/f2b-fast');

/** Runs `fn` with F2B_FAST_DISTRO set (the reader reads it when a tree includes paths-distro.conf). */
function withDistro<T>(distro: string, fn: () => T): T {
  const before = process.env.F2B_FAST_DISTRO;
  process.env.F2B_FAST_DISTRO = distro;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.F2B_FAST_DISTRO;
    else process.env.F2B_FAST_DISTRO = before;
  }
}

function write(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
}

/** The jail sections of the bundled jail.conf. */
function bundledJails(): string[] {
  return [...fs.readFileSync(path.join(BUNDLED, 'jail.conf'), 'utf8').matchAll(/^\[([^\]]+)\]/gm)].map((m) => m[1]).filter((n) => n !== 'DEFAULT' && n !== 'INCLUDES');
}

test('detectDistro reads ID and ID_LIKE from os-release; F2B_FAST_DISTRO overrides it', (t) => {
  const dir = tmpDir(t);
  const cases: [string, string | undefined][] = [
    ['ID=debian\n', 'debian'],
    ['NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n', 'debian'],
    ['ID="rocky"\nID_LIKE="rhel centos fedora"\n', 'rhel'],
    ['ID=fedora\n', 'rhel'],
    ['ID=amzn\nID_LIKE="centos rhel fedora"\n', 'rhel'],
    ['ID=arch\n', 'arch'],
    ['ID=manjaro\nID_LIKE=arch\n', 'arch'],
    ['ID=alpine\n', undefined],
    ['ID=opensuse-leap\nID_LIKE="suse opensuse"\n', undefined],
  ];
  for (const [text, want] of cases) {
    const file = path.join(dir, 'os-release');
    fs.writeFileSync(file, text);
    assert.equal(detectDistro({}, file), want, text);
  }
  assert.equal(detectDistro({}, path.join(dir, 'missing')), undefined);
  assert.equal(detectDistro({ F2B_FAST_DISTRO: 'RHEL' }, path.join(dir, 'os-release')), 'rhel');
  assert.equal(detectDistro({ F2B_FAST_DISTRO: 'common' }, path.join(dir, 'os-release')), undefined);
});

test('every bundled jail resolves on every layout, with its filter, and sshd alone is enabled', (t) => {
  const jails = bundledJails();
  assert.ok(jails.length >= 35, `${jails.length} jails in the bundled jail.conf`);
  // jail.local enabling every jail, laid over the bundled tree
  const dir = tmpDir(t);
  write(dir, { 'jail.local': jails.map((j) => `[${j}]\nenabled = true\n`).join('\n') });
  const layouts: Record<string, string> = { debian: '/var/log/auth.log', rhel: '/var/log/secure', arch: '/var/log/auth.log', common: '/var/log/auth.log' };
  for (const [distro, authLog] of Object.entries(layouts)) {
    const tree = withDistro(distro, () => readConfigTree(dir, { allowMissingLogs: true }));
    assert.deepEqual(tree.issues.filter((i) => i.severity === 'error'), [], distro);
    assert.deepEqual(tree.jails.map((j) => j.name).sort(), [...jails].sort(), distro);
    const sshd = tree.jails.find((j) => j.name === 'sshd')!;
    assert.equal(sshd.backend, distro === 'arch' ? 'systemd' : 'auto', distro);
    if (sshd.backend !== 'systemd') assert.deepEqual(sshd.logpaths.map((l) => l.pattern), [authLog], distro);
    assert.match(tree.source, new RegExp(`over the bundled tree .*\\(paths from paths-${distro}\\.conf\\)`), distro);
    for (const j of tree.jails) assert.ok(j.filter.failregex.length > 0, `${distro}: jail ${j.name} has no failregex`);
  }
  // the bundled tree on its own: only sshd
  const plain = withDistro('debian', () => readConfigTree(BUNDLED, { allowMissingLogs: true }));
  assert.deepEqual(plain.jails.map((j) => j.name), ['sshd']);
  assert.deepEqual(plain.issues.filter((i) => i.severity === 'error'), []);
});

test('a directory without jail.conf is laid over the bundled tree: its files add to or replace the bundled ones', (t) => {
  const dir = tmpDir(t);
  write(dir, {
    'jail.local': '[DEFAULT]\nbantime = 2h\n\n[sshd]\nmaxretry = 2\nlogpath = /tmp/no-such-auth.log\n\n[nginx-http-auth]\nenabled = true\nlogpath = /tmp/no-such-error.log\n',
    'jail.d/custom.conf': '[myapp]\nenabled = true\nfilter = myapp\nlogpath = /tmp/no-such-myapp.log\nmaxretry = 7\n',
    'filter.d/myapp.conf': '[Definition]\nfailregex = ^bad login from <HOST>$\n',
    // a .local beside a bundled filter layers over it, as in one tree
    'filter.d/sshd.local': '[Definition]\nignoreregex = ^Invalid user trusted-scanner from\n',
    'fail2ban.local': '[Definition]\nsocket = /tmp/own.sock\n',
  });
  const tree = withDistro('debian', () => readConfigTree(dir, { allowMissingLogs: true }));
  assert.deepEqual(tree.issues.filter((i) => i.severity === 'error'), []);
  assert.equal(tree.dir, dir);
  assert.equal(tree.root, BUNDLED);
  assert.equal(tree.server.socket, '/tmp/own.sock');
  assert.deepEqual(tree.jails.map((j) => j.name), ['sshd', 'nginx-http-auth', 'myapp']);
  const [sshd, nginx, myapp] = tree.jails;
  assert.equal(sshd.maxretry, 2);
  assert.equal(sshd.bantime, 7200);
  assert.equal(sshd.filter.file, path.join(BUNDLED, 'filter.d/sshd.conf'));
  assert.deepEqual(sshd.filter.ignoreregex, ['^Invalid user trusted-scanner from']);
  assert.equal(nginx.filter.file, path.join(BUNDLED, 'filter.d/nginx-http-auth.conf'));
  assert.equal(myapp.maxretry, 7);
  assert.equal(myapp.filter.file, path.join(dir, 'filter.d/myapp.conf'));

  // the user's own file replaces the bundled one of the same name
  write(dir, { 'filter.d/sshd.conf': '[Definition]\nfailregex = ^own sshd rule <HOST>$\n' });
  const replaced = readConfigTree(dir, { allowMissingLogs: true }).jails.find((j) => j.name === 'sshd')!;
  assert.deepEqual(replaced.filter.failregex, ['^own sshd rule <HOST>$']);

  // `regex -c DIR` finds the user's filters and the bundled ones
  assert.deepEqual(readFilter(dir, 'myapp').failregex, ['^bad login from <HOST>$']);
  assert.ok(readFilter(dir, 'nginx-http-auth').failregex.length > 0);
});

test('a bad jail in a laid-over jail.local is reported with the user file and line, and skipped', (t) => {
  const dir = tmpDir(t);
  write(dir, { 'jail.local': '[sshd]\nlogpath = /tmp/no-such-auth.log\n\n[broken]\nenabled = true\nfilter = does-not-exist\nlogpath = /tmp/x.log\n' });
  const tree = readConfigTree(dir, { allowMissingLogs: true });
  assert.deepEqual(tree.jails.map((j) => j.name), ['sshd']);
  const issue = tree.issues.find((i) => i.jail === 'broken');
  assert.ok(issue, JSON.stringify(tree.issues));
  assert.equal(issue.file, path.join(dir, 'jail.local'));
  assert.equal(issue.line, 6);
});

test('a single jail.local file is laid over the bundled tree; other arguments fail clearly', (t) => {
  const dir = tmpDir(t);
  write(dir, { 'mine.local': '[sshd]\nmaxretry = 9\nlogpath = /tmp/no-such-auth.log\n', 'jail.d/ignored.conf': '[nope]\nenabled = true\n', 'notes.txt': 'x' });
  const tree = readConfigTree(path.join(dir, 'mine.local'), { allowMissingLogs: true });
  // only that file: jail.d beside it is not read
  assert.deepEqual(tree.jails.map((j) => [j.name, j.maxretry]), [['sshd', 9]]);
  assert.match(tree.source, /mine\.local over the bundled tree/);
  assert.throws(() => treeSource(path.join(dir, 'notes.txt')), (e: unknown) => e instanceof F2bError && /neither a config directory nor a jail\.local file/.test(e.message));
  assert.throws(() => treeSource(path.join(dir, 'missing')), (e: unknown) => e instanceof F2bError && /does not exist/.test(e.message));
  const empty = path.join(dir, 'empty');
  fs.mkdirSync(empty);
  assert.throws(() => treeSource(empty), (e: unknown) => e instanceof F2bError && /neither jail\.conf nor jail\.local/.test(e.message));
});

test('a copy of the bundled tree still finds its paths; a real paths-distro.conf wins', (t) => {
  const dir = tmpDir(t);
  fs.cpSync(BUNDLED, dir, { recursive: true });
  const sshd = () => readConfigTree(dir, { allowMissingLogs: true }).jails.find((j) => j.name === 'sshd')!;
  assert.deepEqual(withDistro('rhel', () => sshd().logpaths.map((l) => l.pattern)), ['/var/log/secure']);
  write(dir, { 'paths-distro.conf': '[INCLUDES]\nbefore = paths-common.conf\n[DEFAULT]\nsshd_log = /srv/log/sshd.log\n' });
  assert.deepEqual(withDistro('rhel', () => sshd().logpaths.map((l) => l.pattern)), ['/srv/log/sshd.log']);
});

test('f2b-fast test-config accepts a directory with only a jail.local (run: test/e2e.test.ts)', (t) => {
  const dir = tmpDir(t);
  const log = path.join(dir, 'auth.log');
  fs.writeFileSync(log, '');
  write(dir, { 'etc/jail.local': `[sshd]\nlogpath = ${log}\n` });
  const r = spawnSync(process.execPath, [BIN, 'test-config', '--config', path.join(dir, 'etc')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /OK: configuration test is successful/);
  const dump = spawnSync(process.execPath, [BIN, 'test-config', '--dump', '--config', path.join(dir, 'etc')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(dump.status, 0, dump.stderr);
  // fail2ban.conf is the bundled one; the tree line says what was laid over what
  assert.match(dump.stdout, new RegExp(`^\\[server\\] ${BUNDLED_CONFIG}/fail2ban\\.conf\n`));
  assert.match(dump.stdout, new RegExp(`\n  tree +${path.join(dir, 'etc')} over the bundled tree ${BUNDLED_CONFIG} \\(paths from paths-\\w+\\.conf\\)\n`));
  // the jail is named where it was last set: the user's file
  assert.match(dump.stdout, new RegExp(`\\[sshd\\] ${path.join(dir, 'etc')}/jail\\.local:1\n`));
  assert.match(dump.stdout, new RegExp(`logpath +${log}`));
});
