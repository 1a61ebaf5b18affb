// Values a failregex captures from a log line (here the user name of sshd's "Invalid user" line)
// reach an action.d command as plain text: shell metacharacters in them run nothing. The daemon
// in-process (dry-run firewall; action.d commands run for real), a recording action.d file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Daemon } from '../src/daemon';
import { tmpDir } from './helpers/tmp';
import { syslog, waitFor } from './helpers/logs';

const ROOT = path.resolve(__dirname, '../..');

test('user names with shell metacharacters reach an action.d command intact and inert', async (t) => {
  const dir = tmpDir(t);
  const conf = path.join(dir, 'conf');
  fs.cpSync(path.join(ROOT, 'filters'), conf, { recursive: true });
  const log = path.join(dir, 'auth.log');
  const out = path.join(dir, 'record.txt');
  const pwned = path.join(dir, 'PWNED');
  fs.writeFileSync(log, '');
  fs.mkdirSync(path.join(conf, 'action.d'), { recursive: true });
  // fail2ban's own action files quote such tags with double quotes, as this one does
  fs.writeFileSync(
    path.join(conf, 'action.d/record.conf'),
    ['[Definition]', 'actionstart =', 'actionstop =', 'actioncheck =', `actionban = printf '%%s|%%s\\n' "<ip>" "<F-USER>" >> <target>`, 'actionunban =', '[Init]', 'target = /dev/null', ''].join('\n'),
  );
  fs.writeFileSync(path.join(conf, 'jail.local'), `[sshd]\nlogpath = ${log}\nmaxretry = 1\naction = record[target="${out}"]\n`);
  const users = [
    `$(touch ${pwned})`,
    `\`touch ${pwned}\``,
    `a;touch ${pwned}`,
    `x' ; touch ${pwned} ; '`,
    `"; touch ${pwned}; "`,
    `|touch ${pwned}`,
    `&& touch ${pwned} &&`,
    `\${IFS}touch\${IFS}${pwned}`,
    `$HOME`,
    `a\\"b`,
  ];
  const d = await Daemon.start({ configDir: conf, dryRun: true, logtarget: path.join(dir, 'f2b.log'), db: ':memory:', socket: null, threads: 0 });
  t.after(() => d.stop());
  users.forEach((u, i) => fs.appendFileSync(log, syslog(`Invalid user ${u} from 192.0.2.${10 + i} port 2222`, { pid: 40 + i })));
  const read = () => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '');
  assert.ok(await waitFor(() => read().split('\n').filter(Boolean).length === users.length, 15_000), `${read()}\n${fs.readFileSync(path.join(dir, 'f2b.log'), 'utf8')}`);
  await d.drain();
  const got = new Map(read().trim().split('\n').map((l) => [l.slice(0, l.indexOf('|')), l.slice(l.indexOf('|') + 1)]));
  users.forEach((u, i) => assert.equal(got.get(`192.0.2.${10 + i}`), u, `user #${i}`));
  assert.equal(fs.existsSync(pwned), false, 'no captured value ran as a command');
});
