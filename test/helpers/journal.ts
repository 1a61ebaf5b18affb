// Real journal files for tests, without a running journald: systemd-journal-remote (Debian
// package systemd-journal-remote) reads entries in the journal export format on stdin and appends
// them to a journal file in a directory of the test's own; `journalctl --directory=DIR --follow`
// sees each append once the writer exits. Entries carry the __REALTIME_TIMESTAMP the test
// chooses, so times are fixed.
//
//   const j = testJournal(t);               // skips the test if the tools are missing
//   if (!j) return;
//   await j.append([entry(1700000000, { SYSLOG_IDENTIFIER: 'sshd', MESSAGE: 'hello' })]);
//   ... journalpath = j.dir

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { tmpDir } from './tmp';

const JOURNAL_REMOTE_PATHS = ['/lib/systemd/systemd-journal-remote', '/usr/lib/systemd/systemd-journal-remote'];

/** The systemd-journal-remote binary, if installed. */
export const journalRemote = (): string | undefined => JOURNAL_REMOTE_PATHS.find((p) => fs.existsSync(p));

/** Why journal tests cannot run here (null: they can). */
export function journalToolsMissing(): string | null {
  if (spawnSync('journalctl', ['--version'], { stdio: 'ignore' }).status !== 0) return 'journalctl is not installed (apt-get install systemd)';
  if (!journalRemote()) return 'systemd-journal-remote is not installed (apt-get install systemd-journal-remote)';
  return null;
}

/** One entry: its time (epoch seconds, microseconds kept) and fields (a Buffer is written as bytes). */
export interface TestEntry {
  time: number;
  fields: Record<string, string | Buffer>;
}

export const entry = (time: number, fields: Record<string, string | Buffer>): TestEntry => ({ time, fields });

/** The same boot for every entry, so that nothing depends on the host's boot id. */
export const TEST_BOOT_ID = '6f2b0a5e1c3d4e7f8a9b0c1d2e3f4a5b';

/** Entries in the journal export format (systemd's JOURNAL_EXPORT_FORMATS): `KEY=value` lines, or
 *  for a value with a new line or raw bytes `KEY`, a 64-bit little-endian length, the bytes;
 *  a blank line after each entry. Monotonic times count up from 1 s unless given. */
export function exportFormat(entries: TestEntry[]): Buffer {
  const parts: Buffer[] = [];
  entries.forEach((e, i) => {
    const fields: Record<string, string | Buffer> = {
      __REALTIME_TIMESTAMP: String(Math.round(e.time * 1e6)),
      __MONOTONIC_TIMESTAMP: String((i + 1) * 1000000),
      _BOOT_ID: TEST_BOOT_ID,
      ...e.fields,
    };
    for (const [key, value] of Object.entries(fields)) {
      if (typeof value === 'string' && !value.includes('\n')) {
        parts.push(Buffer.from(`${key}=${value}\n`));
      } else {
        const bytes = typeof value === 'string' ? Buffer.from(value) : value;
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(bytes.length));
        parts.push(Buffer.from(`${key}\n`), len, bytes, Buffer.from('\n'));
      }
    }
    parts.push(Buffer.from('\n'));
  });
  return Buffer.concat(parts);
}

/** A directory of journal files a test writes to. */
export class TestJournal {
  constructor(
    readonly dir: string,
    readonly file = 'test.journal',
  ) {}

  /** Appends entries to DIR/file (created by the first append) and waits until they are written. */
  append(entries: TestEntry[], timeoutMs = 10000): Promise<void> {
    const bin = journalRemote();
    if (!bin) return Promise.reject(new Error('systemd-journal-remote is not installed'));
    const out = path.join(this.dir, this.file);
    return new Promise((resolve, reject) => {
      const child = spawn(bin, [`--output=${out}`, '--split-mode=none', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`systemd-journal-remote did not finish within ${timeoutMs} ms: ${stderr}`));
      }, timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`systemd-journal-remote exited with ${code}: ${stderr}`));
      });
      child.stdin.end(exportFormat(entries));
    });
  }
}

/** A fresh journal directory for this test, or undefined after skipping it when the tools are missing. */
export function testJournal(t: TestContext): TestJournal | undefined {
  const missing = journalToolsMissing();
  if (missing) {
    t.skip(missing);
    return undefined;
  }
  return new TestJournal(tmpDir(t, 'f2b-journal-'));
}
