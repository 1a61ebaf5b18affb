// The HTTP listener ([metrics]): a daemon as a real process (dry-run: no firewall, so it may run
// in the host's namespace, listening on loopback only) fed a scripted attack; /metrics scraped
// for the expected counters; the JSON API, the token, unban over HTTP, and `client status --json`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readConfigTree } from '../src/config';
import { F2bError } from '../src/errors';
import { BIN, startDaemonHost, stopDaemon } from './helpers/daemon-proc';
import { syslog, waitFor } from './helpers/logs';
import { freePort } from './helpers/redis';
import { tmpDir } from './helpers/tmp';

const TOKEN = 'test-token-0123456789abcdef';

async function get(port: number, p: string, token: string | null = TOKEN, init: RequestInit = {}): Promise<Response> {
  const headers: Record<string, string> = { ...((init.headers as Record<string, string>) ?? {}) };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(`http://127.0.0.1:${port}${p}`, { ...init, headers });
}

/** The value of one sample line of the exposition text, or undefined. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('[metrics]: listen forms, token or token_file, and errors with file and line', (t) => {
  const server = (local: string) => {
    const dir = tmpDir(t);
    fs.writeFileSync(path.join(dir, 'jail.conf'), '');
    fs.writeFileSync(path.join(dir, 'fail2ban.local'), local);
    return readConfigTree(dir).server.metrics;
  };
  assert.equal(server(''), undefined);
  assert.deepEqual(server('[metrics]\nlisten = 9191\n'), { host: '127.0.0.1', port: 9191 });
  assert.deepEqual(server('[metrics]\nlisten = [::1]:9191\n'), { host: '::1', port: 9191 });
  assert.deepEqual(server(`[metrics]\nlisten = 0.0.0.0:9191\ntoken = ${TOKEN}\n`), { host: '0.0.0.0', port: 9191, token: TOKEN });
  const tokenFile = path.join(tmpDir(t), 'token');
  fs.writeFileSync(tokenFile, `${TOKEN}\n`);
  assert.equal(server(`[metrics]\nlisten = 9191\ntoken_file = ${tokenFile}\n`)?.token, TOKEN);
  assert.equal(server('[metrics]\nenabled = no\nlisten = 9191\n'), undefined);
  const bad = (local: string, line: number, msg: RegExp) =>
    assert.throws(() => server(local), (e: unknown) => e instanceof F2bError && e.line === line && msg.test(e.message));
  bad('[metrics]\ntoken = x\n', 1, /needs listen = HOST:PORT/);
  bad('[metrics]\nlisten = 127.0.0.1:99999\n', 2, /listen must be HOST:PORT or PORT/);
  bad('[metrics]\nlisten = 9191\ntoken = short\n', 3, /at least 16 characters/);
  bad('[metrics]\nlisten = 9191\ntoken_file = /nonexistent/token\n', 3, /token_file: cannot read/);
  bad('[metrics]\nlisten = 9191\nport = 1\n', 3, /\[metrics\] has no option 'port'/);
});

test('metrics: a scripted attack shows in /metrics, the JSON API and client status --json; unban over HTTP', { timeout: 90_000 }, async (t) => {
  const dir = tmpDir(t);
  const log = path.join(dir, 'auth.log');
  fs.writeFileSync(log, '');
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'jail.local'), `[sshd]\nlogpath = ${log}\nmaxretry = 3\nbantime = 1h\n`);
  fs.writeFileSync(path.join(dir, 'fail2ban.local'), `[metrics]\nlisten = 127.0.0.1:${port}\ntoken = ${TOKEN}\n`);
  const socket = path.join(dir, 'f2b.sock');
  const daemon = startDaemonHost(['--config', dir, '--dry-run', '--logtarget', 'STDOUT', '--socket', socket]);
  t.after(() => stopDaemon(daemon));
  assert.ok(await waitFor(() => /HTTP listener on 127\.0\.0\.1:\d+/.test(daemon.output()), 20_000), daemon.output());

  // the attack: two attackers cross maxretry 3, one address fails twice, and benign lines
  let lines = 0;
  const write = (msg: string, pid: number) => {
    fs.appendFileSync(log, syslog(msg, { pid }));
    lines++;
  };
  for (let i = 0; i < 20; i++) write(`Accepted publickey for deploy from 192.0.2.${100 + i} port 5000 ssh2: ED25519 SHA256:x`, 100 + i);
  for (const ip of ['203.0.113.7', '2001:db8::66']) for (let i = 0; i < 3; i++) write(`Failed password for root from ${ip} port 4000 ssh2`, 200 + i);
  for (let i = 0; i < 2; i++) write('Invalid user oracle from 198.51.100.9 port 4100', 300 + i);
  assert.ok(await waitFor(() => (daemon.output().match(/NOTICE  \[sshd\] Ban /g) ?? []).length === 2, 10_000), daemon.output());

  assert.equal((await get(port, '/metrics', null)).status, 401);
  assert.equal((await get(port, '/metrics', 'wrong-token-0123456789')).status, 401);
  let text = '';
  assert.ok(
    await waitFor(async () => {
      text = await (await get(port, '/metrics')).text();
      return sample(text, 'f2b_fast_lines_read_total', `file="${log}"`) === lines;
    }, 5000),
    text,
  );
  assert.equal(sample(text, 'f2b_fast_failures_total', 'jail="sshd",source="local"'), 8);
  assert.equal(sample(text, 'f2b_fast_bans_total', 'jail="sshd",source="local"'), 2);
  assert.equal(sample(text, 'f2b_fast_banned', 'jail="sshd"'), 2);
  assert.equal(sample(text, 'f2b_fast_failing', 'jail="sshd"'), 1);
  // the 20 accepted logins never reach a matcher thread
  assert.ok((sample(text, 'f2b_fast_lines_prefiltered_total', `file="${log}"`) ?? 0) >= 20, text);
  assert.equal(sample(text, 'f2b_fast_ban_latency_seconds_count'), 2);
  assert.ok((sample(text, 'f2b_fast_firewall_batch_size_count') ?? 0) >= 1, text);
  assert.equal(sample(text, 'f2b_fast_tailer_lag_bytes', `file="${log}"`), 0);
  assert.equal(sample(text, 'f2b_fast_worker_queue_depth'), 0);
  assert.ok((sample(text, 'f2b_fast_process_resident_memory_bytes') ?? 0) > 0);
  assert.match(text, /# TYPE f2b_fast_ban_latency_seconds histogram/);

  const status = (await (await get(port, '/api/status')).json()) as { jails: { name: string; totalBanned: number; currentlyFailed: number }[]; fleet: null };
  assert.deepEqual(status.jails.map((j) => [j.name, j.totalBanned, j.currentlyFailed]), [['sshd', 2, 1]]);
  assert.equal(status.fleet, null);
  const bans = (await (await get(port, '/api/bans')).json()) as Record<string, { ip: string; end: number | null }[]>;
  assert.deepEqual(bans.sshd.map((b) => b.ip).sort(), ['2001:db8::66', '203.0.113.7']);
  const events = (await (await get(port, '/api/events?since=0')).json()) as { seq: number; kind: string; ip: string; detail: string }[];
  assert.deepEqual(events.map((e) => [e.kind, e.detail]), [['ban', 'local'], ['ban', 'local']]);
  assert.deepEqual(await (await get(port, `/api/events?since=${events[1].seq}`)).json(), []);
  const history = (await (await get(port, '/api/history')).json()) as { failures: number; bans: number }[];
  assert.equal(history.length, 60);
  assert.deepEqual([history.reduce((a, m) => a + m.failures, 0), history.reduce((a, m) => a + m.bans, 0)], [8, 2]);
  const top = (await (await get(port, '/api/top')).json()) as { addresses: { key: string; banned: number; failures: number }[]; subnets: { key: string }[] };
  assert.deepEqual(top.addresses.slice(0, 2).map((r) => r.banned), [1, 1]);
  assert.ok(top.addresses.some((r) => r.key === '198.51.100.9' && r.failures === 2));
  assert.ok(top.subnets.some((r) => r.key === '2001:db8:0:0::/64'), JSON.stringify(top.subnets));

  // client status --json: the same data as /api/status
  const cli = spawnSync(process.execPath, [BIN, 'client', '-s', socket, 'status', '--json'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(cli.status, 0, cli.stderr);
  assert.deepEqual(JSON.parse(cli.stdout), await (await get(port, '/api/status')).json());
  const one = spawnSync(process.execPath, [BIN, 'client', '-s', socket, 'status', 'sshd', '--json'], { encoding: 'utf8', timeout: 30_000 });
  assert.deepEqual((JSON.parse(one.stdout) as { name: string; totalBanned: number }).totalBanned, 2);
  // --json before the command keeps fail2ban's status list
  const list = spawnSync(process.execPath, [BIN, 'client', '-s', socket, '--json', 'status'], { encoding: 'utf8', timeout: 30_000 });
  assert.deepEqual(JSON.parse(list.stdout), [['Number of jail', 1], ['Jail list', 'sshd']]);

  // unban over HTTP: needs the token; bad bodies are refused
  assert.equal((await get(port, '/api/unban', null, { method: 'POST', body: '{"ip":"203.0.113.7"}' })).status, 401);
  assert.equal((await get(port, '/api/unban', TOKEN, { method: 'POST', body: 'not json' })).status, 400);
  assert.equal((await get(port, '/api/unban', TOKEN, { method: 'POST', body: '{"ip":"203.0.113.7","jail":"nope"}' })).status, 404);
  // what reaches the log is an address, never a forged line
  assert.equal((await get(port, '/api/unban', TOKEN, { method: 'POST', body: JSON.stringify({ ip: '1.2.3.4\n2026-01-01 00:00:00,000 fail2ban.actions [1]: NOTICE  [sshd] Ban 6.6.6.6' }) })).status, 400);
  const un = await get(port, '/api/unban', TOKEN, { method: 'POST', body: '{"ip":"203.0.113.7","jail":"sshd"}' });
  assert.deepEqual(await un.json(), { unbanned: 1 });
  text = await (await get(port, '/metrics')).text();
  assert.equal(sample(text, 'f2b_fast_unbans_total', 'jail="sshd",reason="manual"'), 1);
  assert.equal(sample(text, 'f2b_fast_banned', 'jail="sshd"'), 1);
  assert.match(daemon.output(), /HTTP: unban 203\.0\.113\.7 in sshd: 1 ban\(s\) lifted/);

  // the page: served without the token, no external assets, a strict CSP
  const page = await get(port, '/', null);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  const html = await page.text();
  assert.doesNotMatch(html, /(src|href)="https?:/);
  assert.equal((await get(port, '/nothing-here')).status, 404);
  assert.equal(await stopDaemon(daemon), 0);
});

test('metrics: unban over HTTP is refused when no token is set', { timeout: 60_000 }, async (t) => {
  const dir = tmpDir(t);
  const log = path.join(dir, 'auth.log');
  fs.writeFileSync(log, '');
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'jail.local'), `[sshd]\nlogpath = ${log}\n`);
  fs.writeFileSync(path.join(dir, 'fail2ban.local'), `[metrics]\nlisten = ${port}\n`);
  const daemon = startDaemonHost(['--config', dir, '--dry-run', '--logtarget', 'STDOUT']);
  t.after(() => stopDaemon(daemon));
  assert.ok(await waitFor(() => /HTTP listener on/.test(daemon.output()), 20_000), daemon.output());
  assert.equal((await get(port, '/metrics', null)).status, 200);
  // a second daemon cannot have the same port: it says so and exits 255
  const dir2 = tmpDir(t);
  fs.writeFileSync(path.join(dir2, 'jail.local'), `[sshd]\nlogpath = ${log}\n`);
  fs.writeFileSync(path.join(dir2, 'fail2ban.local'), `[metrics]\nlisten = ${port}\n`);
  const second = startDaemonHost(['--config', dir2, '--dry-run', '--logtarget', 'STDOUT']);
  assert.equal(await second.exit, 255, second.output());
  assert.match(second.output(), new RegExp(`\\[metrics\\] cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
  const r = await get(port, '/api/unban', null, { method: 'POST', body: '{"ip":"192.0.2.1"}' });
  assert.equal(r.status, 403);
  assert.match(((await r.json()) as { error: string }).error, /needs a token/);
  assert.equal(await stopDaemon(daemon), 0);
});
