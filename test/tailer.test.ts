// The tailer suite, run against every backend this host has (inotify and poll on Linux).
// Each case follows a real file in a fresh temporary directory. Waits are bounded polls of a
// condition (waitFor), never a fixed sleep standing in for an assertion.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Tailer, mapBackend, splitLines, tailLimits } from '../src/tailer';
import { loadNative } from '../src/tailer/native';
import type { TailBatch, TailEvent } from '../src/types';
import { tmpDir } from './helpers/tmp';

const BACKENDS: ('inotify' | 'poll')[] = process.platform === 'linux' ? ['inotify', 'poll'] : ['poll'];
const POLL_MS = 50;

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Line {
  offset: number;
  text: string;
}

/** Everything one tailer delivered, in order, with every batch checked against TailBatch's contract. */
class Recorder {
  readonly batches: TailBatch[] = [];
  readonly events: TailEvent[] = [];
  /** 'line <id> <offset> <text>' and 'event <id> <kind> <offset>', in delivery order */
  readonly timeline: string[] = [];
  readonly problems: string[] = [];
  readonly #lines = new Map<number, Line[]>();

  readonly onBatch = (b: TailBatch): void => {
    this.batches.push(b);
    if (!Buffer.isBuffer(b.buf) || !(b.ends instanceof Uint32Array)) this.problems.push('wrong types');
    if (b.ends.length === 0) this.problems.push('empty batch');
    if (b.buf.length !== b.ends[b.ends.length - 1] + 1) this.problems.push('buf does not end with its last line');
    let newlines = 0;
    for (const byte of b.buf) if (byte === 0x0a) newlines++;
    if (newlines !== b.ends.length) this.problems.push(`${newlines} newlines for ${b.ends.length} ends`);
    const texts = splitLines(b);
    const lines = this.#lines.get(b.fileId) ?? [];
    b.ends.forEach((end, i) => {
      if (b.buf[end] !== 0x0a) this.problems.push(`ends[${i}] is not a newline`);
      const offset = b.base + (i === 0 ? 0 : b.ends[i - 1] + 1);
      lines.push({ offset, text: texts[i] });
      this.timeline.push(`line ${b.fileId} ${offset} ${texts[i].slice(0, 20)}`);
    });
    this.#lines.set(b.fileId, lines);
  };

  readonly onEvent = (e: TailEvent): void => {
    this.events.push(e);
    this.timeline.push(`event ${e.fileId} ${e.kind} ${e.offset ?? '-'}`);
  };

  lines(fileId: number): Line[] {
    assert.deepEqual(this.problems, []);
    return this.#lines.get(fileId) ?? [];
  }

  texts(fileId: number): string[] {
    return this.lines(fileId).map((l) => l.text);
  }

  has(fileId: number, text: string): boolean {
    return (this.#lines.get(fileId) ?? []).some((l) => l.text === text);
  }

  event(fileId: number, kind: TailEvent['kind']): TailEvent | undefined {
    return this.events.find((e) => e.fileId === fileId && e.kind === kind);
  }

  count(fileId: number, kind: TailEvent['kind']): number {
    return this.events.filter((e) => e.fileId === fileId && e.kind === kind).length;
  }
}

function startTailer(t: TestContext, backend: 'inotify' | 'poll'): { tailer: Tailer; rec: Recorder } {
  const rec = new Recorder();
  const tailer = new Tailer({ backend, pollIntervalMs: POLL_MS, onBatch: rec.onBatch, onEvent: rec.onEvent });
  t.after(() => tailer.close());
  return { tailer, rec };
}

for (const backend of BACKENDS) {
  describe(`tailer (${backend})`, () => {
    it('runs the backend it was asked for', (t) => {
      const { tailer } = startTailer(t, backend);
      assert.equal(tailer.backend, backend);
    });

    it('delivers appended lines with their file offsets', async (t) => {
      const file = path.join(tmpDir(t), 'app.log');
      fs.writeFileSync(file, 'one\ntwo\n');
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(file, 'head');
      await waitFor('the existing lines', () => rec.lines(id).length === 2);
      assert.equal(rec.event(id, 'opened')?.offset, 0);
      fs.appendFileSync(file, 'three\nfour\n');
      await waitFor('the appended lines', () => rec.lines(id).length === 4);
      assert.deepEqual(rec.lines(id), [
        { offset: 0, text: 'one' },
        { offset: 4, text: 'two' },
        { offset: 8, text: 'three' },
        { offset: 14, text: 'four' },
      ]);
      assert.equal(rec.timeline[0], `event ${id} opened 0`);
    });

    it('holds a partial line until its newline arrives', async (t) => {
      const file = path.join(tmpDir(t), 'app.log');
      fs.writeFileSync(file, 'first\npart');
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(file, 'head');
      // 'first' and 'part' arrive in the same read: once 'first' is here, 'part' was held back.
      await waitFor('the complete line', () => rec.has(id, 'first'));
      assert.deepEqual(rec.texts(id), ['first']);
      fs.appendFileSync(file, 'ial\nnext\n');
      await waitFor('the completed line', () => rec.lines(id).length === 3);
      assert.deepEqual(rec.lines(id), [
        { offset: 0, text: 'first' },
        { offset: 6, text: 'partial' },
        { offset: 14, text: 'next' },
      ]);
    });

    it("start 'tail' skips the existing content", async (t) => {
      const file = path.join(tmpDir(t), 'app.log');
      fs.writeFileSync(file, 'old1\nold2\n');
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(file, 'tail');
      await waitFor('opened', () => rec.event(id, 'opened') !== undefined);
      assert.equal(rec.event(id, 'opened')?.offset, 10);
      fs.appendFileSync(file, 'new\n');
      await waitFor('the new line', () => rec.has(id, 'new'));
      assert.deepEqual(rec.lines(id), [{ offset: 10, text: 'new' }]);
    });

    it("start 'tail' begins at an unfinished last line, not inside it", async (t) => {
      const file = path.join(tmpDir(t), 'app.log');
      fs.writeFileSync(file, 'old\npart');
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(file, 'tail');
      await waitFor('opened', () => rec.event(id, 'opened') !== undefined);
      assert.equal(rec.event(id, 'opened')?.offset, 4);
      fs.appendFileSync(file, 'ial\n');
      await waitFor('the completed line', () => rec.lines(id).length === 1);
      assert.deepEqual(rec.lines(id), [{ offset: 4, text: 'partial' }]);
    });

    it('starts at a saved offset, and at 0 when the file is now shorter than it', async (t) => {
      const dir = tmpDir(t);
      const file = path.join(dir, 'app.log');
      const shrunk = path.join(dir, 'shrunk.log');
      fs.writeFileSync(file, 'l1\nl2\nl3\n');
      fs.writeFileSync(shrunk, 'x\n');
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(file, 3);
      const other = tailer.add(shrunk, 1000);
      await waitFor('both files', () => rec.lines(id).length === 2 && rec.lines(other).length === 1);
      assert.equal(rec.event(id, 'opened')?.offset, 3);
      assert.deepEqual(rec.lines(id), [
        { offset: 3, text: 'l2' },
        { offset: 6, text: 'l3' },
      ]);
      assert.equal(rec.event(other, 'opened')?.offset, 0);
      assert.deepEqual(rec.lines(other), [{ offset: 0, text: 'x' }]);
    });

    it('rotation by rename + create: the rest of the old file comes first', async (t) => {
      const file = path.join(tmpDir(t), 'app.log');
      fs.writeFileSync(file, 'a1\n');
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(file, 'head');
      await waitFor('a1', () => rec.has(id, 'a1'));

      const daemon = fs.openSync(file, 'a'); // the writer keeps its descriptor across the rename
      fs.writeSync(daemon, 'a2\n');
      fs.renameSync(file, `${file}.1`);
      fs.writeSync(daemon, 'a3\n'); // written after the rename, before the writer reopens
      fs.writeFileSync(file, 'b1\n');
      fs.closeSync(daemon);

      await waitFor('b1', () => rec.has(id, 'b1'));
      assert.deepEqual(rec.lines(id), [
        { offset: 0, text: 'a1' },
        { offset: 3, text: 'a2' },
        { offset: 6, text: 'a3' },
        { offset: 0, text: 'b1' },
      ]);
      const rotated = rec.timeline.indexOf(`event ${id} rotated 0`);
      assert.ok(rotated > rec.timeline.indexOf(`line ${id} 6 a3`), rec.timeline.join('\n'));
      assert.ok(rotated < rec.timeline.indexOf(`line ${id} 0 b1`), rec.timeline.join('\n'));
      fs.appendFileSync(file, 'b2\n');
      await waitFor('b2', () => rec.has(id, 'b2'));
      assert.deepEqual(rec.lines(id).at(-1), { offset: 3, text: 'b2' });
    });

    it("a rotated file's unterminated last line is still delivered", async (t) => {
      const file = path.join(tmpDir(t), 'app.log');
      fs.writeFileSync(file, 'a1\n');
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(file, 'head');
      await waitFor('a1', () => rec.has(id, 'a1'));
      fs.appendFileSync(file, 'a2 without newline');
      fs.renameSync(file, `${file}.1`);
      fs.writeFileSync(file, 'b1\n');
      await waitFor('b1', () => rec.has(id, 'b1'));
      assert.deepEqual(rec.lines(id), [
        { offset: 0, text: 'a1' },
        { offset: 3, text: 'a2 without newline' },
        { offset: 0, text: 'b1' },
      ]);
    });

    it('a path that is a directory is an error event, not a crash', async (t) => {
      const dir = tmpDir(t);
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(dir, 'head');
      await waitFor('error', () => rec.event(id, 'error') !== undefined);
      assert.equal(rec.event(id, 'error')?.message, `${dir} is a directory, not a log file`);
      assert.equal(rec.count(id, 'error'), 1);
    });

    it('copytruncate: restarts at 0', async (t) => {
      const file = path.join(tmpDir(t), 'app.log');
      fs.writeFileSync(file, 'x1\nx2\n');
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(file, 'head');
      await waitFor('x1, x2', () => rec.lines(id).length === 2);
      fs.copyFileSync(file, `${file}.1`);
      fs.truncateSync(file, 0);
      fs.appendFileSync(file, 'y1\n');
      await waitFor('y1', () => rec.has(id, 'y1'));
      assert.equal(rec.event(id, 'truncated')?.offset, 0);
      assert.deepEqual(rec.lines(id).at(-1), { offset: 0, text: 'y1' });
      assert.ok(rec.timeline.indexOf(`event ${id} truncated 0`) < rec.timeline.indexOf(`line ${id} 0 y1`));
    });

    it('delete + recreate: missing, then the new file from 0', async (t) => {
      const file = path.join(tmpDir(t), 'app.log');
      fs.writeFileSync(file, 'd1\n');
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(file, 'head');
      await waitFor('d1', () => rec.has(id, 'd1'));
      fs.unlinkSync(file);
      await waitFor('missing', () => rec.event(id, 'missing') !== undefined);
      fs.writeFileSync(file, 'e1\n');
      await waitFor('e1', () => rec.has(id, 'e1'));
      assert.deepEqual(rec.lines(id), [
        { offset: 0, text: 'd1' },
        { offset: 0, text: 'e1' },
      ]);
      assert.equal(rec.count(id, 'opened'), 2);
      assert.equal(rec.events.filter((e) => e.kind === 'opened').at(-1)?.offset, 0);
    });

    it('delete + recreate at once: the new file from 0', async (t) => {
      const file = path.join(tmpDir(t), 'app.log');
      fs.writeFileSync(file, 'd1\n');
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(file, 'head');
      await waitFor('d1', () => rec.has(id, 'd1'));
      fs.unlinkSync(file);
      fs.writeFileSync(file, 'e1\n');
      await waitFor('e1', () => rec.has(id, 'e1'));
      assert.deepEqual(rec.lines(id), [
        { offset: 0, text: 'd1' },
        { offset: 0, text: 'e1' },
      ]);
    });

    it('a file that appears later is read from 0 (whatever start said)', async (t) => {
      const file = path.join(tmpDir(t), 'late.log');
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(file, 'tail');
      await waitFor('missing', () => rec.event(id, 'missing') !== undefined);
      fs.writeFileSync(file, 'late1\nlate2\n');
      await waitFor('the lines', () => rec.lines(id).length === 2);
      assert.equal(rec.event(id, 'opened')?.offset, 0);
      assert.deepEqual(rec.lines(id), [
        { offset: 0, text: 'late1' },
        { offset: 6, text: 'late2' },
      ]);
    });

    it('a file in a directory that appears later', async (t) => {
      const dir = path.join(tmpDir(t), 'sub', 'deeper');
      const file = path.join(dir, 'app.log');
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(file, 'head');
      await waitFor('missing', () => rec.event(id, 'missing') !== undefined);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(file, 'hello\n');
      await waitFor('the line', () => rec.has(id, 'hello'));
      fs.appendFileSync(file, 'again\n');
      await waitFor('the next line', () => rec.has(id, 'again'));
      assert.deepEqual(rec.lines(id), [
        { offset: 0, text: 'hello' },
        { offset: 6, text: 'again' },
      ]);
    });

    it('a symlinked log, and rotation of its target', async (t) => {
      const root = tmpDir(t);
      fs.mkdirSync(path.join(root, 'real'));
      fs.mkdirSync(path.join(root, 'logs'));
      const target = path.join(root, 'real', 'app.log');
      const link = path.join(root, 'logs', 'app.log');
      fs.writeFileSync(target, 's1\n');
      fs.symlinkSync('../real/app.log', link);
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(link, 'head');
      await waitFor('s1', () => rec.has(id, 's1'));
      fs.appendFileSync(target, 's2\n');
      await waitFor('s2', () => rec.has(id, 's2'));
      fs.renameSync(target, `${target}.1`);
      fs.writeFileSync(target, 'r1\n');
      await waitFor('r1', () => rec.has(id, 'r1'));
      assert.deepEqual(rec.lines(id), [
        { offset: 0, text: 's1' },
        { offset: 3, text: 's2' },
        { offset: 0, text: 'r1' },
      ]);
      assert.equal(rec.event(id, 'rotated')?.offset, 0);
      assert.equal(rec.event(id, 'opened')?.path, link);
    });

    it('invalid UTF-8 and NUL bytes are just bytes', async (t) => {
      const file = path.join(tmpDir(t), 'app.log');
      const data = Buffer.from([0x66, 0xff, 0x00, 0x67, 0x0a, 0xc3, 0x28, 0x0a, 0xe2, 0x82, 0x0a, 0x63, 0x72, 0x0d, 0x0a]);
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(file, 'head');
      await waitFor('missing', () => rec.event(id, 'missing') !== undefined);
      fs.writeFileSync(file, data);
      await waitFor('the lines', () => rec.lines(id).length === 4);
      assert.deepEqual(Buffer.concat(rec.batches.map((b) => b.buf)), data);
      assert.deepEqual(rec.texts(id), ['f\ufffd\u0000g', '\ufffd(', '\ufffd', 'cr']);
    });

    it('a 10 MB line is delivered truncated and the lines after it still arrive', async (t) => {
      const file = path.join(tmpDir(t), 'app.log');
      fs.writeFileSync(file, 'before\n');
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(file, 'head');
      await waitFor('before', () => rec.has(id, 'before'));
      // Appended in pieces, so the tailer sees the line grow across many reads.
      const piece = Buffer.alloc(1024 * 1024, 'x');
      for (let i = 0; i < 10; i++) fs.appendFileSync(file, piece);
      fs.appendFileSync(file, '\nafter\n');
      await waitFor('after', () => rec.has(id, 'after'));
      const { maxLineBytes } = tailLimits();
      const lines = rec.lines(id);
      assert.equal(lines.length, 3);
      assert.equal(lines[1].offset, 7);
      assert.equal(lines[1].text, 'x'.repeat(maxLineBytes - 1));
      assert.deepEqual(lines[2], { offset: 7 + 10 * piece.length + 1, text: 'after' });
      assert.match(rec.event(id, 'error')?.message ?? '', /longer than 1048576 bytes: delivered truncated/);
    });

    it('100k lines arrive in far fewer batches, within the caps, offsets contiguous', async (t) => {
      const file = path.join(tmpDir(t), 'app.log');
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(file, 'head');
      await waitFor('missing', () => rec.event(id, 'missing') !== undefined);
      const total = 100_000;
      let text = '';
      for (let i = 0; i < total; i++) text += `line ${i} ${'.'.repeat(i % 50)}\n`;
      fs.writeFileSync(file, text);
      await waitFor('every line', () => rec.lines(id).length === total, 10_000);
      const { batchLines, batchBytes, maxLineBytes } = tailLimits();
      assert.ok(rec.batches.length >= Math.ceil(total / batchLines), `${rec.batches.length} batches`);
      assert.ok(rec.batches.length <= total / 100, `${rec.batches.length} batches`);
      for (const b of rec.batches) {
        assert.ok(b.ends.length <= batchLines);
        assert.ok(b.buf.length < batchBytes + maxLineBytes);
      }
      let expected = 0;
      rec.lines(id).forEach((line, i) => {
        assert.equal(line.offset, expected);
        assert.equal(line.text, `line ${i} ${'.'.repeat(i % 50)}`);
        expected += Buffer.byteLength(line.text) + 1;
      });
    });

    it('remove() stops delivery for that file only', async (t) => {
      const dir = tmpDir(t);
      const gone = path.join(dir, 'gone.log');
      const kept = path.join(dir, 'kept.log');
      fs.writeFileSync(gone, 'g1\n');
      fs.writeFileSync(kept, 'k1\n');
      const { tailer, rec } = startTailer(t, backend);
      const goneId = tailer.add(gone, 'head');
      const keptId = tailer.add(kept, 'head');
      await waitFor('g1, k1', () => rec.has(goneId, 'g1') && rec.has(keptId, 'k1'));
      tailer.remove(goneId);
      tailer.remove(goneId); // twice is fine
      fs.appendFileSync(gone, 'g2\n');
      fs.appendFileSync(kept, 'k2\n');
      const again = tailer.add(gone, 'head');
      await waitFor('k2 and g2 under the new id', () => rec.has(keptId, 'k2') && rec.has(again, 'g2'));
      assert.deepEqual(rec.texts(goneId), ['g1']);
      assert.deepEqual(rec.texts(again), ['g1', 'g2']);
    });

    it('close() resolves, twice, and nothing is delivered after it', async (t) => {
      const file = path.join(tmpDir(t), 'app.log');
      fs.writeFileSync(file, 'c1\n');
      const { tailer, rec } = startTailer(t, backend);
      const id = tailer.add(file, 'head');
      await waitFor('c1', () => rec.has(id, 'c1'));
      const first = tailer.close();
      assert.equal(tailer.close(), first);
      fs.appendFileSync(file, 'c2\n');
      await first;
      assert.deepEqual(rec.texts(id), ['c1']);
      assert.throws(() => tailer.add(file, 'head'), { name: 'Error', message: 'The tailer is closed' });
    });
  });
}

describe('tailer API', () => {
  it("'auto' picks inotify on Linux, and the poll interval defaults", async () => {
    const tailer = new Tailer({ onBatch: () => {} });
    assert.equal(tailer.backend, process.platform === 'linux' ? 'inotify' : 'poll');
    const polling = new Tailer({ backend: 'poll', onBatch: () => {} });
    assert.equal(polling.backend, 'poll');
    await Promise.all([tailer.close(), polling.close()]);
  });

  it('validates options and arguments with exact messages', async (t) => {
    const onBatch = (): void => {};
    const bad = (f: () => unknown, message: string): void => assert.throws(f, { name: 'TypeError', message });
    bad(() => new Tailer(null as never), 'Expected options to be an object');
    bad(() => new Tailer({ backend: 'systemd' as never, onBatch }), "Expected options.backend to be 'auto', 'inotify' or 'poll'");
    bad(() => new Tailer({ pollIntervalMs: 5, onBatch }), 'Expected options.pollIntervalMs to be an integer from 10 to 60000');
    bad(() => new Tailer({ pollIntervalMs: 12.5, onBatch }), 'Expected options.pollIntervalMs to be an integer from 10 to 60000');
    bad(() => new Tailer({} as never), 'Expected options.onBatch to be a function');
    bad(() => new Tailer({ onBatch, onEvent: 1 as never }), 'Expected options.onEvent to be a function');

    const tailer = new Tailer({ backend: 'poll', onBatch });
    t.after(() => tailer.close());
    bad(() => tailer.add('', 'head'), 'Expected path to be a non-empty string');
    bad(() => tailer.add(1 as never, 'head'), 'Expected path to be a non-empty string');
    bad(() => tailer.add('/tmp/a\0b', 'head'), 'Expected path to contain no NUL bytes');
    const start = "Expected start to be 'head', 'tail' or a non-negative safe integer";
    bad(() => tailer.add('/tmp/x.log', 'middle' as never), start);
    bad(() => tailer.add('/tmp/x.log', -1), start);
    bad(() => tailer.add('/tmp/x.log', 1.5), start);
    bad(() => tailer.add('/tmp/x.log', 2 ** 53), start);
    bad(() => tailer.remove(0), 'Expected fileId to be a positive integer');
    bad(() => tailer.remove('1' as never), 'Expected fileId to be a positive integer');
  });

  it('the addon re-checks its arguments and throws TypeError', async (t) => {
    const { Tailer: Native } = loadNative();
    const noop = (): void => {};
    const bad = (f: () => unknown, message: string): void => assert.throws(f, { name: 'TypeError', message });
    bad(() => new Native('kqueue' as never, 250, noop, noop), "Expected options.backend to be 'auto', 'inotify' or 'poll'");
    bad(() => new Native('poll', 0, noop, noop), 'Expected options.pollIntervalMs to be an integer from 10 to 60000');
    bad(() => new Native('poll', 250, null as never, noop), 'Expected options.onBatch to be a function');
    bad(() => new Native('poll', 250, noop, undefined as never), 'Expected options.onEvent to be a function');
    const native = new Native('poll', 250, noop, noop);
    t.after(() => native.close());
    bad(() => native.add('relative.log', 'head'), 'Expected path to be absolute');
    bad(() => native.add('/tmp/a\0b', 'head'), 'Expected path to contain no NUL bytes');
    bad(() => native.add('/tmp/x.log', -3), "Expected start to be 'head', 'tail' or a non-negative safe integer");
    bad(() => native.remove(-1), 'Expected fileId to be a positive integer');
  });

  it('splitLines decodes UTF-8 and strips one trailing CR', () => {
    const buf = Buffer.from('caf\u00e9\r\n\r\r\n\n', 'utf8');
    const ends = Uint32Array.from([...buf.keys()].filter((i) => buf[i] === 0x0a));
    assert.deepEqual(splitLines({ fileId: 1, base: 0, buf, ends }), ['caf\u00e9', '\r', '']);
  });

  it("mapBackend maps fail2ban's backend names", () => {
    const inotify = process.platform === 'linux' ? 'inotify' : 'auto';
    assert.equal(mapBackend('auto'), 'auto');
    assert.equal(mapBackend(' pyinotify '), inotify);
    assert.equal(mapBackend('gamin'), inotify);
    assert.equal(mapBackend('polling'), 'poll');
    assert.equal(mapBackend('polling[some=option]'), 'poll');
    assert.throws(() => mapBackend('systemd'), /unsupported backend = systemd: reading the systemd journal is not supported yet/);
    assert.throws(() => mapBackend('systemd[journalflags=1]'), { name: 'F2bError', code: 'CONFIG_VALUE' });
    assert.throws(() => mapBackend('fancy'), /unsupported backend = fancy: use auto, pyinotify, gamin or polling/);
  });
});
