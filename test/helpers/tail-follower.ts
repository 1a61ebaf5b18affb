// A tailer in a process of its own, for tests that need it to run as another user: the suites
// run as root, whom file modes do not stop. Run as root, it drops to nobody (uid and gid 65534,
// no supplementary groups) before it loads the addon (F2B_NATIVE_ADDON, or the build).
//
//   node tail-follower.js BACKEND POLL_MS FILE
//
// stdout: one JSON object per line, in delivery order: {kind: 'ready', uid, backend}, then
// {kind: 'line', offset, text} per delivered line and {kind: 'event', event} per TailEvent.
// stdin: a line 'cpu' asks for {kind: 'cpu', micros} (the process's user + system time so far);
// the end of stdin closes the tailer, and the process exits.

import * as readline from 'node:readline';

const NOBODY = 65534;
const [backend, pollMs, file] = process.argv.slice(2);
if (process.getuid?.() === 0) {
  process.setgroups!([]);
  process.setgid!(NOBODY);
  process.setuid!(NOBODY);
}
// (loaded only now, as the user the tailer is to run as)
const { Tailer, splitLines } = require('../../src/tailer') as typeof import('../../src/tailer');

const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const tailer = new Tailer({
  backend: backend as 'inotify' | 'poll',
  pollIntervalMs: Number(pollMs),
  onBatch: (b) => {
    const texts = splitLines(b);
    texts.forEach((text, i) => say({ kind: 'line', offset: b.base + (i === 0 ? 0 : b.ends[i - 1] + 1), text }));
  },
  onEvent: (event) => say({ kind: 'event', event }),
});
tailer.add(file, 'head');
say({ kind: 'ready', uid: process.getuid?.(), backend: tailer.backend });

const input = readline.createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (line !== 'cpu') return;
  const { user, system } = process.cpuUsage();
  say({ kind: 'cpu', micros: user + system });
});
input.on('close', () => {
  void tailer.close().then(() => process.exit(0));
});
