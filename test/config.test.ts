// The config reader (src/config): unit tests on small fixture trees, then a differential test
// against the installed fail2ban's own reader on a copy of the stock /etc/fail2ban tree.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseFilterSpec, readConfigTree, readFilter, str2seconds } from '../src/config';
import { parseIni } from '../src/config/ini';
import { splitSpecList } from '../src/config/spec';
import { substituteTags } from '../src/config/tags';
import { glob } from '../src/config/glob';
import type { ConfigTree, FilterDef, JailDef } from '../src/config/types';
import { F2bError } from '../src/errors';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/config');
const ORACLE = path.join(FIXTURES, 'fail2ban-oracle.py');
const PYTHON = '/usr/bin/python3';
const STOCK = '/etc/fail2ban';
const haveFail2ban = fs.existsSync(PYTHON) && fs.existsSync('/usr/lib/python3/dist-packages/fail2ban/client/configurator.py') && fs.existsSync(`${STOCK}/jail.conf`);

// ---------------------------------------------------------------------------------------------
// helpers

const tempDirs: string[] = [];
after(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** A config tree in a fresh temp folder: file name -> content. */
function tree(files: Record<string, string>): string {
  const dir = tempDir('f2b-config-');
  for (const [name, text] of Object.entries(files)) {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  }
  return dir;
}

const jail = (t: ConfigTree, name: string): JailDef => {
  const j = t.jails.find((x) => x.name === name);
  assert.ok(j, `jail ${name} missing; issues: ${JSON.stringify(t.issues)}`);
  return j;
};

const errorsOf = (t: ConfigTree) => t.issues.filter((i) => i.severity === 'error');

/** A minimal filter/action pair most fixture trees share. */
const BASE: Record<string, string> = {
  'filter.d/demo.conf': '[Definition]\nfailregex = ^fail from <HOST>$\n',
  'action.d/fw.conf': '[Definition]\nactionban = fw add <chain> <ip>\n[Init]\nchain = INPUT\n',
  'logs/a.log': '',
};

// ---------------------------------------------------------------------------------------------
// ini.ts

test('ini: keys lower-cased, section names kept, = and : both delimit', () => {
  const ini = parseIni('[MySection]\nKey = v1\nother: v2\nthird=a=b:c\n', 'f.conf');
  const s = ini.sections.get('MySection')!;
  assert.deepEqual([...s.options].map(([k, e]) => [k, e.value, e.line]), [
    ['key', 'v1', 2],
    ['other', 'v2', 3],
    ['third', 'a=b:c', 4],
  ]);
  assert.equal(ini.problems.length, 0);
});

test('ini: continuation lines, blank lines kept inside, comment lines skipped, trailing blanks dropped', () => {
  const text = ['[s]', 'v = one', '    two', '', '  # a comment', '    three', '', '', 'w = x'].join('\n');
  const s = parseIni(text, 'f').sections.get('s')!;
  assert.equal(s.options.get('v')!.value, 'one\ntwo\n\nthree');
  assert.equal(s.options.get('w')!.value, 'x');
});

test('ini: inline comments only with ";" after white space; "#" inline is data', () => {
  const s = parseIni('[s]\na = x ; comment\nb = x;y\nc = x # not a comment\n; full\n# full\nd = (?:;|\\s)\n', 'f').sections.get('s')!;
  assert.equal(s.options.get('a')!.value, 'x');
  assert.equal(s.options.get('b')!.value, 'x;y');
  assert.equal(s.options.get('c')!.value, 'x # not a comment');
  assert.equal(s.options.get('d')!.value, '(?:;|\\s)');
});

test('ini: duplicate key or section within one file is an error with file:line and section', () => {
  const ini = parseIni('[a]\nk = 1\nk = 2\n[b]\n[a]\n', 'dup.conf');
  assert.equal(ini.problems.length, 2);
  assert.equal(ini.problems[0].error.describe(), "dup.conf:3: option 'k' in section [a] already defined in this file (line 2)");
  assert.equal(ini.problems[0].section, 'a');
  assert.equal(ini.problems[1].error.line, 5);
  assert.equal(ini.sections.get('a')!.options.get('k')!.value, '1');
});

test('ini: [DEFAULT] may reopen, its keys may not repeat; lines before a section or without "=" are errors', () => {
  assert.equal(parseIni('[DEFAULT]\na = 1\n[DEFAULT]\nb = 2\n', 'f').problems.length, 0);
  assert.equal(parseIni('[DEFAULT]\na = 1\n[DEFAULT]\na = 2\n', 'f').problems.length, 1);
  const p = parseIni('a = 1\n[s]\njunk line\n', 'f').problems.map((x) => x.error.line);
  assert.deepEqual(p, [1, 3]);
});

test('ini: CRLF line ends; a header line indented under an option continues the value', () => {
  const s = parseIni('[s]\r\nk = a\r\n  [not a section]\r\n', 'f').sections.get('s')!;
  assert.equal(s.options.get('k')!.value, 'a\n[not a section]');
});

// ---------------------------------------------------------------------------------------------
// layering and includes

test('layers: jail.conf < jail.d/*.conf < jail.local < jail.d/*.local, option by option', () => {
  const dir = tree({
    ...BASE,
    'jail.conf': '[DEFAULT]\nlogpath = %(fail2ban_confpath)s/logs/a.log\nfilter = demo\n[one]\nenabled = true\nport = conf\nprotocol = conf\nmaxretry = 1\nfindtime = 1\n',
    'jail.d/b.conf': '[one]\nport = d-b\nprotocol = d-b\n',
    'jail.d/a.conf': '[one]\nport = d-a\nmaxretry = 2\n',
    'jail.local': '[one]\nport = local\n',
    'jail.d/z.local': '[one]\nport = d-local\n',
    'jail.d/.hidden.local': '[one]\nport = hidden\n',
  });
  const j = jail(readConfigTree(dir), 'one');
  assert.equal(j.port, 'd-local');
  assert.equal(j.protocol, 'd-b');
  assert.equal(j.maxretry, 2);
  assert.equal(j.findtime, 1);
  assert.deepEqual(j.source, { file: path.join(dir, 'jail.d/z.local'), line: 1 });
});

test('layers: [INCLUDES] before/after relative to the including file, each with its .local, cycles skipped', () => {
  const dir = tree({
    ...BASE,
    'jail.conf': '[INCLUDES]\nbefore = paths/p1.conf\nafter = paths/p3.conf\n[DEFAULT]\norder = jail\nfilter = demo\nlogpath = %(fail2ban_confpath)s/logs/a.log\n[one]\nenabled = true\nport = %(order)s\nprotocol = %(seen)s\n',
    'paths/p1.conf': '[INCLUDES]\nbefore = p0.conf\nafter = ../jail.conf\n[DEFAULT]\norder = p1\nseen = p1\n',
    'paths/p1.local': '[DEFAULT]\nseen = %(seen0)s+p1.local\n',
    'paths/p0.conf': '[INCLUDES]\nafter = p1.conf\n[DEFAULT]\nseen0 = p0\n',
    'paths/p3.conf': '[DEFAULT]\norder = p3\n',
  });
  const t = readConfigTree(dir);
  const j = jail(t, 'one');
  assert.equal(j.port, 'p3'); // after-includes come after the including file
  assert.equal(j.protocol, 'p0+p1.local'); // the include's .local follows it
});

test('layers: known/ gives the value before the override; a later file keeps the jail section header', () => {
  const dir = tree({
    ...BASE,
    'filter.d/demo.conf': '[Definition]\nfailregex = ^base <HOST>$\n',
    'filter.d/demo.local': '[Definition]\nfailregex = %(known/failregex)s\n            ^local <HOST>$\n',
    'jail.conf': '[DEFAULT]\nfilter = %(__name__)s\nlogpath = %(fail2ban_confpath)s/logs/a.log\n[demo]\nenabled = true\nport = 1\n',
    'jail.local': '[demo]\nport = %(known/port)s,2\n',
  });
  const j = jail(readConfigTree(dir), 'demo');
  assert.deepEqual(j.filter.failregex, ['^base <HOST>$', '^local <HOST>$']);
  assert.equal(j.port, '1,2');
});

// ---------------------------------------------------------------------------------------------
// interpolation and tags

test('interpolation: %(x)s, %(__name__)s, %(section/opt)s, %(default/opt)s, %% and nested values', () => {
  const dir = tree({
    ...BASE,
    'jail.conf': [
      '[DEFAULT]',
      'logpath = %(fail2ban_confpath)s/logs/a.log',
      'filter = demo',
      'who = default-%(__name__)s',
      'p = 10',
      '[other]',
      'x = other-x',
      '[one]',
      'enabled = true',
      'p = 20',
      'port = %(who)s %(other/x)s %(default/p)s %(p)s 100%%',
    ].join('\n'),
  });
  assert.equal(jail(readConfigTree(dir), 'one').port, 'default-one other-x 10 20 100%');
});

test('interpolation errors name the file and line of the option, and skip only that jail', () => {
  const dir = tree({
    ...BASE,
    'jail.conf': '[DEFAULT]\nlogpath = %(fail2ban_confpath)s/logs/a.log\nfilter = demo\n[good]\nenabled = true\n[bad]\nenabled = true\nmaxretry = %(nope)s\n[loop]\nenabled = true\na = %(b)s\nb = %(a)s\nmaxretry = %(a)s\n[pct]\nenabled = true\nmaxretry = 5%\n',
  });
  const t = readConfigTree(dir);
  assert.deepEqual(t.jails.map((j) => j.name), ['good']);
  const byJail = Object.fromEntries(errorsOf(t).map((i) => [i.jail, i]));
  assert.equal(byJail.bad.file, path.join(dir, 'jail.conf'));
  assert.equal(byJail.bad.line, 8);
  assert.match(byJail.bad.message, /%\(nope\)s is not defined/);
  assert.match(byJail.loop.message, /more than 10 levels/);
  assert.match(byJail.pct.message, /'%' must be followed/);
});

test('tags: innermost first, <section/opt>, unknown tags kept, self reference is an error', () => {
  const tags = new Map([
    ['mode', 'normal'],
    ['re-normal', '<pre> normal <HOST>'],
    ['pre', 'P'],
    ['failregex', '<re-<mode>> <F-USER>x</F-USER>'],
  ]);
  const out = substituteTags(tags, { lookup: (t) => (t === 'sec/opt' ? 'S' : undefined) });
  assert.equal(out.get('failregex'), 'P normal <HOST> <F-USER>x</F-USER>');
  assert.equal(substituteTags(new Map([['a', '<sec/opt>']]), { lookup: (t) => (t === 'sec/opt' ? 'S' : undefined) }).get('a'), 'S');
  assert.throws(() => substituteTags(new Map([['a', 'x<a>']])), /refers to itself/);
  assert.throws(() => substituteTags(new Map([['a', '<b>'], ['b', '<a>']])), /refers to itself/);
  const ignored = substituteTags(new Map([['a', '<b> <c>'], ['b', 'B'], ['c', 'C'], ['c?family=inet6', 'C6']]), { ignore: new Set(['c']) });
  assert.equal(ignored.get('a'), 'B <c>');
});

test('tags: a filter mode selects nested regexes; jail options reach the filter through name[...]', () => {
  const dir = tree({
    ...BASE,
    'filter.d/common.conf': '[DEFAULT]\n_daemon = \\S*\n__prefix_line = <lt_<logtype>/pre>\n[lt_file]\npre = FILE(<_daemon>)\n[lt_journal]\npre = JOURNAL\n',
    'filter.d/modal.conf': [
      '[INCLUDES]',
      'before = common.conf',
      '[Definition]',
      '_daemon = modald',
      'normal = ^<__prefix_line>normal <HOST>$',
      'extra = ^<__prefix_line>extra <HOST>$',
      'aggressive = <normal>',
      '             <extra>',
      'failregex = <<mode>>',
      'maxlines = <lines>',
      '[Init]',
      'mode = normal',
      'lines = 1',
    ].join('\n'),
    'jail.conf': '[DEFAULT]\nlogpath = %(fail2ban_confpath)s/logs/a.log\nmode = normal\nfilter = modal[mode=%(mode)s]\n[n]\nenabled = true\n[a]\nenabled = true\nmode = aggressive\n[j]\nenabled = true\nfilter = modal[lines=2]\nbackend = systemd\n',
  });
  const t = readConfigTree(dir);
  assert.deepEqual(jail(t, 'n').filter.failregex, ['^FILE(modald)normal <HOST>$']);
  assert.deepEqual(jail(t, 'a').filter.failregex, ['^FILE(modald)normal <HOST>$', '^FILE(modald)extra <HOST>$']);
  assert.deepEqual(jail(t, 'a').filter.options, { mode: 'aggressive' });
  assert.deepEqual(jail(t, 'j').filter.failregex, ['^JOURNALnormal <HOST>$']);
  assert.equal(jail(t, 'j').filter.maxlines, 2);
  assert.deepEqual(jail(t, 'j').logpaths, []); // logpath is not used with systemd backends
});

test('tags: a self-referencing filter option is an error of the jail using it', () => {
  const dir = tree({
    ...BASE,
    'filter.d/selfref.conf': '[Definition]\nfailregex = <x>\nx = a<x>\n',
    'jail.conf': '[DEFAULT]\nfilter = %(__name__)s\nlogpath = %(fail2ban_confpath)s/logs/a.log\n[selfref]\nenabled = true\n[demo]\nenabled = true\n',
  });
  const t = readConfigTree(dir);
  assert.deepEqual(t.jails.map((j) => j.name), ['demo']);
  assert.equal(errorsOf(t)[0].jail, 'selfref');
  assert.match(errorsOf(t)[0].message, /refers to itself/);
});

// ---------------------------------------------------------------------------------------------
// time values

test('str2seconds: integers, units, glued and spaced groups, arithmetic, -1', () => {
  const cases: [string, number][] = [
    ['600', 600],
    ['10m', 600],
    ['1h', 3600],
    ['1d', 86400],
    ['1w', 604800],
    ['1mo', 2629800],
    ['1y', 31557600],
    ['1d12h30m', 131400],
    ['0d 1h 30m', 5400],
    ['1h+30m', 5400],
    ['1hour+30min', 5400],
    ['1year-6mo', 15778800],
    ['6 months', 15778800],
    ['2 * (1h - 30m)', 3600],
    ['-1', -1],
    ['1.5h', 5400],
    ['10 MINUTES', 600],
  ];
  for (const [expr, want] of cases) assert.equal(str2seconds(expr), want, expr);
  for (const bad of ['', 'abc', '10x', '1h)', '__import__("os")', '010', '1/0']) {
    assert.throws(() => str2seconds(bad), F2bError, bad);
  }
});

// ---------------------------------------------------------------------------------------------
// name[options] specs

test('parseFilterSpec: plain names, quoted values with commas, several groups, errors', () => {
  assert.deepEqual(parseFilterSpec('sshd'), { name: 'sshd', options: {} });
  assert.deepEqual(parseFilterSpec('sshd[mode=aggressive]'), { name: 'sshd', options: { mode: 'aggressive' } });
  assert.deepEqual(parseFilterSpec(`a[k="x, y", j='p,q', m= bare , n.o-p=1][z=2]`), {
    name: 'a',
    options: { k: 'x, y', j: 'p,q', m: 'bare', 'n.o-p': '1', z: '2' },
  });
  assert.deepEqual(parseFilterSpec('a[]'), { name: 'a', options: {} });
  assert.deepEqual(parseFilterSpec('a[k=1,]'), { name: 'a', options: { k: '1' } });
  for (const bad of ['[k=v]', 'a[k=v] x', 'a[k="v" x]', 'a[=v]', 'a[k]', 'a[k=v, ,]']) assert.throws(() => parseFilterSpec(bad), F2bError, bad);
});

test('splitSpecList: items separated by blanks or new lines, options may hold blanks', () => {
  assert.deepEqual(splitSpecList('a[x="1 2", y=3]\n  b  c[z=1] [w=2]\nd'), ['a[x="1 2", y=3]', 'b', 'c[z=1] [w=2]', 'd']);
  assert.deepEqual(splitSpecList('mail[dest=root@x,\n  sender=me]'), ['mail[dest=root@x,\n  sender=me]']);
});

// ---------------------------------------------------------------------------------------------
// logpath globs

test('glob: * ? [..] [!..], hidden files, directories in the pattern', () => {
  const dir = tree({ 'l/a.log': '', 'l/b.log': '', 'l/ab.log': '', 'l/.h.log': '', 'l/c.txt': '', 'm1/x.log': '', 'm2/x.log': '' });
  const rel = (ps: string[]) => ps.map((p) => path.relative(dir, p));
  assert.deepEqual(rel(glob(`${dir}/l/*.log`)), ['l/a.log', 'l/ab.log', 'l/b.log']);
  assert.deepEqual(rel(glob(`${dir}/l/?.log`)), ['l/a.log', 'l/b.log']);
  assert.deepEqual(rel(glob(`${dir}/l/[a].log`)), ['l/a.log']);
  assert.deepEqual(rel(glob(`${dir}/l/[!a].log`)), ['l/b.log']);
  assert.deepEqual(rel(glob(`${dir}/l/.*.log`)), ['l/.h.log']);
  assert.deepEqual(rel(glob(`${dir}/m*/x.log`)), ['m1/x.log', 'm2/x.log']);
  assert.deepEqual(rel(glob(`${dir}/l/c.txt`)), ['l/c.txt']);
  assert.deepEqual(glob(`${dir}/l/none*`), []);
});

// ---------------------------------------------------------------------------------------------
// jails

test('jail: enabled booleans, server defaults, ignoreip splitting, head/tail, %(maxretry)s', () => {
  const dir = tree({
    ...BASE,
    'logs/b.log': '',
    'jail.conf': [
      '[DEFAULT]',
      'filter = demo',
      'logpath = %(fail2ban_confpath)s/logs/a.log',
      '[t1]\nenabled = Yes',
      '[t2]\nenabled = ON\nmaxretry = 7\nmaxmatches = %(maxretry)s\nignoreip = 127.0.0.1/8 ::1, 10.0.0.0/8\n   192.0.2.1\nlogpath = %(fail2ban_confpath)s/logs/a.log\n          %(fail2ban_confpath)s/logs/b.log tail',
      '[t3]\nenabled = 1\nbantime = -1\nignoreself = false\nlogtimezone = UTC',
      '[off1]\nenabled = false',
      '[off2]\nenabled = y',
      '[off3]',
    ].join('\n'),
  });
  const t = readConfigTree(dir);
  assert.deepEqual(t.jails.map((j) => j.name), ['t1', 't2', 't3']);
  const t1 = jail(t, 't1');
  // fail2ban's server defaults when nothing sets them (stock jail.conf sets maxmatches = %(maxretry)s)
  assert.equal(t1.maxretry, 3);
  assert.equal(t1.maxmatches, 5);
  assert.equal(t1.findtime, 600);
  assert.equal(t1.bantime, 600);
  assert.equal(t1.backend, 'auto');
  assert.equal(t1.filter.usedns, 'warn');
  assert.equal(t1.ignoreself, true);
  assert.equal(t1.logencoding, 'auto');
  assert.equal(t1.logtimezone, undefined);
  const t2 = jail(t, 't2');
  assert.equal(t2.maxmatches, 7);
  assert.deepEqual(t2.ignoreip, ['127.0.0.1/8', '::1', '10.0.0.0/8', '192.0.2.1']);
  assert.deepEqual(
    t2.logpaths.map((l) => [path.relative(dir, l.pattern), l.files.length, l.start]),
    [
      ['logs/a.log', 1, 'head'],
      ['logs/b.log', 1, 'tail'],
    ],
  );
  const t3 = jail(t, 't3');
  assert.equal(t3.bantime, -1);
  assert.equal(t3.ignoreself, false);
  assert.equal(t3.logtimezone, 'UTC');
});

test('jail: a jail failregex/ignoreregex replaces the filter\'s; %(known/failregex)s extends it', () => {
  const dir = tree({
    ...BASE,
    'filter.d/demo.conf': '[Definition]\nfailregex = ^f1 <HOST>$\n            ^f2 <HOST>$\nignoreregex = ^i1$\n',
    'jail.conf': [
      '[DEFAULT]\nfilter = demo\nlogpath = %(fail2ban_confpath)s/logs/a.log',
      '[plain]\nenabled = true',
      '[replace]\nenabled = true\nfailregex = ^mine <HOST>$\n\n            ^mine2 <HOST>$\nignoreregex =',
      '[extend]\nenabled = true\nfailregex = %(known/failregex)s\n            ^more <HOST>$',
    ].join('\n'),
  });
  const t = readConfigTree(dir);
  assert.deepEqual(jail(t, 'plain').filter.failregex, ['^f1 <HOST>$', '^f2 <HOST>$']);
  assert.deepEqual(jail(t, 'plain').filter.ignoreregex, ['^i1$']);
  assert.deepEqual(jail(t, 'replace').filter.failregex, ['^mine <HOST>$', '^mine2 <HOST>$']);
  assert.deepEqual(jail(t, 'replace').filter.ignoreregex, []);
  assert.deepEqual(jail(t, 'extend').filter.failregex, ['^f1 <HOST>$', '^f2 <HOST>$', '^more <HOST>$']);
});

test('jail: actions, several per line or one per line, [..][..] groups, actname, chain from <known/chain>', () => {
  const dir = tree({
    ...BASE,
    'action.d/mail.conf': '[Definition]\nactionban = mail <dest> <name>\n[Init]\ndest = root\n',
    'jail.conf': [
      '[DEFAULT]',
      'filter = demo',
      'logpath = %(fail2ban_confpath)s/logs/a.log',
      'banaction = fw',
      'chain = <known/chain>',
      'port = 1:2',
      'action_ = %(banaction)s[port="%(port)s", chain="%(chain)s"]',
      'action = %(action_)s',
      '         mail[dest="a@b, c@d"][name=other] smtp.py[host=h, actname=m1]',
      '[one]',
      'enabled = true',
    ].join('\n'),
  });
  const j = jail(readConfigTree(dir), 'one');
  assert.equal(j.banaction, 'fw');
  assert.equal(j.chain, 'INPUT');
  assert.deepEqual(
    j.actions.map((a) => [a.name, a.actname, a.options]),
    [
      ['fw', 'fw', { port: '1:2', chain: '<known/chain>' }],
      ['mail', 'mail-other', { dest: 'a@b, c@d', name: 'other' }],
      ['smtp.py', 'm1', { host: 'h' }],
    ],
  );
  assert.equal(j.actions[0].properties!.actionban, 'fw add INPUT <ip>');
  assert.equal(j.actions[1].properties!.actionban, 'mail a@b, c@d other');
});

test('jail: a bad jail is reported with file, line and jail; the others are returned', () => {
  const dir = tree({
    ...BASE,
    'jail.conf': [
      '[DEFAULT]\nfilter = demo\nlogpath = %(fail2ban_confpath)s/logs/a.log',
      '[good]\nenabled = true',
      '[nofilter]\nenabled = true\nfilter = missing[mode=x]',
      '[noaction]\nenabled = true\naction = nosuch',
      '[nolog]\nenabled = true\nlogpath = /nonexistent/*.log',
      '[badint]\nenabled = true\nmaxretry = five',
      '[badtime]\nenabled = true\nbantime = 10 parsecs',
      '[badspec]\nenabled = true\nfilter = demo[mode=x',
      '[good2]\nenabled = true',
    ].join('\n'),
    'jail.local': '[dupe]\nenabled = true\nport = 1\nport = 2\n',
  });
  const t = readConfigTree(dir);
  assert.deepEqual(t.jails.map((j) => j.name), ['good', 'good2']);
  const byJail = Object.fromEntries(errorsOf(t).map((i) => [i.jail, i]));
  const jc = path.join(dir, 'jail.conf');
  assert.deepEqual(byJail.nofilter && [byJail.nofilter.file, byJail.nofilter.line], [jc, 8]);
  assert.match(byJail.nofilter.message, /filter 'missing' not found/);
  assert.match(byJail.noaction.message, /action 'nosuch' not found/);
  assert.equal(byJail.nolog.line, 14);
  assert.match(byJail.nolog.message, /have not found any log file for nolog jail/);
  assert.equal(byJail.badint.line, 17);
  assert.match(byJail.badtime.message, /not a time value/);
  assert.match(byJail.badspec.message, /invalid filter definition/);
  assert.deepEqual([byJail.dupe.file, byJail.dupe.line], [path.join(dir, 'jail.local'), 4]);
  assert.equal(
    new F2bError('CONFIG_SYNTAX', byJail.dupe.message, { file: byJail.dupe.file, line: byJail.dupe.line, jail: 'dupe' }).describe(),
    `${path.join(dir, 'jail.local')}:4: [dupe] option 'port' in section [dupe] already defined in this file (line 3)`,
  );
});

test('tree: missing folder, missing jail.conf and jail.local, and errors outside jails throw; jail.local alone is an overlay', () => {
  assert.throws(() => readConfigTree('/nonexistent/f2b'), (e: unknown) => e instanceof F2bError && e.code === 'CONFIG_MISSING');
  assert.throws(() => readConfigTree(tree({ 'fail2ban.conf': '' })), (e: unknown) => e instanceof F2bError && e.code === 'CONFIG_MISSING');
  assert.throws(() => readConfigTree(tree({ 'jail.conf': '[DEFAULT]\na = 1\na = 2\n' })), (e: unknown) => e instanceof F2bError && e.code === 'CONFIG_SYNTAX' && e.line === 3);
  // a folder with a jail.local but no jail.conf is laid over the bundled tree (test/bundled.test.ts)
  const laid = readConfigTree(tree({ 'jail.local': '[x]\n' }));
  assert.ok(laid.overlay);
  assert.deepEqual(laid.jails.map((j) => j.name), ['sshd']);
});

test('tree: a file that is not UTF-8 is left out with a warning, as fail2ban does', () => {
  const dir = tree({ ...BASE, 'jail.conf': '[DEFAULT]\nfilter = demo\nlogpath = %(fail2ban_confpath)s/logs/a.log\n[a]\nenabled = true\nport = 1\n' });
  fs.writeFileSync(path.join(dir, 'jail.local'), Buffer.from('[a]\nport = \xff\xfe\n', 'latin1'));
  const t = readConfigTree(dir);
  assert.equal(jail(t, 'a').port, '1');
  const utf = t.issues.filter((i) => /UTF-8/.test(i.message));
  assert.deepEqual(utf.map((i) => [i.severity, i.file]), [['warning', path.join(dir, 'jail.local')]]);
});

test('tree: jailName reads one jail; forceEnable and allowMissingLogs as fail2ban-client -d', () => {
  const dir = tree({ ...BASE, 'jail.conf': '[DEFAULT]\nfilter = demo\n[a]\nenabled = true\nlogpath = /nonexistent.log\n[b]\nlogpath = /nonexistent.log\n' });
  assert.deepEqual(readConfigTree(dir, { jailName: 'b' }).jails, []);
  const forced = readConfigTree(dir, { jailName: 'b', forceEnable: true, allowMissingLogs: true });
  assert.equal(forced.jails[0].enabled, false);
  assert.equal(forced.issues[0].severity, 'warning');
  assert.throws(() => readConfigTree(dir, { jailName: 'zzz' }), F2bError);
});

test('server: [firewall] in fail2ban.local: defaults, check as a time value or 0, ipset_maxelem; errors with file and line', () => {
  const server = (local: string) => readConfigTree(tree({ ...BASE, 'jail.conf': '', 'fail2ban.conf': '[Definition]\n', 'fail2ban.local': local })).server;
  assert.deepEqual(server('').firewall, { checkMs: 60_000 });
  assert.deepEqual(server('[firewall]\ncheck = 5m\nipset_maxelem = 65536\n').firewall, { checkMs: 300_000, ipsetMaxelem: 65536 });
  assert.deepEqual(server('[firewall]\ncheck = 0\n').firewall, { checkMs: 0 });
  const bad = (local: string, re: RegExp, line: number) =>
    assert.throws(
      () => server(local),
      (e: unknown) => e instanceof F2bError && re.test(e.message) && e.line === line && /fail2ban\.local$/.test(e.file ?? ''),
    );
  bad('[firewall]\ncheck = soon\n', /\[firewall\] check: not a time value/, 2);
  bad('[firewall]\n\ncheck = 0.5\n', /check must be 0 \(off\) or from 1s to 1d/, 3);
  bad('[firewall]\nipset_maxelem = 0\n', /ipset_maxelem must be from 1 to 4294967295/, 2);
  bad('[firewall]\nipset_maxelem = lots\n', /ipset_maxelem must be an integer/, 2);
  bad('[firewall]\nchek = 5\n', /\[firewall\] has no option 'chek' \(options: check, ipset_maxelem\)/, 2);
});

test('server: [fleet] in fail2ban.local: off without it or with enabled = false, defaults, lists, Sentinel, errors with file and line', () => {
  const server = (local: string) => readConfigTree(tree({ ...BASE, 'jail.conf': '', 'fail2ban.conf': '[Definition]\n', 'fail2ban.local': local })).server;
  assert.equal(server('').fleet, undefined);
  assert.equal(server('[fleet]\nenabled = false\nredis = redis://10.0.0.5:6379\n').fleet, undefined);
  assert.deepEqual(server('[fleet]\nredis = redis://:pw@10.0.0.5:6379/2\nhost = web-07\n').fleet, {
    url: 'redis://:pw@10.0.0.5:6379/2',
    prefix: 'f2b-fast:',
    host: 'web-07',
    publish: '*',
    apply: '*',
    count: [],
    streamLength: 100000,
    queueLimit: 100000,
  });
  const f = server('[fleet]\nsentinels = 10.0.0.6:26379, [2001:db8::7]:26379\nsentinel_name = main\npublish = sshd nginx-http-auth\napply = *\ncount = sshd\nprefix = web:\nstream_length = 5000\n').fleet!;
  assert.deepEqual(f.sentinels, [{ host: '10.0.0.6', port: 26379 }, { host: '2001:db8::7', port: 26379 }]);
  assert.equal(f.sentinelName, 'main');
  assert.deepEqual([f.publish, f.apply, f.count, f.prefix, f.streamLength], [['sshd', 'nginx-http-auth'], '*', ['sshd'], 'web:', 5000]);
  const bad = (local: string, line: number, msg: RegExp) =>
    assert.throws(() => server(local), (e: unknown) => e instanceof F2bError && e.line === line && msg.test(e.message) && /fail2ban\.local$/.test(e.file ?? ''));
  bad('[fleet]\nhost = a\n', 1, /\[fleet\] needs redis = redis:\/\/HOST:PORT/);
  bad('[fleet]\nredis = http://10.0.0.5\n', 2, /redis:\/\/ or rediss:\/\/ URL/);
  bad('[fleet]\nredis = redis://10.0.0.5\nsentinels = 10.0.0.6\n', 3, /sentinels: '10\.0\.0\.6' is not host:port/);
  bad('[fleet]\nredis = redis://10.0.0.5\nqueue_limit = 0\n', 3, /queue_limit must be at least 1/);
  bad('[fleet]\nredis = redis://10.0.0.5\nstream_length = many\n', 3, /stream_length must be an integer/);
  bad('[fleet]\nredis = redis://10.0.0.5\napplly = *\n', 3, /has no option 'applly'/);
  bad('[fleet]\nredis = rediss://10.0.0.5\ntls_ca = /nonexistent/ca.pem\n', 3, /tls_ca: cannot read \/nonexistent\/ca\.pem/);
  bad(`[fleet]\nredis = rediss://10.0.0.5\ntls_cert = ${__filename}\n`, 3, /tls_cert and tls_key go together/);
  assert.deepEqual(server(`[fleet]\nredis = rediss://10.0.0.5\ntls_ca = ${__filename}\n`).fleet?.tls, { ca: __filename });
});

test('server: fail2ban.conf layered, defaults for what is missing', () => {
  const dir = tree({
    ...BASE,
    'jail.conf': '',
    'fail2ban.conf': '[DEFAULT]\nloglevel = INFO\ndbpurgeage = 2d\n[Definition]\nlogtarget = SYSOUT\n',
    'fail2ban.d/x.local': '[Definition]\nloglevel = DEBUG\n',
  });
  assert.deepEqual(readConfigTree(dir).server, {
    loglevel: 'DEBUG',
    logtarget: 'SYSOUT',
    socket: '/var/run/fail2ban/fail2ban.sock',
    pidfile: '/var/run/fail2ban/fail2ban.pid',
    dbfile: '/var/lib/fail2ban/fail2ban.sqlite3',
    dbpurgeage: 172800,
    syslogsocket: 'auto',
    allowipv6: 'auto',
  });
});

test('readFilter: by name with options, from filter.d or the config folder, or by path', () => {
  const dir = tree({
    'filter.d/x.conf': '[Definition]\nfailregex = ^<mode> <HOST>$\nprefregex = ^<F-CONTENT>.+</F-CONTENT>$\ndatepattern = {^LN-BEG}\n[Init]\nmode = n\n',
    'filter.d/x.local': '[Init]\nmode = local\n',
    'other/y.conf': '[Definition]\nfailregex = ^y <HOST>$\nmaxlines = 2\n',
  });
  const a = readFilter(path.join(dir, 'filter.d'), 'x');
  assert.deepEqual([a.name, a.file, a.failregex, a.prefregex, a.datepattern, a.maxlines, a.usedns], [
    'x',
    path.join(dir, 'filter.d/x.conf'),
    ['^local <HOST>$'],
    '^<F-CONTENT>.+</F-CONTENT>$',
    '{^LN-BEG}',
    1,
    'warn',
  ]);
  assert.deepEqual(readFilter(dir, 'x[mode=given]').failregex, ['^given <HOST>$']);
  assert.deepEqual(readFilter(path.join(dir, 'filter.d'), path.join(dir, 'filter.d/x.conf')).failregex, ['^local <HOST>$']);
  const y = readFilter(path.join(dir, 'filter.d'), path.join(dir, 'other/y.conf'));
  assert.deepEqual([y.name, y.failregex, y.maxlines], ['y', ['^y <HOST>$'], 2]);
  // a jail's options as vars: %(..)s variables, and filter options override the filter's
  assert.deepEqual(readFilter(dir, 'x', { failregex: '^jail <HOST>$', usedns: 'no' }).failregex, ['^jail <HOST>$']);
  assert.equal(readFilter(dir, 'x', { usedns: 'no' }).usedns, 'no');
  assert.throws(() => readFilter(path.join(dir, 'filter.d'), 'nope'), (e: unknown) => e instanceof F2bError && e.code === 'FILTER_MISSING');
});

test('edge fixture: enabled jails, actnames, logpath with a space, inline comments, include order', () => {
  const dir = path.join(FIXTURES, 'edge');
  const t = readConfigTree(dir);
  assert.deepEqual(t.jails.map((j) => j.name).slice(0, 4), ['edge', 'edge-modes', 'edge-known', 'edge-layered']);
  assert.ok(!t.jails.some((j) => j.name === 'Upper'), 'a section without enabled stays off');
  const edge = jail(t, 'edge');
  assert.deepEqual([edge.port, edge.protocol, edge.chain, edge.bantime], ['22', 'tcp#not-a-comment', 'INPUT', 3600]);
  assert.equal(edge.actions[0].properties!.actionban, '<fw> add INPUT <ip> 22/tcp#not-a-comment <matches> # banned');
  assert.equal(edge.actions[0].properties!['fw?family=inet6'], 'fw6');
  assert.deepEqual(jail(t, 'edge-actions').actions.map((a) => a.actname), ['fw-udp', 'fw-other', 'third', 'fw']);
  assert.deepEqual(
    jail(t, 'edge-logpath').logpaths.map((l) => [path.relative(dir, l.pattern), l.files.map((f) => path.basename(f)), l.start]),
    [
      ['logs/with space.txt', ['with space.txt'], 'tail'],
      ['logs/[ab].txt', ['a.txt', 'b.txt'], 'head'],
    ],
  );
  assert.deepEqual([jail(t, 'edge-layered').port, jail(t, 'edge-layered').protocol], ['22,80', 'udp+local']);
  assert.equal(jail(t, 'edge-order').port, 'base-extra.local yes');
  assert.deepEqual([jail(t, 'edge-names').maxretry, jail(t, 'edge-names').findtime], [3, 129600]);
  assert.equal(jail(t, 'edge-percent').filter.datepattern, '^%Y-%m-%d %H:%M:%S');
  assert.deepEqual(jail(t, 'edge-known').filter.ignoreregex, ['^ignored <HOST> edged$']);
  const selfref = errorsOf(t).find((i) => i.jail === 'edge-selfref')!;
  assert.equal(selfref.file, path.join(dir, 'filter.d/edge-selfref.conf'));
  const twice = errorsOf(t).find((i) => i.jail === 'edge-known-twice')!;
  assert.deepEqual([twice.file, twice.line], [path.join(dir, 'jail.d/20-override.local'), 5]);
});

// ---------------------------------------------------------------------------------------------
// differential: fail2ban's own reader (test/fixtures/config/fail2ban-oracle.py) as the oracle

interface OracleAction {
  name: string;
  props: Record<string, unknown>;
  /** Python actions: [file, json kwargs] */
  py?: [string, string];
}

/** What fail2ban's server holds for one jail after replaying its client's command stream. */
interface OracleJail {
  jail: string;
  error?: string;
  backend?: string;
  failregex: string[];
  ignoreregex: string[];
  prefregex?: string;
  datepattern?: string;
  maxlines?: number;
  usedns?: string;
  journalmatch: string[][];
  ignoreip: string[];
  logpaths: [string, string][];
  actions: OracleAction[];
  /** every other `set <jail> <key> <value>` */
  values: Record<string, unknown>;
  /** findtime/bantime in seconds, by fail2ban's str2seconds */
  seconds: Record<string, number>;
  /** the typed jail options fail2ban's JailReader read */
  opts: Record<string, unknown>;
  /** server-wide `set <key> <value>` (from fail2ban.conf) */
  server: Record<string, unknown>;
}

interface RawRecord {
  jail: string;
  stream?: unknown[][];
  opts?: Record<string, unknown>;
  seconds?: Record<string, number>;
  error?: string;
}

function replay(rec: RawRecord): OracleJail {
  const j: OracleJail = {
    jail: rec.jail,
    failregex: [],
    ignoreregex: [],
    journalmatch: [],
    ignoreip: [],
    logpaths: [],
    actions: [],
    values: {},
    seconds: rec.seconds ?? {},
    opts: rec.opts ?? {},
    server: {},
  };
  if (rec.error) j.error = rec.error;
  const action = (name: unknown) => j.actions.find((a) => a.name === name)!;
  for (const cmd of rec.stream ?? []) {
    const [verb, , key, ...rest] = cmd as [string, string, string, ...unknown[]];
    if (verb === 'config-error') j.error = String(cmd[1]);
    else if (verb === 'set' && cmd.length === 3) j.server[cmd[1] as string] = cmd[2];
    else if (verb === 'add') j.backend = key;
    else if (verb === 'multi-set' && (key === 'addfailregex' || key === 'addignoreregex')) {
      j[key === 'addfailregex' ? 'failregex' : 'ignoreregex'].push(...(rest[0] as string[]));
    } else if (verb === 'multi-set' && key === 'action') {
      for (const [k, v] of rest[1] as [string, unknown][]) action(rest[0]).props[k] = v;
    } else if (verb !== 'set') continue;
    else if (key === 'addfailregex') j.failregex.push(rest[0] as string);
    else if (key === 'addignoreregex') j.ignoreregex.push(rest[0] as string);
    else if (key === 'prefregex' || key === 'datepattern' || key === 'usedns') j[key] = rest[0] as string;
    else if (key === 'maxlines') j.maxlines = Number(rest[0]);
    else if (key === 'addjournalmatch') j.journalmatch.push(rest as string[]);
    else if (key === 'addignoreip') j.ignoreip.push(...(rest as string[]));
    else if (key === 'addlogpath') j.logpaths.push([rest[0] as string, rest[1] as string]);
    else if (key === 'addaction') {
      const a: OracleAction = { name: rest[0] as string, props: {} };
      if (rest.length === 3) a.py = [rest[1] as string, rest[2] as string];
      j.actions.push(a);
    } else if (key === 'action') action(rest[0]).props[rest[1] as string] = rest[2];
    else j.values[key] = rest[0];
  }
  return j;
}

function fail2banJails(basedir: string, jails: string[] = []): OracleJail[] {
  const out = execFileSync(PYTHON, [ORACLE, 'jails', basedir, JSON.stringify(jails)], { encoding: 'utf8', maxBuffer: 256 << 20 });
  return (JSON.parse(out) as RawRecord[]).map(replay);
}

/** Tallies one comparison per value; keeps the disagreements for the failure message. */
class Tally {
  compared = 0;
  agreed = 0;
  readonly diffs: string[] = [];
  readonly perJail = new Map<string, number>();

  check(jail: string, what: string, mine: unknown, theirs: unknown): void {
    this.compared++;
    this.perJail.set(jail, (this.perJail.get(jail) ?? 0) + 1);
    try {
      assert.deepStrictEqual(mine, theirs);
      this.agreed++;
    } catch {
      this.diffs.push(`[${jail}] ${what}: f2b-fast ${JSON.stringify(mine)} != fail2ban ${JSON.stringify(theirs)}`);
    }
  }
}

/** A typed fail2ban value (bool, int, str) as the string f2b-fast keeps. */
function pyText(v: unknown): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return String(v);
}
/** f2b-fast's option text, normalised like fail2ban's typed value `theirs` (bool, int). */
function typedLike(mine: string | undefined, theirs: unknown, key: string): string | undefined {
  if (mine === undefined) return undefined;
  if (BOOL_OPTS.has(key)) return asBoolText(mine);
  if (typeof theirs === 'number') return String(parseInt(mine.replace(/_/g, ''), 10));
  return mine;
}
const asBoolText = (v: string | undefined): string | undefined =>
  v === undefined ? undefined : ['1', 'on', 'true', 'yes'].includes(v.toLowerCase()) ? 'true' : 'false';
const BOOL_OPTS = new Set(['enabled', 'ignoreself', 'bantime.increment', 'bantime.overalljails', 'actionstart_on_demand', 'actionrepair_on_unban', 'norestored']);

function compareJail(t: Tally, mine: JailDef, o: OracleJail): void {
  const n = o.jail;
  const f = mine.filter;
  t.check(n, 'backend', mine.backend, o.backend);
  t.check(n, 'failregex', f.failregex, o.failregex);
  t.check(n, 'ignoreregex', f.ignoreregex, o.ignoreregex);
  t.check(n, 'prefregex', f.prefregex, o.prefregex || undefined);
  t.check(n, 'datepattern', f.datepattern, o.datepattern);
  t.check(n, 'maxlines', f.maxlines, o.maxlines ?? 1);
  t.check(n, 'usedns', f.usedns, (o.usedns ?? 'warn').toLowerCase());
  t.check(n, 'journalmatch', (f.journalmatch ?? '').split('\n').filter(Boolean).map((l) => l.split(/\s+/).filter(Boolean)), o.journalmatch);
  t.check(n, 'maxretry', mine.maxretry, o.values.maxretry ?? 3);
  t.check(n, 'maxmatches', mine.maxmatches, o.values.maxmatches ?? 5);
  t.check(n, 'findtime', mine.findtime, o.seconds.findtime ?? 600);
  t.check(n, 'bantime', mine.bantime, Math.trunc(o.seconds.bantime ?? 600));
  t.check(n, 'ignoreip', mine.ignoreip, o.ignoreip);
  t.check(n, 'ignoreself', mine.ignoreself, o.values.ignoreself ?? true);
  t.check(n, 'ignorecommand', mine.ignorecommand, o.values.ignorecommand ?? '');
  t.check(n, 'logencoding', mine.logencoding, o.values.logencoding ?? 'auto');
  t.check(n, 'logtimezone', mine.logtimezone, o.values.logtimezone);
  const files = mine.logpaths.flatMap((l) => l.files.map((p) => [p, l.start]));
  t.check(n, 'logpath files', files.sort(), [...o.logpaths].sort());
  for (const key of Object.keys(o.values).filter((k) => k.startsWith('bantime.'))) {
    t.check(n, key, typedLike(mine.options[key], o.values[key], key), pyText(o.values[key]));
  }
  // every jail option fail2ban's JailReader read, as f2b-fast's options hold it
  for (const [key, v] of Object.entries(o.opts)) {
    if (v === null || key === 'config-error') continue;
    t.check(n, `option ${key}`, typedLike(mine.options[key], v, key), pyText(v));
  }
  t.check(n, 'actions', mine.actions.map((a) => a.actname), o.actions.map((a) => a.name));
  for (const oa of o.actions) {
    const a = mine.actions.find((x) => x.actname === oa.name);
    if (!a) continue;
    if (oa.py) {
      t.check(n, `action ${oa.name} python`, [a.file, a.options], [oa.py[0], JSON.parse(oa.py[1])]);
      continue;
    }
    // fail2ban streams None for the hooks of a file without [Definition]: f2b-fast leaves them out
    const props = Object.entries(oa.props).filter(([, v]) => v !== null);
    for (const [k, v] of props) {
      const m = a.properties?.[k];
      t.check(n, `action ${oa.name} ${k}`, typedLike(m, v, k), pyText(v));
    }
    t.check(n, `action ${oa.name} keys`, Object.keys(a.properties ?? {}).sort(), props.map(([k]) => k).sort());
  }
}

/** Filters with a mode-like option, and the values fail2ban's filters document. */
const FILTER_VARIANTS: [string, string, string[]][] = [
  ['sshd', 'mode', ['normal', 'ddos', 'extra', 'aggressive']],
  ['sshd', 'publickey', ['nofail', 'invalid', 'any', 'ignore']],
  ['sshd', 'logtype', ['file', 'short', 'journal', 'rfc5424']],
  ['apache-auth', 'mode', ['normal', 'aggressive']],
  ['dovecot', 'mode', ['normal', 'aggressive']],
  ['exim', 'mode', ['normal', 'aggressive']],
  ['freeswitch', 'mode', ['normal', 'ddos', 'extra']],
  ['nginx-http-auth', 'mode', ['normal', 'auth', 'fallback', 'aggressive']],
  ['postfix', 'mode', ['more', 'normal', 'rbl', 'auth', 'errors', 'ddos', 'extra', 'aggressive']],
  ['postfix', 'logtype', ['short', 'journal']],
  ['sendmail-reject', 'mode', ['normal', 'extra', 'aggressive']],
  ['traefik-auth', 'mode', ['normal', 'ddos', 'aggressive']],
  ['guacamole', 'logging', ['catalina', 'webapp']],
  ['asterisk', 'logtype', ['journal']],
];

/** Extra jails exercising the rules the stock jails do not reach. */
function extraJails(logs: string, actions: string[]): string {
  const lines: string[] = [];
  for (const [filter, key, values] of FILTER_VARIANTS) {
    for (const v of values) lines.push(`[v-${filter}-${key}-${v}]`, `filter = ${filter}[${key}=${v}]`, `logpath = ${logs}/a.log`, '');
  }
  for (const a of actions) lines.push(`[act-${a}]`, 'filter = sshd', `logpath = ${logs}/a.log`, `action = ${a}`, '');
  lines.push(
    '[x-known]',
    'filter = sshd',
    `logpath = ${logs}/a.log`,
    'failregex = %(known/failregex)s',
    '            ^extra line from <HOST>$',
    'ignoreregex = ^ignore me <HOST>$',
    '',
    '[x-replace]',
    'filter = sshd[mode=aggressive]',
    'failregex = ^only this <HOST>$',
    `logpath = ${logs}/a.log`,
    '',
    '[x-globs]',
    'filter = sshd',
    'backend = polling',
    `logpath = ${logs}/*.log`,
    `          ${logs}/b?.txt tail`,
    `          ${logs}/[ab].log head`,
    `          ${logs}/none-*.log`,
    '',
    '[x-systemd]',
    'filter = sshd',
    'backend = systemd[journalflags=1]',
    'logpath = /nonexistent',
    '',
    '[x-actions]',
    'filter = sshd',
    'port = ssh,2222',
    `logpath = ${logs}/a.log`,
    'blocklist_de_apikey = KEY',
    'action = %(action_mwl)s',
    '         iptables-allports[name=extra, blocktype=DROP] %(action_blocklist_de)s',
    '         smtp.py[host=localhost, actname=mailer]',
    '         %(banaction)s[name=x-actions-udp, protocol=udp][port=53]',
    '',
    '[x-times]',
    'filter = sshd',
    'bantime = 1h 30m',
    'findtime = 1d12h',
    'maxretry = 07',
    'maxmatches = 2',
    'ignoreip = 127.0.0.1/8 ::1, 10.0.0.0/8',
    '   192.168.1.1',
    'ignoreself = false',
    'ignorecommand = /bin/true <ip>',
    `logpath = ${logs}/a.log`,
    'logtimezone = UTC',
    'logencoding = utf-8',
    'bantime.increment = true',
    'bantime.factor = 2',
    'bantime.maxtime = 5w',
    'bantime.overalljails = yes',
    '',
    '[x-filteropts]',
    'filter = sshd[usedns=no, maxlines=3, datepattern="^%%Y"]',
    'usedns = yes',
    'maxlines = 2',
    'datepattern = {^LN-BEG}',
    'prefregex = ^jail <F-CONTENT>.+</F-CONTENT>$',
    `logpath = ${logs}/a.log`,
    '',
    '[x-jailopts]',
    'filter = sshd',
    'usedns = RAW',
    'maxlines = 2',
    'datepattern = ^%%H',
    '              {^LN-BEG}',
    'journalmatch = _COMM=x',
    `logpath = ${logs}/a.log`,
    '',
    '[x-refused]',
    'filter = sshd',
    'action = %(action_blocklist_de)s',
    `logpath = ${logs}/a.log`,
    '',
    '[x-nofilter]',
    'filter =',
    'failregex = ^x <HOST>$',
    `logpath = ${logs}/a.log`,
    '',
  );
  return lines.join('\n');
}

test('differential: every stock jail, filter mode and action.d file resolves as fail2ban resolves it', { skip: !haveFail2ban && 'fail2ban 1.0.2 (python3, /etc/fail2ban) not installed' }, (t) => {
  const tmp = tempDir('f2b-diff-');
  const etc = path.join(tmp, 'etc');
  const logs = path.join(tmp, 'logs');
  fs.cpSync(STOCK, etc, { recursive: true });
  fs.mkdirSync(logs);
  for (const f of ['a.log', 'b.log', 'ab.log', 'b1.txt', 'b2.txt', 'c.txt']) fs.writeFileSync(path.join(logs, f), '');
  const actions = fs
    .readdirSync(path.join(etc, 'action.d'))
    .filter((f) => f.endsWith('.conf'))
    .map((f) => f.slice(0, -5));
  fs.writeFileSync(path.join(etc, 'jail.local'), extraJails(logs, actions));

  const oracle = fail2banJails(etc);
  const tree = readConfigTree(etc, { forceEnable: true, allowMissingLogs: true });
  const tally = new Tally();
  const stock = new Set(parseIni(fs.readFileSync(path.join(STOCK, 'jail.conf'), 'utf8'), 'jail.conf').sections.keys());
  let stockJails = 0;
  const refused: string[] = [];
  const { server } = oracle[0];
  const s = tree.server;
  tally.check('(server)', 'fail2ban.conf', [s.loglevel, s.logtarget, s.syslogsocket, s.allowipv6, s.dbfile, s.dbmaxmatches, s.dbpurgeage], [
    server.loglevel,
    server.logtarget,
    server.syslogsocket,
    server.allowipv6,
    server.dbfile,
    server.dbmaxmatches,
    str2seconds(String(server.dbpurgeage)),
  ]);
  for (const o of oracle) {
    if (stock.has(o.jail)) stockJails++;
    const mine = tree.jails.find((j) => j.name === o.jail);
    const myError = tree.issues.find((i) => i.jail === o.jail && i.severity === 'error');
    tally.check(o.jail, 'resolves', { ok: !!mine, error: !!myError }, { ok: !o.error, error: !!o.error });
    if (o.error && myError) refused.push(`${o.jail}: fail2ban "${o.error}", f2b-fast "${myError.message}"`);
    if (mine && !o.error) compareJail(tally, mine, o);
  }
  t.diagnostic(
    `${oracle.length} jails (${stockJails} stock, ${oracle.length - stockJails} variants/actions/extras), ` +
      `${tally.compared} values compared, ${tally.agreed} agreed, ${refused.length} refused by both`,
  );
  for (const r of refused) t.diagnostic(`refused by both: ${r}`);
  assert.equal(oracle.length, tree.jails.length + errorsOf(tree).length, 'every jail either resolved or reported');
  if (process.env.F2B_DIFF_OUT) fs.writeFileSync(process.env.F2B_DIFF_OUT, tally.diffs.join('\n'));
  assert.deepEqual(tally.diffs.slice(0, 40), []);
  assert.ok(stockJails >= 91 && tally.compared > 5000, `${stockJails} stock jails, ${tally.compared} values`);
});

test('differential: readFilter gives what fail2ban-regex reads, for every filter.d file and mode', { skip: !haveFail2ban && 'fail2ban 1.0.2 not installed' }, (t) => {
  const names = fs.readdirSync(path.join(STOCK, 'filter.d')).filter((f) => f.endsWith('.conf')).map((f) => f.slice(0, -5));
  const specs = [...names, ...FILTER_VARIANTS.flatMap(([f, key, values]) => values.map((v) => `${f}[${key}=${v}]`))];
  const out = execFileSync(PYTHON, [ORACLE, 'filters', STOCK, JSON.stringify(specs)], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const tally = new Tally();
  for (const rec of JSON.parse(out) as { spec: string; stream?: unknown[][]; error?: string }[]) {
    const o = replay({ jail: 'fail2ban-regex-jail', stream: rec.stream, error: rec.error });
    let mine: FilterDef | undefined;
    try {
      mine = readFilter(path.join(STOCK, 'filter.d'), rec.spec);
    } catch {
      mine = undefined;
    }
    tally.check(rec.spec, 'resolves', !!mine, !o.error);
    if (!mine || o.error) continue;
    tally.check(rec.spec, 'failregex', mine.failregex, o.failregex);
    tally.check(rec.spec, 'ignoreregex', mine.ignoreregex, o.ignoreregex);
    tally.check(rec.spec, 'prefregex', mine.prefregex, o.prefregex || undefined);
    tally.check(rec.spec, 'datepattern', mine.datepattern, o.datepattern);
    tally.check(rec.spec, 'maxlines', mine.maxlines, o.maxlines ?? 1);
    tally.check(rec.spec, 'usedns', mine.usedns, (o.usedns ?? 'warn').toLowerCase());
    tally.check(rec.spec, 'journalmatch', (mine.journalmatch ?? '').split('\n').filter(Boolean).map((l) => l.split(/\s+/)), o.journalmatch);
  }
  t.diagnostic(`${specs.length} filter specs (${names.length} files), ${tally.compared} values compared, ${tally.agreed} agreed`);
  assert.deepEqual(tally.diffs, []);
});

test('differential: str2seconds agrees with fail2ban on time expressions', { skip: !haveFail2ban && 'fail2ban not installed' }, () => {
  const exprs = ['600', '10m', '1h', '1d', '1w', '1mo', '1y', '1d12h30m', '0d 1h 30m', '1h+30m', '1year-6mo', '6 months', '2 * (1h - 30m)', '-1',
    '1.5h', '10 MINUTES', '3 weeks 2 days', '1yy', '2hh', '5ss', '1 2', '48h', '5w', '1mon', '1dd', '100 / 3', '7 // 2', '-7 % 3', '2 ** 3 ** 2', '-2 ** 2',
    '1e3', '.5h', '1_000', '1da', '1 year 1 month 1 week 1 day 1 hour 1 min 1 sec'];
  const theirs = JSON.parse(execFileSync(PYTHON, [ORACLE, 'seconds', JSON.stringify(exprs)], { encoding: 'utf8' })) as (number | null)[];
  const mine = exprs.map((e) => {
    try {
      return str2seconds(e);
    } catch {
      return null;
    }
  });
  assert.deepEqual(mine, theirs);
});

test('stock tree: Debian enables sshd only; its missing log is an error naming file, line and jail', { skip: !fs.existsSync(`${STOCK}/jail.conf`) && 'no /etc/fail2ban' }, () => {
  const t = readConfigTree(STOCK);
  const sshd = t.jails.find((j) => j.name === 'sshd');
  const issue = t.issues.find((i) => i.jail === 'sshd' && i.severity === 'error');
  assert.ok(sshd || issue, 'sshd either resolves or is reported');
  if (issue) {
    const lines = fs.readFileSync(path.join(STOCK, 'jail.conf'), 'utf8').split('\n');
    const logpathLine = lines.indexOf('logpath = %(sshd_log)s', lines.indexOf('[sshd]')) + 1;
    assert.deepEqual([issue.file, issue.line], [path.join(STOCK, 'jail.conf'), logpathLine]);
    assert.match(issue.message, /have not found any log file for sshd jail/);
  }
  assert.equal(t.jails.length + errorsOf(t).length, 1);
});

test('differential: edge-case fixture tree resolves as fail2ban resolves it', { skip: !haveFail2ban && 'fail2ban 1.0.2 not installed' }, (t) => {
  const dir = path.join(FIXTURES, 'edge');
  const oracle = fail2banJails(dir);
  const tree = readConfigTree(dir, { forceEnable: true, allowMissingLogs: true });
  const tally = new Tally();
  for (const o of oracle) {
    const mine = tree.jails.find((j) => j.name === o.jail);
    const myError = tree.issues.find((i) => i.jail === o.jail && i.severity === 'error');
    tally.check(o.jail, 'resolves', { ok: !!mine, error: !!myError }, { ok: !o.error, error: !!o.error });
    if (mine && !o.error) compareJail(tally, mine, o);
    if (myError && o.error) t.diagnostic(`refused by both: ${o.jail}: ${myError.message}`);
  }
  t.diagnostic(`${oracle.length} jails, ${tally.compared} values compared, ${tally.agreed} agreed`);
  assert.deepEqual(tally.diffs, []);
  assert.equal(oracle.length, 22);
});

test('a missing plain logpath is watched with a warning; a glob that matches nothing is an error', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'f2b-logpath-'));
  try {
    fs.mkdirSync(path.join(dir, 'filter.d'));
    fs.writeFileSync(path.join(dir, 'filter.d/x.conf'), '[Definition]\nfailregex = ^fail <HOST>$\n');
    fs.writeFileSync(
      path.join(dir, 'jail.conf'),
      `[later]\nenabled = true\nfilter = x\nlogpath = ${dir}/later.log\n\n[noglob]\nenabled = true\nfilter = x\nlogpath = ${dir}/*.nothing\n`,
    );
    const t = readConfigTree(dir);
    const later = t.jails.find((j) => j.name === 'later');
    assert.deepEqual(later?.logpaths, [{ pattern: `${dir}/later.log`, files: [`${dir}/later.log`], start: 'head' }]);
    const warn = t.issues.find((i) => i.jail === 'later' && /logpath|exist/.test(i.message));
    assert.equal(warn?.severity, 'warning');
    assert.match(warn?.message ?? '', /does not exist yet: watching for it/);
    assert.equal(warn?.line, 4);
    const err = t.issues.find((i) => i.jail === 'noglob' && i.severity === 'error');
    assert.match(err?.message ?? '', /have not found any log file for noglob jail/);
    assert.ok(!t.jails.some((j) => j.name === 'noglob'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
