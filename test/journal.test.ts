// The systemd journal backend (src/tailer/journal.ts): backend options and journalmatch as
// fail2ban reads them, entries formatted as fail2ban's FilterSystemd formats them (checked
// against its own code where the installed fail2ban can run), and JournalReader following REAL
// journal files written by systemd-journal-remote (test/helpers/journal.ts) with journalctl.
// Every wait is a bounded poll of a condition.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it, test, type TestContext } from 'node:test';
import { ManualClock } from '../src/clock';
import { F2bError } from '../src/errors';
import {
  JOURNAL_LIMITS,
  JournalReader,
  formatEntry,
  journalSource,
  parseJournalMatch,
  parseSystemdBackend,
  type JournalBatch,
  type JournalEvent,
  type JournalReaderOptions,
} from '../src/tailer/journal';
import { entry, testJournal, type TestEntry } from './helpers/journal';
import { tmpDir } from './helpers/tmp';

async function waitFor(what: string, condition: () => boolean, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const configError = (re: RegExp) => (e: unknown) => e instanceof F2bError && e.code === 'CONFIG_VALUE' && re.test(e.message);

describe('parseSystemdBackend', () => {
  const args = (backend: string, env: NodeJS.ProcessEnv = {}) => journalSource(parseSystemdBackend(backend, env));

  it('defaults to the system journals of every machine, as fail2ban opens them (flags 4)', () => {
    assert.deepEqual(parseSystemdBackend('systemd', {}), { journalflags: 4 });
    assert.deepEqual(args('systemd'), ['--system', '--merge']);
    assert.deepEqual(args('SystemD[]'), ['--system', '--merge']);
    // F2B_SYSTEMD_DEFAULT_FLAGS replaces the default, not given flags
    assert.deepEqual(args('systemd', { F2B_SYSTEMD_DEFAULT_FLAGS: '0' }), ['--merge']);
    assert.deepEqual(args('systemd[journalflags=12]', { F2B_SYSTEMD_DEFAULT_FLAGS: '0' }), ['--system', '--user', '--merge']);
    // the local-only flag is journalctl's default: no --merge
    assert.deepEqual(args('systemd[journalflags=1]'), []);
    assert.deepEqual(args('systemd[journalflags=" 5 "]'), ['--system']);
  });

  it('maps journalpath, journalfiles and namespace to journalctl options', (t) => {
    assert.deepEqual(args('systemd[journalpath=/var/log/journal/remote]'), ['--directory=/var/log/journal/remote', '--merge']);
    assert.deepEqual(args('systemd[journalpath="/srv/root", journalflags=20]'), ['--root=/srv/root', '--system', '--merge']);
    assert.deepEqual(args('systemd[namespace=web]'), ['--namespace=web', '--system', '--merge']);
    assert.deepEqual(args('systemd[namespace=web, journalflags=64]'), ['--namespace=+web', '--merge']);
    assert.deepEqual(args('systemd[journalflags=36]'), ['--namespace=*', '--system', '--merge']);
    const dir = tmpDir(t);
    for (const f of ['a.journal', 'b.journal', 'c.txt']) fs.writeFileSync(path.join(dir, f), '');
    const files = `${dir}/*.journal, ${dir}/a.journal ${dir}/c.txt`;
    assert.deepEqual(parseSystemdBackend(`systemd[journalfiles="${files}"]`, {}).journalfiles, [`${dir}/*.journal`, `${dir}/a.journal`, `${dir}/c.txt`]);
    assert.deepEqual(args(`systemd[journalfiles="${files}"]`), [`--file=${dir}/a.journal`, `--file=${dir}/b.journal`, `--file=${dir}/c.txt`, '--merge']);
    assert.throws(() => args(`systemd[journalfiles=${dir}/*.none]`), configError(/no such journal file/));
  });

  it('rejects what fail2ban or libsystemd reject, and what journalctl cannot express', () => {
    assert.throws(() => parseSystemdBackend('auto', {}), configError(/not a systemd backend/));
    assert.throws(() => parseSystemdBackend('systemd[journalmatch=x]', {}), configError(/unknown option journalmatch/));
    assert.throws(() => parseSystemdBackend('systemd[journalflags=abc]', {}), configError(/journalflags = abc: expected an integer/));
    assert.throws(() => parseSystemdBackend('systemd[journalflags=128]', {}), configError(/from 0 to 127/));
    assert.throws(() => parseSystemdBackend('systemd[journalflags=-4]', {}), configError(/from 0 to 127/));
    assert.throws(() => parseSystemdBackend('systemd', { F2B_SYSTEMD_DEFAULT_FLAGS: 'x' }), configError(/F2B_SYSTEMD_DEFAULT_FLAGS = x/));
    assert.throws(() => parseSystemdBackend('systemd[journalflags=2]', {}), configError(/runtime-only.*journalpath = \/run\/log\/journal/));
    assert.throws(() => parseSystemdBackend('systemd[journalflags=16]', {}), configError(/needs journalpath/));
    assert.throws(() => parseSystemdBackend('systemd[journalpath=/a, journalflags=1]', {}), configError(/only the flags 4/));
    assert.throws(() => parseSystemdBackend('systemd[journalfiles=/a, journalflags=4]', {}), configError(/cannot be combined with journalfiles/));
    assert.throws(() => parseSystemdBackend('systemd[journalpath=/a, journalfiles=/b]', {}), configError(/cannot both be given/));
    assert.throws(() => parseSystemdBackend('systemd[journalpath=]', {}), configError(/journalpath is empty/));
    assert.throws(() => parseSystemdBackend('systemd[namespace=*]', {}), configError(/not a journal namespace name/));
    assert.throws(() => parseSystemdBackend('systemd[namespace="a b"]', {}), configError(/not a journal namespace name/));
    assert.throws(() => parseSystemdBackend('systemd[journalpath=/a', {}), configError(/bad option syntax/));
  });
});

describe('parseJournalMatch', () => {
  it('turns journalmatch lines into journalctl match arguments, lines ORed', () => {
    assert.deepEqual(parseJournalMatch('_SYSTEMD_UNIT=sshd.service + _COMM=sshd'), ['_SYSTEMD_UNIT=sshd.service', '+', '_COMM=sshd']);
    assert.deepEqual(parseJournalMatch('_SYSTEMD_UNIT=a.service _COMM=a\n\n_COMM=b'), ['_SYSTEMD_UNIT=a.service', '_COMM=a', '+', '_COMM=b']);
    assert.deepEqual(parseJournalMatch(`MESSAGE="two words" '_COMM=x y' SYSLOG_IDENTIFIER=a\\ b + +`), ['MESSAGE=two words', '_COMM=x y', 'SYSLOG_IDENTIFIER=a b']);
    assert.deepEqual(parseJournalMatch(undefined), []);
    assert.deepEqual(parseJournalMatch('  \n'), []);
  });

  it('rejects terms that are not FIELD=value, so none can become a journalctl option or path', () => {
    for (const bad of ['--since=now', '/usr/sbin/sshd', '__CURSOR=x', '_comm=sshd', 'sshd', '=x', '_COMM=a "open']) {
      assert.throws(() => parseJournalMatch(bad), configError(/journalmatch/), bad);
    }
  });
});

describe('formatEntry', () => {
  it('writes HOST IDENT[PID]: MESSAGE timed by the entry', () => {
    const e = { __REALTIME_TIMESTAMP: '1700000000250000', _HOSTNAME: 'web1', SYSLOG_IDENTIFIER: 'sshd', _PID: '4242', _COMM: 'sshd-session', MESSAGE: 'Invalid user bob from 192.0.2.7' };
    assert.deepEqual(formatEntry(e), { line: 'web1 sshd[4242]: Invalid user bob from 192.0.2.7', time: 1700000000.25 });
    // _SOURCE_REALTIME_TIMESTAMP (the sender's time) wins; SYSLOG_PID wins over _PID; _COMM stands in
    assert.deepEqual(formatEntry({ ...e, _SOURCE_REALTIME_TIMESTAMP: '1699999999000001', SYSLOG_PID: '7', SYSLOG_IDENTIFIER: '' }), {
      line: 'web1 sshd-session[7]: Invalid user bob from 192.0.2.7',
      time: 1699999999.000001,
    });
    assert.equal(formatEntry({ __REALTIME_TIMESTAMP: '1', MESSAGE: 'a\nb\r\nc' })!.line, 'a\\nb\r\\nc');
    assert.equal(formatEntry({ __REALTIME_TIMESTAMP: '1', MESSAGE: [104, 105, 0xff, 0x0a, 0x21] })!.line, 'hi\ufffd\\n!');
    assert.equal(formatEntry({ __REALTIME_TIMESTAMP: '1', MESSAGE: ['one', [0x74, 0x77, 0x6f]], _HOSTNAME: 'h' })!.line, 'h one two');
    assert.equal(formatEntry({ __REALTIME_TIMESTAMP: '1', MESSAGE: null, SYSLOG_IDENTIFIER: 'x' })!.line, 'x: ');
    assert.equal(formatEntry({ __REALTIME_TIMESTAMP: '1', SYSLOG_IDENTIFIER: 'kernel', __MONOTONIC_TIMESTAMP: '3000001', MESSAGE: 'm' })!.line, 'kernel: [    3.000001] m');
    assert.equal(formatEntry({ MESSAGE: 'no time' }), null);
    assert.equal(formatEntry({ __REALTIME_TIMESTAMP: 'soon', MESSAGE: 'bad time' }), null);
  });

  it('bounds a huge entry', () => {
    const huge = formatEntry({ __REALTIME_TIMESTAMP: '1', MESSAGE: `${'x'.repeat(JOURNAL_LIMITS.maxLineChars - 1)}\u{1F600}tail` })!;
    assert.equal(huge.line.length, JOURNAL_LIMITS.maxLineChars - 1, 'cut before the surrogate pair, not inside it');
  });

  // fail2ban's own formatJournalEntry, fed entries converted the way python-systemd's Reader
  // converts journal fields (bytes -> str where UTF-8, PIDs -> int, times -> datetime/timedelta).
  const ORACLE = String.raw`
import sys, types, json, datetime
sys.path.insert(0, sys.argv[1])
stub = types.ModuleType('systemd'); jr = types.ModuleType('systemd.journal'); jr.__version__ = '235'
stub.journal = jr; sys.modules['systemd'] = stub; sys.modules['systemd.journal'] = jr
from fail2ban.server.filtersystemd import FilterSystemd
def raw(v): return bytes(v) if isinstance(v, list) else v.encode()
def text(b):
    try: return b.decode('utf-8')
    except UnicodeDecodeError: return b
def usec(b): return int(b)
CONV = {
    '_PID': int, 'SYSLOG_PID': int,
    '__REALTIME_TIMESTAMP': lambda b: datetime.datetime.fromtimestamp(usec(b) / 1e6),
    '_SOURCE_REALTIME_TIMESTAMP': lambda b: datetime.datetime.fromtimestamp(usec(b) / 1e6),
    '_SOURCE_MONOTONIC_TIMESTAMP': lambda b: datetime.timedelta(microseconds=usec(b)),
    '__MONOTONIC_TIMESTAMP': lambda b: (datetime.timedelta(microseconds=usec(b)), None),
}
def conv(k, b):
    try: return CONV.get(k, text)(b)
    except ValueError: return b
class Jail:
    jailName = 'oracle'
    def getLogEncoding(self): return 'UTF-8'
    getJrnEntTime = FilterSystemd.getJrnEntTime
for line in sys.stdin:
    e = {}
    for k, v in json.loads(line).items():
        multi = isinstance(v, list) and v and not isinstance(v[0], int)
        e[k] = [conv(k, raw(x)) for x in v] if multi else conv(k, raw(v))
    (_, _, text_), t = FilterSystemd.formatJournalEntry(Jail(), e)
    print(json.dumps({'line': text_, 'time': t}))
`;
  const F2B = '/usr/lib/python3/dist-packages';
  const PYTHON = '/usr/bin/python3';
  const haveFail2ban = fs.existsSync(PYTHON) && fs.existsSync(`${F2B}/fail2ban/server/filtersystemd.py`);

  it('formats as fail2ban formatJournalEntry does', { skip: !haveFail2ban && 'python3 or fail2ban (python3-fail2ban) is not installed' }, () => {
    const base = { __REALTIME_TIMESTAMP: '1700000123456789' };
    const entries: Record<string, unknown>[] = [
      { ...base, _HOSTNAME: 'gate', SYSLOG_IDENTIFIER: 'sshd', _PID: '811', MESSAGE: 'Failed password for invalid user admin from 198.51.100.4 port 50022 ssh2' },
      { ...base, _HOSTNAME: 'gate', _COMM: 'dovecot', SYSLOG_PID: '0x1f', MESSAGE: 'auth failed' },
      { ...base, SYSLOG_IDENTIFIER: 'postfix/smtpd', SYSLOG_PID: ' 12 ', MESSAGE: 'warning: unknown[203.0.113.9]: SASL LOGIN authentication failed' },
      { ...base, _HOSTNAME: 'gate', SYSLOG_IDENTIFIER: 'kernel', _SOURCE_MONOTONIC_TIMESTAMP: '98765432101', __MONOTONIC_TIMESTAMP: '5', MESSAGE: 'IN=eth0 SRC=192.0.2.1' },
      { ...base, SYSLOG_IDENTIFIER: 'kernel', __MONOTONIC_TIMESTAMP: '1500', MESSAGE: 'early' },
      { ...base, _HOSTNAME: 'gate', SYSLOG_IDENTIFIER: 'kernel', _PID: '1', __MONOTONIC_TIMESTAMP: '1500', MESSAGE: 'not the kernel tag' },
      { ...base, _SOURCE_REALTIME_TIMESTAMP: '1690000000000007', SYSLOG_IDENTIFIER: 'app', MESSAGE: 'first line\nsecond line\n' },
      { ...base, SYSLOG_IDENTIFIER: 'app', MESSAGE: [0x62, 0xe9, 0x74, 0x65, 0x20, 0xc3, 0xa9, 0xff, 0xfe] },
      { ...base, SYSLOG_IDENTIFIER: 'app', MESSAGE: ['part one', 'part two', [0x33, 0xff]] },
      { ...base, _HOSTNAME: 'gate', MESSAGE: 'no identifier at all' },
      { ...base, _HOSTNAME: '', SYSLOG_IDENTIFIER: 'sshd', SYSLOG_PID: '', _PID: '99', MESSAGE: 'empty fields fall through' },
      { ...base, SYSLOG_IDENTIFIER: 'x', MESSAGE: 'ünïcödé ✓ \u{1F600}' },
    ];
    const r = spawnSync(PYTHON, ['-c', ORACLE, F2B], {
      input: entries.map((e) => JSON.stringify(e)).join('\n') + '\n',
      env: { ...process.env, TZ: 'UTC' },
      encoding: 'utf8',
      timeout: 30000,
    });
    assert.equal(r.status, 0, r.stderr);
    const expected = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { line: string; time: number });
    assert.equal(expected.length, entries.length);
    entries.forEach((e, i) => {
      const got = formatEntry(e)!;
      assert.equal(got.line, expected[i].line, `entry ${i}`);
      assert.ok(Math.abs(got.time - expected[i].time) < 1e-6, `entry ${i}: time ${got.time} vs ${expected[i].time}`);
    });
  });
});

/** Everything one reader delivered. */
class Recorder {
  readonly batches: JournalBatch[] = [];
  readonly events: JournalEvent[] = [];
  readonly onBatch = (b: JournalBatch): void => {
    assert.equal(b.lines.length, b.times.length, 'one time per line');
    this.batches.push(b);
  };
  readonly onEvent = (e: JournalEvent): void => {
    this.events.push(e);
  };
  get lines(): string[] {
    return this.batches.flatMap((b) => b.lines);
  }
  get times(): number[] {
    return this.batches.flatMap((b) => b.times);
  }
  /** [line, initial] */
  get tagged(): [string, boolean][] {
    return this.batches.flatMap((b) => b.lines.map((l): [string, boolean] => [l, b.initial]));
  }
  kinds(kind: JournalEvent['kind']): JournalEvent[] {
    return this.events.filter((e) => e.kind === kind);
  }
}

const T0 = 1700000000;

function sshd(time: number, pid: number, message: string, extra: Record<string, string | Buffer> = {}): TestEntry {
  return entry(time, { _HOSTNAME: 'gate', SYSLOG_IDENTIFIER: 'sshd', _PID: String(pid), _COMM: 'sshd', _SYSTEMD_UNIT: 'sshd.service', MESSAGE: message, ...extra });
}

/** A reader of `dir` that the test closes, whatever happens. */
function reader(t: TestContext, rec: Recorder, opts: Partial<JournalReaderOptions> & { dir: string }): JournalReader {
  const { dir, ...rest } = opts;
  const r = new JournalReader({
    journal: parseSystemdBackend(`systemd[journalpath="${dir}"]`, {}),
    findtime: 600,
    clock: new ManualClock(T0 + 100),
    onBatch: rec.onBatch,
    onEvent: rec.onEvent,
    restart: { minDelayMs: 50, maxDelayMs: 1000, maxFailures: 3 },
    ...rest,
  });
  t.after(() => r.close());
  return r;
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

describe('JournalReader on real journal files', () => {
  it('formats entries of several identifiers, with their times, old ones initial and appended ones not', async (t) => {
    const j = testJournal(t);
    if (!j) return;
    await j.append([
      sshd(T0 - 30.5, 811, 'Failed password for root from 192.0.2.7 port 4022 ssh2'),
      entry(T0 - 20, { _HOSTNAME: 'gate', SYSLOG_IDENTIFIER: 'kernel', _SOURCE_MONOTONIC_TIMESTAMP: '12345678', MESSAGE: 'IN=eth0 SRC=192.0.2.9' }),
      entry(T0 - 10, { _HOSTNAME: 'gate', _COMM: 'dovecot', SYSLOG_PID: '77', MESSAGE: Buffer.from([0x61, 0x75, 0x74, 0x68, 0xff, 0x20, 0x66, 0x61, 0x69, 0x6c]) }),
      entry(T0 - 5, { SYSLOG_IDENTIFIER: 'app', _SOURCE_REALTIME_TIMESTAMP: String((T0 - 7) * 1e6), MESSAGE: 'line one\nline two' }),
    ]);
    const rec = new Recorder();
    const r = reader(t, rec, { dir: j.dir });
    await r.start();
    await waitFor('the 4 existing entries', () => rec.lines.length >= 4);
    assert.deepEqual(rec.tagged, [
      ['gate sshd[811]: Failed password for root from 192.0.2.7 port 4022 ssh2', true],
      ['gate kernel: [   12.345678] IN=eth0 SRC=192.0.2.9', true],
      ['gate dovecot[77]: auth\ufffd fail', true],
      ['app: line one\\nline two', true],
    ]);
    assert.deepEqual(rec.times, [T0 - 30.5, T0 - 20, T0 - 10, T0 - 7]);
    assert.equal(rec.kinds('operation').length, 1, 'in operation after the last entry there at start');
    assert.equal(rec.kinds('started').length, 1);
    assert.ok(rec.kinds('started')[0].pid === r.pid && r.pid !== undefined);

    await j.append([sshd(T0 + 1, 812, 'Invalid user zoe from 198.51.100.20 port 5000'), entry(T0 + 2, { SYSLOG_IDENTIFIER: 'cron', MESSAGE: 'tick' })]);
    await waitFor('the appended entries', () => rec.lines.length >= 6);
    assert.deepEqual(rec.tagged.slice(4), [
      ['gate sshd[812]: Invalid user zoe from 198.51.100.20 port 5000', false],
      ['cron: tick', false],
    ]);
    assert.deepEqual(rec.times.slice(4), [T0 + 1, T0 + 2]);
    assert.equal(rec.batches.at(-1)!.cursor, r.cursor);
    assert.deepEqual(rec.kinds('warning').map((e) => e.message), ["no journalmatch: the filter's regexes see every journal entry, which is slow"]);
    assert.deepEqual(rec.kinds('exited'), []);
  });

  it("applies the jail's journalmatch (sshd's: _SYSTEMD_UNIT=sshd.service + _COMM=sshd)", async (t) => {
    const j = testJournal(t);
    if (!j) return;
    await j.append([
      sshd(T0 - 9, 1, 'by unit and comm'),
      entry(T0 - 8, { SYSLOG_IDENTIFIER: 'sshd', _COMM: 'sshd', _SYSTEMD_UNIT: 'ssh.service', MESSAGE: 'by comm only' }),
      entry(T0 - 7, { SYSLOG_IDENTIFIER: 'sshd-session', _COMM: 'sshd-session', _SYSTEMD_UNIT: 'sshd.service', MESSAGE: 'by unit only' }),
      entry(T0 - 6, { SYSLOG_IDENTIFIER: 'su', _COMM: 'su', _SYSTEMD_UNIT: 'session-1.scope', MESSAGE: 'neither' }),
    ]);
    const rec = new Recorder();
    const r = reader(t, rec, { dir: j.dir, journalmatch: '_SYSTEMD_UNIT=sshd.service + _COMM=sshd' });
    await r.start();
    await j.append([entry(T0 + 1, { SYSLOG_IDENTIFIER: 'su', _COMM: 'su', MESSAGE: 'neither, later' }), sshd(T0 + 2, 2, 'later match')]);
    await waitFor('the matching entries', () => rec.lines.length >= 4);
    assert.deepEqual(rec.lines, ['gate sshd[1]: by unit and comm', 'sshd: by comm only', 'sshd-session: by unit only', 'gate sshd[2]: later match']);
    assert.deepEqual(rec.kinds('warning'), []);
  });

  it('starts at max(saved time, now - findtime)', async (t) => {
    const j = testJournal(t);
    if (!j) return;
    await j.append([sshd(T0 - 700, 1, 'older than findtime'), sshd(T0 - 400, 2, 'before the saved time'), sshd(T0 - 100, 3, 'after both')]);
    const rec = new Recorder();
    await reader(t, rec, { dir: j.dir }).start();
    const rec2 = new Recorder();
    await reader(t, rec2, { dir: j.dir, savedTime: T0 - 300 }).start();
    await waitFor('entries within findtime', () => rec.lines.length >= 2 && rec2.lines.length >= 1);
    // a later entry proves nothing else was coming
    await j.append([sshd(T0 + 1, 4, 'new')]);
    await waitFor('the new entry', () => rec.lines.length >= 3 && rec2.lines.length >= 2);
    assert.deepEqual(rec.lines, ['gate sshd[2]: before the saved time', 'gate sshd[3]: after both', 'gate sshd[4]: new']);
    assert.deepEqual(rec2.lines, ['gate sshd[3]: after both', 'gate sshd[4]: new']);
  });

  it('resumes after close() from the cursor with only the newer entries', async (t) => {
    const j = testJournal(t);
    if (!j) return;
    await j.append([sshd(T0 - 3, 1, 'one'), sshd(T0 - 2, 2, 'two'), sshd(T0 - 1, 3, 'three')]);
    const rec = new Recorder();
    const first = reader(t, rec, { dir: j.dir });
    await first.start();
    await waitFor('three entries', () => rec.lines.length >= 3);
    const pid = first.pid!;
    assert.ok(pid > 0);
    await first.close();
    assert.ok(processGone(pid), 'journalctl was killed and reaped');
    assert.equal(first.pid, undefined);
    const cursor = first.cursor!;
    assert.equal(cursor, rec.batches.at(-1)!.cursor);

    await j.append([sshd(T0 + 1, 4, 'four'), sshd(T0 + 2, 5, 'five')]);
    const rec2 = new Recorder();
    const second = reader(t, rec2, { dir: j.dir, cursor });
    assert.ok(second.followArgs().includes(`--after-cursor=${cursor}`));
    await second.start();
    await waitFor('the two newer entries', () => rec2.lines.length >= 2);
    await j.append([sshd(T0 + 3, 6, 'six')]);
    await waitFor('one more', () => rec2.lines.length >= 3);
    assert.deepEqual(rec2.lines, ['gate sshd[4]: four', 'gate sshd[5]: five', 'gate sshd[6]: six']);
    assert.deepEqual(rec2.tagged.map(([, initial]) => initial), [true, true, false], 'entries written while stopped are old content');
    assert.deepEqual(rec.lines, ['gate sshd[1]: one', 'gate sshd[2]: two', 'gate sshd[3]: three'], 'nothing delivered after close()');
  });

  it('starts from the start time when the saved cursor is unusable', async (t) => {
    const j = testJournal(t);
    if (!j) return;
    await j.append([sshd(T0 - 2, 1, 'within findtime')]);
    const rec = new Recorder();
    await reader(t, rec, { dir: j.dir, cursor: 'not-a-cursor' }).start();
    await waitFor('the entry', () => rec.lines.length >= 1);
    assert.deepEqual(rec.lines, ['gate sshd[1]: within findtime']);
    assert.ok(rec.kinds('warning').some((e) => /instead of the saved cursor/.test(e.message)), JSON.stringify(rec.events));
  });

  it('restarts journalctl from the last cursor when it dies, without repeating entries', async (t) => {
    const j = testJournal(t);
    if (!j) return;
    await j.append([sshd(T0 - 2, 1, 'one'), sshd(T0 - 1, 2, 'two')]);
    const rec = new Recorder();
    const r = reader(t, rec, { dir: j.dir });
    await r.start();
    await waitFor('two entries', () => rec.lines.length >= 2);
    const pid = r.pid!;
    process.kill(pid, 'SIGKILL');
    await waitFor('a restarted journalctl', () => rec.kinds('started').length >= 2);
    assert.match(rec.kinds('exited')[0].message, /journalctl exited \(SIGKILL\); restarting in 50 ms from the last entry read/);
    assert.notEqual(r.pid, pid);
    assert.ok(rec.kinds('started')[1].message.includes(`--after-cursor=${rec.batches.at(-1)!.cursor}`));
    await j.append([sshd(T0 + 1, 3, 'three')]);
    await waitFor('the next entry', () => rec.lines.length >= 3);
    assert.deepEqual(rec.lines, ['gate sshd[1]: one', 'gate sshd[2]: two', 'gate sshd[3]: three']);
  });

  it('gives up after the bounded number of failed restarts', async (t) => {
    const j = testJournal(t);
    if (!j) return;
    await j.append([sshd(T0 - 1, 1, 'one')]);
    const rec = new Recorder();
    const r = reader(t, rec, { dir: j.dir, restart: { minDelayMs: 20, maxDelayMs: 5000, maxFailures: 2 } });
    await r.start();
    await waitFor('the entry', () => rec.lines.length >= 1);
    // every run is killed as soon as it runs (and before it reads anything)
    let lastKilled = 0;
    let kills = 0;
    const killer = setInterval(() => {
      const pid = r.pid;
      if (pid !== undefined && pid !== lastKilled && kills < 5) {
        kills++;
        lastKilled = pid;
        process.kill(pid, 'SIGKILL');
      }
    }, 5);
    t.after(() => clearInterval(killer));
    await waitFor('a failed event', () => rec.kinds('failed').length === 1);
    clearInterval(killer);
    assert.match(rec.kinds('failed')[0].message, /gave up after 2 failed restarts/);
    assert.deepEqual(rec.kinds('exited').map((e) => /restarting in (\d+) ms/.exec(e.message)?.[1]), ['20', '40'], 'the delay doubles');
    assert.equal(r.pid, undefined);
  });

  it('skips an entry too large to hold and cuts a long line', async (t) => {
    const j = testJournal(t);
    if (!j) return;
    const long = 'L'.repeat(JOURNAL_LIMITS.maxLineChars + 10);
    const huge = 'H'.repeat(JOURNAL_LIMITS.maxEntryBytes + 10);
    await j.append([sshd(T0 - 4, 1, 'before'), entry(T0 - 3, { MESSAGE: long }), entry(T0 - 2, { MESSAGE: huge }), sshd(T0 - 1, 2, 'after')]);
    const rec = new Recorder();
    await reader(t, rec, { dir: j.dir }).start();
    await waitFor('the entries', () => rec.lines.length >= 3);
    assert.deepEqual(rec.lines, ['gate sshd[1]: before', long.slice(0, JOURNAL_LIMITS.maxLineChars), 'gate sshd[2]: after']);
    assert.deepEqual(rec.times, [T0 - 4, T0 - 3, T0 - 1]);
    assert.ok(rec.kinds('warning').some((e) => e.message.includes(`over ${JOURNAL_LIMITS.maxEntryBytes} bytes`)), JSON.stringify(rec.events));
  });

  it('reports a missing journalctl clearly, naming the package', async (t) => {
    const j = testJournal(t);
    if (!j) return;
    const empty = tmpDir(t);
    const rec = new Recorder();
    const r = reader(t, rec, { dir: j.dir, env: { PATH: empty } });
    await assert.rejects(r.start(), (e: unknown) => e instanceof F2bError && e.code === 'JOURNAL' && /journalctl was not found/.test(e.message) && /systemd package/.test(e.message));
    assert.deepEqual(rec.batches, []);
  });

  it('reports a journal journalctl cannot open', async (t) => {
    const j = testJournal(t);
    if (!j) return;
    const rec = new Recorder();
    const r = reader(t, rec, { dir: path.join(j.dir, 'missing') });
    await assert.rejects(r.start(), (e: unknown) => e instanceof F2bError && e.code === 'JOURNAL' && /missing/.test(e.message));
  });

  test('reads an empty journal in operation from the start', async (t) => {
    const j = testJournal(t);
    if (!j) return;
    await j.append([]);
    const rec = new Recorder();
    await reader(t, rec, { dir: j.dir }).start();
    assert.equal(rec.kinds('operation').length, 1);
    await j.append([sshd(T0 + 1, 1, 'first')]);
    await waitFor('the entry', () => rec.lines.length >= 1);
    // and entries of another boot than the first one seen (journalctl --follow alone would keep
    // to one boot)
    await j.append([sshd(T0 + 2, 2, 'after a reboot', { _BOOT_ID: '0123456789abcdef0123456789abcdef' })]);
    await waitFor('the entry of the next boot', () => rec.lines.length >= 2);
    assert.deepEqual(rec.tagged, [
      ['gate sshd[1]: first', false],
      ['gate sshd[2]: after a reboot', false],
    ]);
    assert.deepEqual(rec.kinds('exited'), []);
  });
});
