// Seeded, realistic log generator for the benchmarks, with ground truth.
//
// Ground truth is what the *stock* fail2ban 1.0.2 filter (sshd, nginx-botsearch) counts as a
// failure, decided per generated line from the template that produced it — not by running any
// regex. Each template's verdict was checked once by hand against `fail2ban-regex -o ip`; the
// scan benchmark re-checks it on every run. Lines the filters match as "no failure" (pam_unix
// auth failures, Connection closed ... [preauth], Received disconnect ...:11:) count 0.
//
//   node dist/bench/generate.js --kind sshd|nginx --lines N --seed S --out FILE
//
// writes FILE and FILE.truth.json.

import * as fs from 'node:fs';

export type Kind = 'sshd' | 'nginx' | 'nginx-error';
export const KINDS: readonly Kind[] = ['sshd', 'nginx', 'nginx-error'];

export interface Truth {
  kind: Kind;
  filter: string;
  seed: number;
  lines: number;
  bytes: number;
  /** total failures the stock filter reports */
  failures: number;
  /** lines that carry a failure (== failures: one failure per line at most) */
  failureLines: number;
  /** address -> expected failure count */
  addresses: Record<string, number>;
}

/** mulberry32: 32-bit state, period 2^32, good enough for test data and fully deterministic. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(this.next() * 16)];
    return s;
  }
  b64(n: number): string {
    const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    let s = '';
    for (let i = 0; i < n; i++) s += A[Math.floor(this.next() * 64)];
    return s;
  }
  /** exponential with the given mean */
  exp(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }
  /** pick from weighted entries */
  weighted<T>(table: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of table) total += w;
    let r = this.next() * total;
    for (const [w, v] of table) {
      r -= w;
      if (r < 0) return v;
    }
    return table[table.length - 1][1];
  }
}

/** Zipf(s) sampler over ranks 0..n-1 via a precomputed CDF. */
class Zipf {
  private readonly cdf: Float64Array;
  constructor(n: number, s: number) {
    this.cdf = new Float64Array(n);
    let acc = 0;
    for (let k = 0; k < n; k++) {
      acc += 1 / Math.pow(k + 1, s);
      this.cdf[k] = acc;
    }
    for (let k = 0; k < n; k++) this.cdf[k] /= acc;
  }
  sample(rng: Rng): number {
    const u = rng.next();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Distinct attacker addresses: documentation ranges, IPv6 in 2001:db8::/32 (RFC 5952 form), a few private. */
function attackerPool(rng: Rng, n: number): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  const v4nets = ['192.0.2', '198.51.100', '203.0.113'];
  let guard = 0;
  while (out.length < n && guard++ < n * 50) {
    const r = rng.next();
    let a: string;
    if (r < 0.55 && seen.size < 700) a = `${rng.pick(v4nets)}.${rng.int(1, 254)}`;
    else if (r < 0.95 || seen.size >= 700) {
      // groups 3, 4 and 8 non-zero and 5..7 zero: canonical form is 2001:db8:g3:g4::g8
      const g = () => rng.int(1, 0xffff).toString(16);
      a = rng.chance(0.5) ? `2001:db8:${g()}:${g()}::${g()}` : `2001:db8:${g()}::${g()}`;
    } else a = rng.chance(0.5) ? `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}` : `172.${rng.int(16, 31)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
    if (!seen.has(a)) {
      seen.add(a);
      out.push(a);
    }
  }
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number) => (n < 10 ? '0' : '') + n;

/** Fixed start so output never depends on today's date: 2025-03-02 00:00:00 UTC. */
const START = Date.UTC(2025, 2, 2) / 1000;

function syslogDate(t: number): string {
  const d = new Date(Math.floor(t) * 1000);
  const day = d.getUTCDate();
  return `${MONTHS[d.getUTCMonth()]} ${day < 10 ? ' ' + day : day} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
}

function clfDate(t: number): string {
  const d = new Date(Math.floor(t) * 1000);
  return `${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`;
}

/** One generated line's message (without date) and the failure it carries, if any. */
interface Ev {
  msg: string;
  fail?: string;
}

/** Buffered writer + ground-truth accumulator shared by both kinds. */
class Sink {
  private buf: string[] = [];
  private bufLen = 0;
  lines = 0;
  bytes = 0;
  failures = 0;
  readonly addresses = new Map<string, number>();
  constructor(private readonly fd: number) {}
  emit(line: string, fail?: string): void {
    const s = line + '\n';
    this.buf.push(s);
    this.bufLen += s.length;
    this.bytes += Buffer.byteLength(s);
    this.lines++;
    if (fail !== undefined) {
      this.failures++;
      this.addresses.set(fail, (this.addresses.get(fail) ?? 0) + 1);
    }
    if (this.bufLen > 1 << 20) this.flush();
  }
  flush(): void {
    if (this.buf.length) fs.writeSync(this.fd, this.buf.join(''));
    this.buf = [];
    this.bufLen = 0;
  }
}

const USERS = ['alice', 'bob', 'carol', 'dave', 'deploy', 'backup', 'git', 'ansible', 'monitor', 'erin'];
const BAD_USERS = ['admin', 'test', 'user', 'oracle', 'postgres', 'ubuntu', 'guest', 'ftpuser', 'pi', 'support', 'mysql',
  'hadoop', 'jenkins', 'tomcat', 'nagios', 'minecraft', 'steam', 'validator', 'sol', 'teamspeak', 'www', 'demo', 'dev',
  'user1', 'administrator', 'default', 'vagrant', 'centos', 'ec2-user', 'es', 'elastic', 'zabbix', 'odoo', 'gitlab'];
const VALID_TARGETS = ['root', 'root', 'root', 'git', 'deploy'];
const CMDS = ['test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }', '/usr/lib/php/sessionclean',
  '[ -x /usr/lib/sysstat/debian-sa1 ] && /usr/lib/sysstat/debian-sa1 1 1', 'cd / && run-parts --report /etc/cron.hourly',
  '/usr/local/bin/backup.sh >/dev/null 2>&1', 'command -v debian-sa1 > /dev/null && debian-sa1 1 1'];
const SUDO_CMDS = ['/usr/bin/apt update', '/usr/bin/systemctl restart nginx', '/usr/bin/journalctl -u sshd', '/bin/cat /var/log/auth.log',
  '/usr/bin/docker ps', '/usr/sbin/nft list ruleset'];
const KEYS = ['ED25519', 'RSA', 'ECDSA'];

/**
 * sshd auth.log. Sessions (one sshd pid each) interleave, at most MAX_ACTIVE at a time, so the
 * per-pid state fail2ban keeps (its mlfid cache holds 100 connections) is never evicted early.
 */
function genSshd(sink: Sink, rng: Rng, n: number): void {
  const host = 'bastion';
  const nAttackers = Math.max(50, Math.min(20000, Math.floor(n / 150)));
  const pool = attackerPool(rng, nAttackers);
  const zipf = new Zipf(pool.length, 1.1);
  const attacker = () => pool[zipf.sample(rng)];
  const clients = Array.from({ length: 60 }, (_, i) => (i < 45 ? `10.20.${rng.int(0, 9)}.${rng.int(2, 250)}` : `2001:db8:ffff:${rng.int(1, 0xfff).toString(16)}::${rng.int(1, 0xffff).toString(16)}`));
  let pid = rng.int(20000, 40000);
  const nextPid = () => {
    pid += rng.int(1, 9);
    if (pid > 4194000) pid = 1000;
    return pid;
  };
  let session = rng.int(100, 5000);
  let t = START + rng.int(0, 3600);
  const port = () => rng.int(1024, 65535);

  type Session = { lines: Ev[]; pos: number; daemon: string };
  const active: Session[] = [];
  const MAX_ACTIVE = 8;

  const sshd = (evs: Ev[]): Session => ({ lines: evs, pos: 0, daemon: `sshd[${nextPid()}]` });

  const newSession = (): Session => {
    const kind = rng.weighted<string>([
      [30, 'pubkey'], [3, 'password'], [1.2, 'typo'], [2, 'pubkey-retry'],
      [10, 'cron'], [2, 'sudo'], [1, 'logind'],
      [9, 'preauth-close'],
      [1.6, 'brute-valid'], [1.8, 'brute-invalid'], [0.3, 'brute-old'], [0.25, 'none-kbd'],
      [0.15, 'notallowed'], [0.1, 'jsch'], [0.08, 'illegal-pam'], [0.15, 'pubkey-invalid'], [0.03, 'root-refused'],
    ]);
    switch (kind) {
      case 'pubkey':
      case 'password':
      case 'typo':
      case 'pubkey-retry': {
        const u = rng.pick(USERS);
        const ip = rng.pick(clients);
        const p = port();
        const sid = ++session;
        const uid = 1000 + USERS.indexOf(u);
        const evs: Ev[] = [];
        if (kind === 'typo') evs.push({ msg: `Failed password for ${u} from ${ip} port ${p} ssh2`, fail: ip });
        if (kind === 'pubkey-retry') evs.push({ msg: `Failed publickey for ${u} from ${ip} port ${p} ssh2: RSA SHA256:${rng.b64(43)}` });
        evs.push(kind === 'password' || kind === 'typo'
          ? { msg: `Accepted password for ${u} from ${ip} port ${p} ssh2` }
          : { msg: `Accepted publickey for ${u} from ${ip} port ${p} ssh2: ${rng.pick(KEYS)} SHA256:${rng.b64(43)}` });
        evs.push({ msg: `pam_unix(sshd:session): session opened for user ${u}(uid=${uid}) by (uid=0)` });
        evs.push({ msg: `\u0000logind New session ${sid} of user ${u}.` });
        evs.push({ msg: `\u0000systemd Started session-${sid}.scope - Session ${sid} of User ${u}.` });
        if (rng.chance(0.5)) {
          evs.push({ msg: `Received disconnect from ${ip} port ${p}:11: disconnected by user` });
          evs.push({ msg: `Disconnected from user ${u} ${ip} port ${p}` });
        } else evs.push({ msg: `Connection closed by ${ip} port ${p}` });
        evs.push({ msg: `pam_unix(sshd:session): session closed for user ${u}` });
        evs.push({ msg: `\u0000logind Session ${sid} logged out. Waiting for processes to exit.` });
        evs.push({ msg: `\u0000logind Removed session ${sid}.` });
        return sshd(evs);
      }
      case 'cron': {
        const u = rng.chance(0.8) ? 'root' : rng.pick(USERS);
        const uid = u === 'root' ? 0 : 1000 + USERS.indexOf(u);
        return {
          lines: [
            { msg: `pam_unix(cron:session): session opened for user ${u}(uid=${uid}) by (uid=0)` },
            { msg: `(${u}) CMD (${rng.pick(CMDS)})` },
            { msg: `pam_unix(cron:session): session closed for user ${u}` },
          ], pos: 0, daemon: `CRON[${nextPid()}]`,
        };
      }
      case 'sudo': {
        const u = rng.pick(USERS);
        const uid = 1000 + USERS.indexOf(u);
        const evs: Ev[] = [];
        // a typo'd sudo password: says "authentication failure" but is not sshd — not a failure
        if (rng.chance(0.2)) evs.push({ msg: `pam_unix(sudo:auth): authentication failure; logname=${u} uid=${uid} euid=0 tty=/dev/pts/0 ruser=${u} rhost=  user=${u}` });
        evs.push({ msg: `    ${u} : TTY=pts/0 ; PWD=/home/${u} ; USER=root ; COMMAND=${rng.pick(SUDO_CMDS)}` });
        evs.push({ msg: `pam_unix(sudo:session): session opened for user root(uid=0) by ${u}(uid=${uid})` });
        evs.push({ msg: `pam_unix(sudo:session): session closed for user root` });
        return { lines: evs, pos: 0, daemon: 'sudo' };
      }
      case 'logind':
        return { lines: [{ msg: rng.pick(['Watching system buttons on /dev/input/event0 (Power Button)', 'New seat seat0.', 'Session 3 logged out. Waiting for processes to exit.']) }], pos: 0, daemon: 'systemd-logind[412]' };
      case 'preauth-close': {
        const ip = attacker();
        const p = port();
        const m = rng.weighted<Ev[]>([
          [4, [{ msg: `Connection closed by ${ip} port ${p} [preauth]` }]],
          [3, [{ msg: `Connection closed by authenticating user root ${ip} port ${p} [preauth]` }]],
          [2, [{ msg: `Received disconnect from ${ip} port ${p}:11: Bye Bye [preauth]` }, { msg: `Disconnected from authenticating user root ${ip} port ${p} [preauth]` }]],
          [1, [{ msg: `Connection reset by ${ip} port ${p} [preauth]` }]],
          [1, [{ msg: `Unable to negotiate with ${ip} port ${p}: no matching key exchange method found. Their offer: diffie-hellman-group14-sha1,diffie-hellman-group1-sha1 [preauth]` }]],
          [1, [{ msg: `error: kex_exchange_identification: Connection closed by remote host` }, { msg: `Connection closed by ${ip} port ${p}` }]],
          [0.5, [{ msg: `banner exchange: Connection from ${ip} port ${p}: invalid format` }]],
        ]);
        return sshd(m);
      }
      case 'brute-valid': {
        // modern OpenSSH: pam notice (no failure), Failed password x k, then either the
        // MaxAuthTries cut-off or a disconnect.
        const ip = attacker();
        const p = port();
        const u = rng.pick(VALID_TARGETS);
        const k = rng.int(1, 6);
        const evs: Ev[] = [{ msg: `pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=${ip}  user=${u}` }];
        for (let i = 0; i < k; i++) evs.push({ msg: `Failed password for ${u} from ${ip} port ${p} ssh2`, fail: ip });
        if (k === 6) {
          evs.push({ msg: `error: maximum authentication attempts exceeded for ${u} from ${ip} port ${p} ssh2 [preauth]`, fail: ip });
          // stock 1.0.2 sshd.conf only knows this form for "Change of username", so: no failure
          evs.push({ msg: `Disconnecting authenticating user ${u} ${ip} port ${p}: Too many authentication failures [preauth]` });
          evs.push({ msg: `PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=${ip}  user=${u}` });
          evs.push({ msg: `PAM service(sshd) ignoring max retries; 6 > 3` });
        } else if (rng.chance(0.5)) evs.push({ msg: `Connection closed by authenticating user ${u} ${ip} port ${p} [preauth]` });
        else {
          evs.push({ msg: `Received disconnect from ${ip} port ${p}:11: Bye Bye [preauth]` });
          evs.push({ msg: `Disconnected from authenticating user ${u} ${ip} port ${p} [preauth]` });
        }
        return sshd(evs);
      }
      case 'brute-invalid': {
        const ip = attacker();
        const p = port();
        const u = rng.chance(0.01) ? '' : rng.pick(BAD_USERS);
        const evs: Ev[] = [
          { msg: `Invalid user ${u} from ${ip} port ${p}`, fail: ip },
          { msg: `pam_unix(sshd:auth): check pass; user unknown` },
          { msg: `pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=${ip}` },
          { msg: `Failed password for invalid user ${u} from ${ip} port ${p} ssh2`, fail: ip },
        ];
        if (rng.chance(0.7)) {
          evs.push({ msg: `Received disconnect from ${ip} port ${p}:11: Bye Bye [preauth]` });
          evs.push({ msg: `Disconnected from invalid user ${u} ${ip} port ${p} [preauth]` });
        } else evs.push({ msg: `Connection closed by invalid user ${u} ${ip} port ${p} [preauth]` });
        return sshd(evs);
      }
      case 'brute-old': {
        // older OpenSSH: the host-less "Disconnecting: Too many authentication failures" line
        // is a failure for the address the same pid logged before (fail2ban's mlfid).
        const ip = attacker();
        const p = port();
        const u = rng.pick(VALID_TARGETS);
        const k = rng.int(2, 5);
        const evs: Ev[] = [];
        for (let i = 0; i < k; i++) evs.push({ msg: `Failed password for ${u} from ${ip} port ${p} ssh2`, fail: ip });
        evs.push({ msg: `Disconnecting: Too many authentication failures for ${u} [preauth]`, fail: ip });
        return sshd(evs);
      }
      case 'none-kbd': {
        const ip = attacker();
        const p = port();
        const u = rng.pick(BAD_USERS);
        return sshd([
          { msg: `Failed none for invalid user ${u} from ${ip} port ${p} ssh2`, fail: ip },
          { msg: `Failed keyboard-interactive/pam for invalid user ${u} from ${ip} port ${p} ssh2`, fail: ip },
          { msg: `Connection closed by invalid user ${u} ${ip} port ${p} [preauth]` },
        ]);
      }
      case 'notallowed': {
        const ip = attacker();
        const p = port();
        const why = rng.pick(['not listed in AllowUsers', 'listed in DenyUsers', 'not in any group', "none of user's groups are listed in AllowGroups"]);
        return sshd([
          { msg: `User root from ${ip} not allowed because ${why}`, fail: ip },
          { msg: `Connection closed by invalid user root ${ip} port ${p} [preauth]` },
        ]);
      }
      case 'jsch': {
        const ip = attacker();
        return sshd([{ msg: `Received disconnect from ${ip} port ${port()}:3: com.jcraft.jsch.JSchException: Auth fail [preauth]`, fail: ip }]);
      }
      case 'illegal-pam': {
        const ip = attacker();
        return sshd([{ msg: `error: PAM: Authentication failure for illegal user ${rng.pick(BAD_USERS)} from ${ip}`, fail: ip }]);
      }
      case 'pubkey-invalid': {
        const ip = attacker();
        const p = port();
        const u = rng.pick(BAD_USERS);
        return sshd([
          { msg: `Failed publickey for invalid user ${u} from ${ip} port ${p} ssh2: RSA SHA256:${rng.b64(43)}`, fail: ip },
          { msg: `Connection closed by invalid user ${u} ${ip} port ${p} [preauth]` },
        ]);
      }
      default: {
        const ip = attacker();
        return sshd([{ msg: `ROOT LOGIN REFUSED FROM ${ip}`, fail: ip }]);
      }
    }
  };

  let guard = 0;
  while (sink.lines < n && guard++ < n * 4) {
    if (active.length === 0 || (active.length < MAX_ACTIVE && rng.chance(0.35))) active.push(newSession());
    const i = Math.floor(rng.next() * active.length);
    const s = active[i];
    const ev = s.lines[s.pos++];
    t += rng.exp(0.25);
    let daemon = s.daemon;
    let msg = ev.msg;
    if (msg.charCodeAt(0) === 0) {
      // "\0logind ..." / "\0systemd ...": a line from another daemon inside an ssh session
      const sp = msg.indexOf(' ');
      daemon = msg.slice(1, sp) === 'logind' ? 'systemd-logind[412]' : 'systemd[1]';
      msg = msg.slice(sp + 1);
    }
    sink.emit(`${syslogDate(t)} ${host} ${daemon}: ${msg}`, ev.fail);
    if (s.pos >= s.lines.length) active.splice(i, 1);
  }
}

const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  'curl/8.5.0', 'Prometheus/2.51.0', 'kube-probe/1.29',
];
const BOT_UAS = ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0.4472.124 Safari/537.36',
  'python-requests/2.31.0', 'Go-http-client/1.1', 'Mozilla/5.0 zgrab/0.x', '-', 'Mozlila/5.0 (Linux; Android 7.0; SM-G892A Bulid/NRD90M; wv)'];
const PAGES = ['/', '/', '/', '/about', '/pricing', '/blog/', '/blog/2025/02/scaling-postgres', '/blog/2025/01/zero-downtime-deploys',
  '/docs/', '/docs/getting-started', '/docs/api/v2/auth', '/contact', '/login', '/account/settings', '/search?q=invoice+template',
  '/products/42', '/products/1337?ref=newsletter', '/cart', '/checkout/step-2'];
const ASSETS = ['/static/app.3f9c2e.js', '/static/vendor.a81b07.js', '/static/main.5d2e11.css', '/static/img/logo.svg',
  '/static/img/hero@2x.webp', '/static/fonts/inter-var.woff2', '/api/v2/session', '/api/v2/cart', '/api/v2/products?page=2'];
/** Block paths of the stock botsearch filter: a 404 to one of these (GET/POST/HEAD) is a failure. */
const BLOCK = ['/wp-login.php', '/wp-login.php', '/wp-login.php', '//wp-login.php', '/wp-signup.php', '/wp-admin.php', '/phpmyadmin/',
  '/phpMyAdmin/index.php', '/pma/', '/myadmin/', '/MyAdmin/scripts/setup.php', '/mysqladmin/', '/admin/pma/',
  '/admin/phpmyadmin/', '/typo3/phpmyadmin/', '/xampp/phpmyadmin/', '/cgi-bin/luci/;stok=/locale', '/cgi-bin/.%2e/%2e%2e/bin/sh',
  '/roundcube/', '/webmail/', '/v-webmail/', '/mail/', '/extmail/', '/horde/imp/', '/phpmyadmin/index.php?lang=en'];
/** Scanner paths the stock filter does not cover: never a failure. */
const OTHER_SCAN = ['/.env', '/PMA/', '/.git/config', '/wp-admin/setup-config.php', '/wp-content/plugins/revslider/readme.txt',
  '/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php', '/actuator/health', '/boaform/admin/formLogin', '/solr/admin/info/system',
  '/.aws/credentials', '/config.json', '/server-status', '/owa/auth/logon.aspx', '/HNAP1/', '/xmlrpc.php', '/admin/', '/login.action'];

function genNginx(sink: Sink, rng: Rng, n: number): void {
  const nBots = Math.max(50, Math.min(20000, Math.floor(n / 200)));
  const bots = attackerPool(rng, nBots);
  const zipf = new Zipf(bots.length, 1.1);
  const visitors = Array.from({ length: 400 }, (_, i) => (i % 5 === 4
    ? `2001:db8:${rng.int(0x1000, 0xffff).toString(16)}:${rng.int(1, 0xffff).toString(16)}::${rng.int(1, 0xffff).toString(16)}`
    : `${rng.pick(['10.1', '10.7', '172.20', '192.168.3'])}.${rng.int(0, 255)}.${rng.int(1, 254)}`));
  let t = START + rng.int(0, 3600);
  // queued lines of the running bot scans (a scan is a burst of requests from one address)
  const scans: { ip: string; ua: string; left: number }[] = [];
  let guard = 0;
  while (sink.lines < n && guard++ < n * 4) {
    t += rng.exp(0.05);
    const date = clfDate(t);
    if (scans.length < 4 && rng.chance(0.006)) {
      scans.push({ ip: bots[zipf.sample(rng)], ua: rng.pick(BOT_UAS), left: rng.int(1, 12) });
    }
    if (scans.length > 0 && rng.chance(0.06)) {
      const i = Math.floor(rng.next() * scans.length);
      const s = scans[i];
      if (--s.left <= 0) scans.splice(i, 1);
      const method = rng.weighted<string>([[85, 'GET'], [8, 'POST'], [4, 'HEAD'], [3, 'PROPFIND']]);
      const block = rng.chance(0.55);
      const path = block ? rng.pick(BLOCK) : rng.pick(OTHER_SCAN);
      const status = block && rng.chance(0.05) ? rng.pick([403, 301, 200]) : rng.chance(0.02) ? 400 : 404;
      const counted = block && status === 404 && method !== 'PROPFIND';
      const size = status === 404 ? 153 : rng.int(150, 5000);
      sink.emit(`${s.ip} - - [${date}] "${method} ${path} HTTP/1.1" ${status} ${size} "-" "${s.ua}"`, counted ? s.ip : undefined);
      continue;
    }
    const r = rng.next();
    const ip = rng.pick(visitors);
    if (r < 0.003) {
      // TLS handshake sent to the plain-HTTP port
      sink.emit(`${ip} - - [${date}] "\\x16\\x03\\x01\\x00\\xCA\\x01\\x00\\x00\\xC6\\x03\\x03" 400 157 "-" "-"`);
      continue;
    }
    const ua = rng.pick(UAS);
    const asset = r < 0.55;
    const path = asset ? rng.pick(ASSETS) : rng.pick(PAGES);
    const status = rng.weighted<number>([[88, 200], [6, 304], [2, 301], [2, 404], [1, 499], [0.5, 502]]);
    const p = status === 404 ? rng.pick(['/favicon.ico', '/apple-touch-icon.png', '/blog/2019/old-post', '/static/app.1a2b3c.js']) : path;
    const method = p.startsWith('/api/') && rng.chance(0.3) ? 'POST' : 'GET';
    const size = status === 304 ? 0 : rng.int(200, 90000);
    const ref = rng.chance(0.4) ? `https://example.com${rng.pick(PAGES)}` : '-';
    const user = rng.chance(0.01) ? rng.pick(USERS) : '-';
    const proto = rng.chance(0.6) ? 'HTTP/2.0' : 'HTTP/1.1';
    sink.emit(`${ip} - ${user} [${date}] "${method} ${p} ${proto}" ${status} ${size} "${ref}" "${ua}"`);
  }
}

/** nginx's error log date: `2025/03/02 00:46:53` (UTC, as the other kinds' dates). */
function errDate(t: number): string {
  const d = new Date(t * 1000);
  return `${d.getUTCFullYear()}/${pad2(d.getUTCMonth() + 1)}/${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
}

const HTPASSWD = ['/etc/nginx/.htpasswd', '/etc/nginx/htpasswd.admin', '/srv/www/private/.htpasswd'];
const AUTH_PATHS = ['/admin/', '/admin/login', '/private/', '/grafana/', '/status', '/backup/', '/phpmyadmin/'];
const HOSTS = ['example.com', 'www.example.com', 'admin.example.com', '203.0.113.80'];

/**
 * An nginx error log of a site with HTTP basic auth: failures (`user "X" was not found in
 * "FILE"`, `user "X": password mismatch`, one per line, counted for the client) from attackers
 * guessing credentials, and what such a log also holds: the same for the site's own users now and
 * then, `no user/password was provided for basic authentication` (a browser's first request:
 * not a failure for the stock filter), missing files, upstream timeouts and resets, buffering
 * warnings, TLS handshake errors (`[crit] SSL_do_handshake() failed ... wrong version number`:
 * the stock filter's aggressive mode only knows `too long`/`too short`, so not counted here),
 * and worker signals.
 */
function genNginxError(sink: Sink, rng: Rng, n: number): void {
  const bots = attackerPool(rng, Math.max(50, Math.min(20000, Math.floor(n / 150))));
  const zipf = new Zipf(bots.length, 1.1);
  const visitors = Array.from({ length: 300 }, (_, i) => (i % 5 === 4
    ? `2001:db8:${rng.int(0x1000, 0xffff).toString(16)}:${rng.int(1, 0xffff).toString(16)}::${rng.int(1, 0xffff).toString(16)}`
    : `${rng.pick(['10.1', '10.7', '172.20', '192.168'])}.${rng.int(0, 255)}.${rng.int(1, 254)}`));
  const pids = [rng.int(700, 30000), rng.int(700, 30000)];
  let conn = rng.int(1, 5000);
  let t = START + rng.int(0, 3600);
  // running guessing sessions: a burst of tries from one address
  const guesses: { ip: string; left: number; user: string }[] = [];
  let guard = 0;
  while (sink.lines < n && guard++ < n * 4) {
    t += rng.exp(0.4);
    const pid = rng.pick(pids);
    const head = `${errDate(t)} [error] ${pid}#${pid}: *${(conn += rng.int(1, 40))}`;
    const tail = (ip: string, method: string, p: string) => {
      const host = rng.pick(HOSTS);
      const ref = rng.chance(0.2) ? `, referrer: "https://${host}${rng.pick(PAGES)}"` : '';
      return `, client: ${ip}, server: ${host}, request: "${method} ${p} HTTP/1.1", host: "${host}"${ref}`;
    };
    if (guesses.length < 3 && rng.chance(0.004)) guesses.push({ ip: bots[zipf.sample(rng)], left: rng.int(1, 30), user: rng.pick(BAD_USERS) });
    if (guesses.length > 0 && rng.chance(0.12)) {
      const i = Math.floor(rng.next() * guesses.length);
      const g = guesses[i];
      if (--g.left <= 0) guesses.splice(i, 1);
      if (rng.chance(0.3)) g.user = rng.pick([...BAD_USERS, ...USERS]);
      const p = rng.pick(AUTH_PATHS);
      const what = rng.chance(0.5) ? `was not found in "${rng.pick(HTPASSWD)}"` : 'password mismatch';
      const user = what === 'password mismatch' ? `user "${g.user}":` : `user "${g.user}"`;
      sink.emit(`${head} ${user} ${what}${tail(g.ip, rng.chance(0.9) ? 'GET' : 'POST', p)}`, g.ip);
      continue;
    }
    const ip = rng.pick(visitors);
    const r = rng.next();
    if (r < 0.01) {
      // one of the site's own users mistyping: a failure all the same
      sink.emit(`${head} user "${rng.pick(USERS)}": password mismatch${tail(ip, 'GET', rng.pick(AUTH_PATHS))}`, ip);
    } else if (r < 0.3) {
      sink.emit(`${head} no user/password was provided for basic authentication${tail(ip, 'GET', rng.pick(AUTH_PATHS))}`);
    } else if (r < 0.6) {
      const f = rng.pick(['/favicon.ico', '/apple-touch-icon.png', '/robots.txt', '/blog/2019/old-post', '/.well-known/security.txt']);
      sink.emit(`${head} open() "/var/www/html${f}" failed (2: No such file or directory)${tail(ip, 'GET', f)}`);
    } else if (r < 0.75) {
      sink.emit(`${head} upstream timed out (110: Connection timed out) while reading response header from upstream${tail(ip, 'GET', rng.pick(PAGES))}, upstream: "http://127.0.0.1:8080${rng.pick(PAGES)}"`);
    } else if (r < 0.85) {
      sink.emit(`${head} recv() failed (104: Connection reset by peer) while reading response header from upstream${tail(ip, 'POST', '/api/v1/events')}, upstream: "http://127.0.0.1:8080/api/v1/events"`);
    } else if (r < 0.93) {
      sink.emit(`${errDate(t)} [warn] ${pid}#${pid}: *${conn} an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/${rng.int(1, 9)}/${rng.int(10, 99)}/${rng.int(1000000000, 9999999999)} while reading upstream${tail(ip, 'GET', rng.pick(ASSETS))}, upstream: "http://127.0.0.1:8080${rng.pick(ASSETS)}"`);
    } else if (r < 0.99) {
      sink.emit(`${errDate(t)} [crit] ${pid}#${pid}: *${conn} SSL_do_handshake() failed (SSL: error:0A00010B:SSL routines::wrong version number) while SSL handshaking, client: ${ip}, server: 0.0.0.0:443`);
    } else {
      sink.emit(`${errDate(t)} [notice] ${pids[0]}#${pids[0]}: signal process started`);
    }
  }
}

export const FILTER: Record<Kind, string> = { sshd: 'sshd', nginx: 'nginx-botsearch', 'nginx-error': 'nginx-http-auth' };

/** Writes `out` and `out.truth.json`; returns the truth. */
export function generate(kind: Kind, lines: number, seed: number, out: string): Truth {
  if (!Number.isInteger(lines) || lines < 1 || lines > 100_000_000) throw new Error(`--lines must be 1..1e8, got ${lines}`);
  const fd = fs.openSync(out, 'w');
  const sink = new Sink(fd);
  try {
    const rng = new Rng(seed);
    if (kind === 'sshd') genSshd(sink, rng, lines);
    else if (kind === 'nginx') genNginx(sink, rng, lines);
    else genNginxError(sink, rng, lines);
    sink.flush();
  } finally {
    fs.closeSync(fd);
  }
  const addresses: Record<string, number> = {};
  for (const k of [...sink.addresses.keys()].sort()) addresses[k] = sink.addresses.get(k)!;
  const truth: Truth = {
    kind, filter: FILTER[kind], seed, lines: sink.lines, bytes: sink.bytes,
    failures: sink.failures, failureLines: sink.failures, addresses,
  };
  fs.writeFileSync(out + '.truth.json', JSON.stringify(truth, null, 1) + '\n');
  return truth;
}

function parseArgs(argv: string[]): { kind: Kind; lines: number; seed: number; out: string } {
  const a: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '-h' || k === '--help') {
      process.stdout.write('usage: node dist/bench/generate.js --kind sshd|nginx|nginx-error --lines N --seed S --out FILE\n');
      process.exit(0);
    }
    if (!k.startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument: ${k}`);
    a[k.slice(2)] = argv[++i];
  }
  const kind = a.kind as Kind;
  if (!KINDS.includes(kind)) throw new Error(`--kind must be one of ${KINDS.join(', ')}`);
  if (!a.out) throw new Error('--out FILE is required');
  return { kind, lines: Number(a.lines ?? 100000), seed: Number(a.seed ?? 1) >>> 0, out: a.out };
}

if (require.main === module) {
  try {
    const o = parseArgs(process.argv.slice(2));
    const tr = generate(o.kind, o.lines, o.seed, o.out);
    process.stdout.write(`${o.out}: ${tr.lines} lines, ${tr.bytes} bytes, ${tr.failures} failures from ${Object.keys(tr.addresses).length} addresses (truth: ${o.out}.truth.json)\n`);
  } catch (e) {
    process.stderr.write(`generate: ${(e as Error).message}\n`);
    process.exitCode = 2;
  }
}
