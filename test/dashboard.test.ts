// The dashboard in a real browser: Debian's chromium, driven by playwright-core, loads the page
// from a running daemon fed with a test log, sees a new ban appear live, lifts it with the unban
// button, and saves a screenshot (F2B_FAST_SCREENSHOT=FILE keeps a copy, e.g. for the README).
// The daemon (dry-run) and the browser both run inside a network namespace the test creates, so
// every request the browser makes stays on that namespace's loopback.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startDaemon, stopDaemon } from './helpers/daemon-proc';
import { syslog, waitFor } from './helpers/logs';
import { createNetns, netnsAvailable } from './helpers/netns';
import { tmpDir } from './helpers/tmp';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'dashboard-token-0123456789';
const PORT = 9191;

test('dashboard: a new ban appears live in Chromium, the unban button lifts it; screenshot saved', { timeout: 120_000 }, async (t) => {
  const avail = await netnsAvailable();
  if (!avail.ok) return t.skip(`network namespaces unavailable: ${avail.reason}`);
  if (!fs.existsSync(CHROMIUM)) return t.skip(`${CHROMIUM} is not installed (apt-get install chromium)`);
  const ns = await createNetns('f2bd');
  t.after(() => ns.destroy());
  // Chromium calls itself offline without a network interface that is up and has an address:
  // give it a veth pair whose both ends are in the namespace, and a blackhole default route, so
  // that nothing can leave the namespace
  for (const argv of [
    ['ip', 'link', 'set', 'lo', 'up'],
    ['ip', 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1'],
    ['ip', 'addr', 'add', '192.0.2.254/24', 'dev', 'v0'],
    ['ip', 'link', 'set', 'v0', 'up'],
    ['ip', 'link', 'set', 'v1', 'up'],
    ['ip', 'route', 'add', 'blackhole', 'default'],
  ]) {
    const r = await ns.exec(argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
  }
  const dir = tmpDir(t);
  const log = path.join(dir, 'auth.log');
  fs.writeFileSync(log, '');
  fs.writeFileSync(path.join(dir, 'jail.local'), `[sshd]\nlogpath = ${log}\nmaxretry = 3\nbantime = 1h\n`);
  fs.writeFileSync(path.join(dir, 'fail2ban.local'), `[metrics]\nlisten = 127.0.0.1:${PORT}\ntoken = ${TOKEN}\n`);
  const daemon = startDaemon(ns, ['--config', dir, '--dry-run', '--logtarget', 'STDOUT']);
  t.after(() => stopDaemon(daemon));
  assert.ok(await waitFor(() => /HTTP listener on 127\.0\.0\.1:9191/.test(daemon.output()), 20_000), daemon.output());

  // some history before the page opens
  const attack = (ip: string, pid: number) => {
    for (let i = 0; i < 3; i++) fs.appendFileSync(log, syslog(`Failed password for invalid user admin from ${ip} port ${4000 + i} ssh2`, { pid }));
  };
  attack('198.51.100.23', 100);
  fs.appendFileSync(log, syslog('Invalid user test from 192.0.2.201 port 4100', { pid: 101 }));
  assert.ok(await waitFor(() => /Ban 198\.51\.100\.23/.test(daemon.output()), 10_000), daemon.output());

  // the browser runs inside the namespace: a wrapper execs it there (playwright talks to it
  // over a pipe, which the wrapper keeps)
  const wrapper = path.join(dir, 'chromium-in-ns');
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns.name} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: wrapper, args: ['--no-sandbox', '--disable-gpu'], timeout: 60_000 });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${PORT}/`);
  // without the token the page says so
  await page.waitForSelector('#state.bad');
  assert.match((await page.textContent('#state')) ?? '', /token/);
  await page.fill('#token', TOKEN);
  await page.dispatchEvent('#token', 'change');
  await page.waitForSelector('#jails tbody tr[data-jail="sshd"]');
  await page.waitForSelector('#events tr[data-ip="198.51.100.23"][data-kind="ban"]');

  // a ban made while the page is open shows up by itself
  attack('203.0.113.50', 200);
  await page.waitForSelector('#events tr[data-ip="203.0.113.50"][data-kind="ban"]', { timeout: 10_000 });
  const jailRow = await page.textContent('#jails tbody tr[data-jail="sshd"]');
  // (polled from here: the page's CSP forbids the eval that waitForFunction would use)
  assert.ok(await waitFor(async () => (await page.textContent('#jails tbody tr[data-jail="sshd"] td:nth-child(5)')) === '2', 10_000), 'total bans 2');
  assert.ok(jailRow?.startsWith('sshd'), jailRow ?? '');
  assert.ok(await waitFor(async () => (await page.locator('#chart rect').count()) > 0, 10_000), 'the chart has bars');
  // the top tables are refreshed every fifth second: wait for the one after the new ban
  let top = '';
  assert.ok(await waitFor(async () => /203\.0\.113\.50/.test((top = (await page.textContent('#top tbody')) ?? '')), 10_000), top);
  assert.match(top, /203\.0\.113\.50/);
  assert.match(top, /192\.0\.2\.201/);

  const shot = path.join(dir, 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(fs.statSync(shot).size > 10_000);
  if (process.env.F2B_FAST_SCREENSHOT) fs.copyFileSync(shot, process.env.F2B_FAST_SCREENSHOT);

  // the unban button lifts the ban in the daemon
  await page.click('#events tr[data-ip="203.0.113.50"][data-kind="ban"] button');
  await page.waitForSelector('#events tr[data-ip="203.0.113.50"][data-kind="unban"]', { timeout: 10_000 });
  assert.ok(await waitFor(() => /HTTP: unban 203\.0\.113\.50 in sshd: 1 ban\(s\) lifted/.test(daemon.output()), 5000), daemon.output());
  assert.match(daemon.output(), /NOTICE  \[sshd\] Unban 203\.0\.113\.50/);
  assert.deepEqual(errors, []);
  await browser.close();
  assert.equal(await stopDaemon(daemon), 0);
});
