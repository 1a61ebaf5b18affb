// The addon's suites again (tailer, scan, match, and the fuzzing of every native entry point in
// fuzz-native), against an ASan + UBSan build of the addon: native/test-sanitized.sh builds it in
// a scratch directory (build/Release is left alone) and fails on any report.
// Skipped only when the host has no g++ or no libasan/libubsan (the script exits 77 then).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { it } from 'node:test';

const ROOT = path.join(__dirname, '..', '..'); // from dist/test
const SCRIPT = path.join(ROOT, 'native', 'test-sanitized.sh');
const SKIPPED = 77;

function run(): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, output }));
  });
}

it('the tailer, scan, match and native fuzz suites pass under ASan + UBSan', { timeout: 20 * 60_000 }, async (t) => {
  const { status, output } = await run();
  if (status === SKIPPED) {
    t.skip(output.trim().split('\n').at(-1));
    return;
  }
  assert.equal(status, 0, output);
  for (const line of output.split('\n')) {
    // the build and run times, the totals, the backends, each fuzz target and its runs (the
    // totals renamed: a diagnostic "# tests 89" would pass for this file's own count in the TAP
    // the outer runner reads)
    if (/^# (tests|pass|fail|skip) /.test(line)) t.diagnostic(`sanitized run: ${line.slice(2)}`);
    else if (/^test-sanitized: (built|ran)|^ *# (inotify|poll): |^ *# (seed |[0-9]+ |results by)|^ *ok .*fuzz: /.test(line)) t.diagnostic(line.trim().replace(/^# /, ''));
  }
});
