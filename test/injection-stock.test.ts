// Log injection against fail2ban's STOCK filters (read from the installed /etc/fail2ban/filter.d at
// run time through our own filter loader, never copied): sshd, the nginx and apache filters and
// postfix, in every mode. The template lines below are our own, written from each service's log
// formats; {{U}} marks every spot the client writes (user name, URL, user agent, referrer, Host
// header, HELO name, sender, recipient, SASL user name, SSH banner or algorithm offer, ...).
//
// For each filter variant and template: with a harmless value the template must blame its true
// host (else it proves nothing); then every hostile payload (helpers/payloads.ts) goes into every
// {{U}} and the lines must blame the true host or nothing, never another address. Payloads with
// line breaks are tried twice: as a log file holds them (the line cut where the break is, as the
// tailer splits it) and as the journal backend writes them (the break escaped, one line).
// A template may say what the service writes for the client's text (sshd cuts a user name at
// ':') or which characters it never lets into that spot (a postfix client's verified host name).
//
// Then, with the same hostile lines:
//  - the failures found go to a real action.d command action: the captured user names and the
//    matched lines reach /bin/sh as text (nothing runs), and the action's log holds no raw
//    control character;
//  - every sshd event, with the raw user names too, gives the failures fail2ban-regex gives (the
//    stock sshd filter can be fooled by a user name holding ':', which sshd never logs: fail2ban
//    is fooled the same way, f2b-fast is a drop-in here too);
//  - `f2b-fast regex --print-all-*` lists them with their control characters escaped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readFilter } from '../src/config';
import { regexOutput } from '../src/cli/regex';
import { FilterScanner, filterSpecOf, type FoundFailure } from '../src/filter/filter';
import { CommandAction, type ActionTicket } from '../src/action/command-action';
import { Logger, LogSink } from '../src/log/logger';
import { BENIGN, NEWLINE_PAYLOADS, PAYLOADS, payloadForms } from './helpers/payloads';
import { eventFailures } from './helpers/samples';
import { tmpDir } from './helpers/tmp';

const FILTER_D = '/etc/fail2ban/filter.d';
const NOW = Date.parse('2024-06-01T12:00:00Z') / 1000;
const FAIL2BAN_REGEX = '/usr/bin/fail2ban-regex';
const installed = fs.existsSync(path.join(FILTER_D, 'sshd.conf'));

interface Template {
  /** the lines of one event (several for an sshd session); {{U}} = client-controlled */
  lines: string[];
  /** the address the event must blame */
  host: string;
  /** the modes it matches in (default: all the filter's modes) */
  modes?: string[];
  /** characters the service never lets into that spot: payloads holding one are not tried */
  without?: string;
  /** what the service writes for the client's text (default: the text as it is) */
  writes?: (text: string) => string;
}

interface StockFilter {
  name: string;
  /** values of the filter's `mode` option; [''] for a filter without modes */
  modes: string[];
  /** regex parts named like a mode's that are no mode (mdre-auth2 is part of postfix's aggressive) */
  parts?: string[];
  templates: Template[];
}

const SSH = 'Jun  1 10:00:01 gw sshd[4242]: ';
const PAM = `${SSH}pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.7  user=`;
const NGX_ERR = '2024/06/01 10:00:01 [error] 4242#4242: *17 ';
const NGX_ACC = '[01/Jun/2024:10:00:01 +0000]';
const APE = (module: string) => `[Sat Jun 01 10:00:01.123456 2024] [${module}] [pid 4242:tid 139872] [client 192.0.2.7:51234] `;
const PFX = 'Jun  1 10:00:01 mail postfix/smtpd[4242]: ';
const PSCREEN = 'Jun  1 10:00:01 mail postfix/postscreen[4242]: ';
const ENVELOPE = 'from=<{{U}}> to=<{{U}}> proto=ESMTP helo=<{{U}}>';
/** characters postfix never logs in a client's host name (a verified DNS name) */
const NOT_IN_HOSTNAME = ' []()<>@:\'"=,;$`|&!\\/\x1b\r\n';

/** sshd takes what follows a ':' in the user name the client sends as an authentication style
 *  (auth2.c), so no user name it logs holds one; the stock filter relies on that */
const SSH_USER = { writes: (text: string) => text.split(':')[0] };

const SSHD_MODES = ['normal', 'ddos', 'extra', 'aggressive'];
const POSTFIX_MODES = ['normal', 'rbl', 'auth', 'more', 'ddos', 'extra', 'aggressive', 'errors'];
const POSTFIX_REJECT = ['normal', 'more', 'extra', 'aggressive'];

const STOCK: StockFilter[] = [
  {
    name: 'sshd',
    modes: SSHD_MODES,
    templates: [
      { ...SSH_USER, host: '192.0.2.7', lines: [`${SSH}Failed password for invalid user {{U}} from 192.0.2.7 port 50022 ssh2`] },
      { ...SSH_USER, host: '192.0.2.7', lines: [`${SSH}Failed password for {{U}} from 192.0.2.7 port 50022 ssh2`] },
      { ...SSH_USER, host: '2001:db8:7::7', lines: [`${SSH}Failed keyboard-interactive/pam for invalid user {{U}} from 2001:db8:7::7 port 50022 ssh2`] },
      { ...SSH_USER, host: '192.0.2.7', lines: [`${SSH}Failed publickey for invalid user {{U}} from 192.0.2.7 port 50022 ssh2: ED25519 SHA256:3kWq8bT0yJmGxkqf0Zs5dXo1pO9vRcL2aAeE7uYhN4c`] },
      { ...SSH_USER, host: '192.0.2.7', lines: [`${SSH}Invalid user {{U}} from 192.0.2.7 port 50022`] },
      { ...SSH_USER, host: '2001:db8:7::7', lines: [`${SSH}Invalid user {{U}} from 2001:db8:7::7 port 50022`] },
      { ...SSH_USER, host: '192.0.2.7', lines: [`${SSH}User {{U}} from 192.0.2.7 not allowed because not listed in AllowUsers`] },
      { ...SSH_USER, host: '192.0.2.7', lines: [`${SSH}User {{U}} from 192.0.2.7 not allowed because listed in DenyUsers`] },
      { ...SSH_USER, host: '192.0.2.7', lines: [`${SSH}User {{U}} from 192.0.2.7 not allowed because none of user's groups are listed in AllowGroups`] },
      { ...SSH_USER, host: '192.0.2.7', lines: [`${SSH}error: maximum authentication attempts exceeded for invalid user {{U}} from 192.0.2.7 port 50022 ssh2 [preauth]`] },
      { ...SSH_USER, host: '192.0.2.7', lines: [`${SSH}error: PAM: Authentication failure for illegal user {{U}} from 192.0.2.7`] },
      { ...SSH_USER, host: '192.0.2.7', lines: [`${SSH}error: PAM: User not known to the underlying authentication module for illegal user {{U}} from 192.0.2.7`] },
      // pam_unix's line is no failure by itself; it names the session's host
      { ...SSH_USER, host: '192.0.2.7', lines: [`${PAM}{{U}}`, `${SSH}Failed password for {{U}} from 192.0.2.7 port 50022 ssh2`] },
      { ...SSH_USER, host: '192.0.2.7', lines: [`${PAM}{{U}}`, `${SSH}Disconnecting: Too many authentication failures for {{U}} [preauth]`] },
      { ...SSH_USER, host: '192.0.2.7', lines: [`${SSH}Connection from 192.0.2.7 port 50022 on 198.51.100.1 port 22 rdomain ""`, `${SSH}User {{U}} not allowed because account is locked`] },
      { ...SSH_USER, host: '192.0.2.7', lines: [`${SSH}Connection from 192.0.2.7 port 50022 on 198.51.100.1 port 22 rdomain ""`, `${SSH}Disconnecting: Too many authentication failures for {{U}} [preauth]`] },
      // the description is the client's own text
      { host: '192.0.2.7', lines: [`${SSH}Received disconnect from 192.0.2.7 port 50022:3: {{U}}: Auth fail [preauth]`] },
      {
        ...SSH_USER,
        host: '192.0.2.7',
        lines: [`${SSH}Disconnecting invalid user {{U}} 192.0.2.7 port 50022: Change of username or service not allowed: ({{U}},ssh-connection) -> (alice2,ssh-connection) [preauth]`],
      },
      { ...SSH_USER, host: '192.0.2.7', modes: ['ddos', 'aggressive'], lines: [`${SSH}Connection closed by invalid user {{U}} 192.0.2.7 port 50022 [preauth]`] },
      { ...SSH_USER, host: '192.0.2.7', modes: ['ddos', 'extra', 'aggressive'], lines: [`${SSH}Disconnected from authenticating user {{U}} 192.0.2.7 port 50022 [preauth]`] },
      { host: '192.0.2.7', modes: ['ddos', 'aggressive'], lines: [`${SSH}Bad protocol version identification '{{U}}' from 192.0.2.7 port 50022`] },
      {
        host: '192.0.2.7',
        modes: ['ddos', 'aggressive'],
        lines: [`${SSH}kex_exchange_identification: client sent invalid protocol identifier "{{U}}"`, `${SSH}banner exchange: Connection from 192.0.2.7 port 50022: invalid format`],
      },
      {
        host: '192.0.2.7',
        modes: ['extra', 'aggressive'],
        lines: [`${SSH}Unable to negotiate with 192.0.2.7 port 50022: no matching key exchange method found. Their offer: {{U}} [preauth]`],
      },
    ],
  },
  {
    name: 'nginx-http-auth',
    modes: ['normal', 'aggressive'],
    parts: ['auth', 'fallback'],
    templates: [
      {
        host: '192.0.2.7',
        lines: [`${NGX_ERR}user "{{U}}": password mismatch, client: 192.0.2.7, server: example.org, request: "GET /private/{{U}} HTTP/1.1", host: "example.org", referrer: "https://example.org/{{U}}"`],
      },
      {
        host: '2001:db8:7::7',
        lines: [`${NGX_ERR}user "{{U}}" was not found in "/etc/nginx/htpasswd", client: 2001:db8:7::7, server: example.org, request: "POST /{{U}} HTTP/2.0", host: "{{U}}"`],
      },
    ],
  },
  {
    name: 'nginx-botsearch',
    modes: [''],
    templates: [
      { host: '192.0.2.7', lines: [`192.0.2.7 - {{U}} ${NGX_ACC} "GET /phpmyadmin/{{U}} HTTP/1.1" 404 153 "{{U}}" "{{U}}"`] },
      { host: '192.0.2.7', lines: [`192.0.2.7 - - ${NGX_ACC} "GET /phpmyadmin/{{U}} HTTP/1.1" 404 153 "{{U}}" "{{U}}"`] },
      {
        host: '192.0.2.7',
        lines: [
          `${NGX_ERR}open() "/var/www/html/wp-login.php{{U}}" failed (2: No such file or directory), client: 192.0.2.7, server: example.org, request: "GET /wp-login.php{{U}} HTTP/1.1", host: "{{U}}", referrer: "{{U}}"`,
        ],
      },
    ],
  },
  {
    name: 'nginx-limit-req',
    modes: [''],
    templates: [
      {
        host: '192.0.2.7',
        lines: [`${NGX_ERR.replace('[error]', '[warn]')}limiting requests, excess: 10.520 by zone "perip", client: 192.0.2.7, server: example.org, request: "GET /{{U}} HTTP/1.1", host: "{{U}}", referrer: "{{U}}"`],
      },
    ],
  },
  {
    name: 'nginx-bad-request',
    modes: [''],
    templates: [
      { host: '192.0.2.7', lines: [`192.0.2.7 - {{U}} ${NGX_ACC} "{{U}}" 400 150 "{{U}}" "{{U}}"`] },
      { host: '192.0.2.7', lines: [`192.0.2.7 - - ${NGX_ACC} "{{U}}" 400 150 "{{U}}" "{{U}}"`] },
    ],
  },
  {
    name: 'apache-auth',
    modes: ['normal', 'aggressive'],
    templates: [
      { host: '192.0.2.7', lines: [`${APE('auth_basic:error')}AH01617: user {{U}}: authentication failure for "/private/{{U}}": Password Mismatch, referer: https://example.org/{{U}}`] },
      { host: '192.0.2.7', lines: [`${APE('auth_basic:error')}AH01618: user {{U}} not found: /private/{{U}}`] },
      { host: '192.0.2.7', lines: [`${APE('authz_core:error')}AH01630: client denied by server configuration: /var/www/private/{{U}}, referer: {{U}}`] },
      { host: '192.0.2.7', lines: [`${APE('authz_core:error')}AH01631: user {{U}}: authorization failure for "/admin/{{U}}": `] },
      { host: '192.0.2.7', lines: [`${APE('auth_digest:error')}AH01790: user \`{{U}}' in realm \`Private' not found: /private/{{U}}`] },
      { host: '192.0.2.7', lines: [`${APE('ssl:error')}AH02032: Hostname {{U}} provided via SNI and hostname example.org provided via HTTP have no compatible SSL setup`] },
      { host: '192.0.2.7', modes: ['aggressive'], lines: [`${APE('evasive20:error')}client denied by server configuration: /{{U}}`] },
    ],
  },
  {
    name: 'apache-badbots',
    modes: [''],
    templates: [{ host: '192.0.2.7', lines: [`192.0.2.7 - {{U}} ${NGX_ACC} "GET /{{U}} HTTP/1.1" 200 512 "{{U}}" "EmailCollector"`] }],
  },
  {
    name: 'apache-botsearch',
    modes: [''],
    templates: [
      { host: '192.0.2.7', lines: [`${APE('core:info')}AH00128: File does not exist: /var/www/phpmyadmin/{{U}}, referer: {{U}}`] },
      { host: '192.0.2.7', lines: [`${APE('cgi:error')}AH02811: script '/var/www/cgi-bin/{{U}}' not found or unable to stat`] },
    ],
  },
  {
    name: 'apache-nohome',
    modes: [''],
    templates: [{ host: '192.0.2.7', lines: [`${APE('core:info')}AH00128: File does not exist: /var/www/~{{U}}/{{U}}, referer: {{U}}`] }],
  },
  {
    name: 'apache-noscript',
    modes: [''],
    templates: [
      { host: '192.0.2.7', lines: [`${APE('core:info')}AH00128: File does not exist: /var/www/{{U}}.php, referer: {{U}}`] },
      { host: '192.0.2.7', lines: [`${APE('cgi:error')}AH02811: script not found or unable to stat: /usr/lib/cgi-bin/{{U}}`] },
      { host: '192.0.2.7', lines: [`${APE('proxy_fcgi:error')}AH01071: Got error 'Primary script unknown', referer: {{U}}`] },
    ],
  },
  {
    name: 'apache-overflows',
    modes: [''],
    templates: [
      { host: '192.0.2.7', lines: [`${APE('core:error')}AH00126: Invalid URI in request GET /{{U}} HTTP/1.1`] },
      { host: '192.0.2.7', lines: [`${APE('core:error')}request failed: erroneous characters after protocol string: {{U}}`] },
    ],
  },
  {
    name: 'apache-modsecurity',
    modes: [''],
    templates: [
      {
        host: '192.0.2.7',
        lines: [
          `${APE('security2:error')}ModSecurity: Access denied with code 403 (phase 2). Pattern match "{{U}}" at REQUEST_HEADERS:User-Agent. [file "/etc/modsecurity/local.conf"] [line "12"] [id "900001"] [msg "bad agent"] [data "{{U}}"] [hostname "{{U}}"] [uri "/{{U}}"] [unique_id "ZmAbCdEfGh"]`,
        ],
      },
    ],
  },
  {
    name: 'apache-shellshock',
    modes: [''],
    templates: [
      { host: '192.0.2.7', lines: [`${APE('cgi:error')}AH01215: /bin/bash: warning: HTTP_{{U}}: ignoring function definition attempt, referer: {{U}}`] },
      { host: '192.0.2.7', lines: [`${APE('cgi:error')}AH01215: /bin/bash: error importing function definition for \`HTTP_{{U}}'`] },
    ],
  },
  {
    name: 'apache-fakegooglebot',
    modes: [''],
    // the filter wants a field between the time and the request: here the Host header
    templates: [
      { host: '192.0.2.7', lines: [`192.0.2.7 - {{U}} ${NGX_ACC} {{U}} "GET /{{U}} HTTP/1.1" 200 512 "{{U}}" "Mozilla/5.0 (compatible; Googlebot/2.1; {{U}})"`] },
      { host: '192.0.2.7', lines: [`192.0.2.7 - - ${NGX_ACC} example.org "GET /{{U}} HTTP/1.1" 200 512 "{{U}}" "Mozilla/5.0 (compatible; Googlebot/2.1; {{U}})"`] },
    ],
  },
  {
    name: 'apache-pass',
    modes: [''],
    templates: [
      { host: '192.0.2.7', lines: [`192.0.2.7 - {{U}} ${NGX_ACC} "GET /knocking/ HTTP/1.1" 200 512 "{{U}}" "{{U}}"`] },
      // a user name the filter wants (a word), so that the payloads reach the rest
      { host: '192.0.2.7', lines: [`192.0.2.7 - alice ${NGX_ACC} "GET /knocking/ HTTP/1.1" 200 512 "{{U}}" "{{U}}"`] },
    ],
  },
  {
    name: 'postfix',
    modes: POSTFIX_MODES,
    parts: ['auth2'],
    templates: [
      { host: '192.0.2.7', modes: POSTFIX_REJECT, lines: [`${PFX}NOQUEUE: reject: RCPT from unknown[192.0.2.7]:51234: 554 5.7.1 <{{U}}>: Relay access denied; ${ENVELOPE}`] },
      {
        host: '192.0.2.7',
        modes: POSTFIX_REJECT,
        lines: [`${PFX}NOQUEUE: reject: RCPT from unknown[192.0.2.7]:51234: 450 4.7.1 <{{U}}>: Helo command rejected: Host not found; ${ENVELOPE}`],
      },
      {
        host: '2001:db8:7::7',
        modes: POSTFIX_REJECT,
        lines: [`${PFX}NOQUEUE: reject: RCPT from unknown[2001:db8:7::7]:51234: 550 5.1.1 <{{U}}>: Recipient address rejected: User unknown in virtual mailbox table; ${ENVELOPE}`],
      },
      {
        host: '192.0.2.7',
        modes: ['rbl', ...POSTFIX_REJECT],
        lines: [`${PFX}NOQUEUE: reject: RCPT from unknown[192.0.2.7]:51234: 554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.example.net; ${ENVELOPE}`],
      },
      { host: '192.0.2.7', modes: POSTFIX_REJECT, lines: [`${PFX}improper command pipelining after CONNECT from unknown[192.0.2.7]:51234: {{U}}`] },
      {
        host: '192.0.2.7',
        modes: POSTFIX_REJECT,
        without: NOT_IN_HOSTNAME,
        lines: [`${PFX}NOQUEUE: reject: RCPT from {{U}}[192.0.2.7]:51234: 554 5.7.1 <{{U}}>: Relay access denied; from=<{{U}}> to=<{{U}}> proto=ESMTP helo=<{{U}}>`],
      },
      { host: '192.0.2.7', modes: ['auth', 'extra', 'aggressive'], lines: [`${PFX}warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username={{U}}`] },
      { host: '192.0.2.7', modes: ['ddos', 'aggressive'], lines: [`${PSCREEN}PREGREET 11 after 0.12 from [192.0.2.7]:51234: EHLO {{U}}\\r\\n`] },
      { host: '192.0.2.7', modes: ['errors'], without: NOT_IN_HOSTNAME, lines: [`${PFX}too many errors after RCPT from {{U}}[192.0.2.7]:51234`] },
    ],
  },
];

/** One event's failures (F-NOFAIL left out). */
const failuresOf = (scanner: FilterScanner, lines: readonly string[]): FoundFailure[] => eventFailures(scanner, lines, NOW);

/** The lines a payload makes of a template (see payloadForms). */
const forms = (tpl: Template, payload: string) => payloadForms(tpl.lines, tpl.writes ? tpl.writes(payload) : payload, NOW);

const show = (s: string) => JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);

interface FilterRun {
  /** template × payload line sets tried, and how many of them blamed the true host */
  tried: number;
  matched: number;
  /** payloads not allowed in their spot */
  skipped: number;
  /** templates that do not match with the harmless value, and wrong blames */
  problems: string[];
  wrong: number;
  /** per payload, the failures found with it (for the action check) */
  found: Map<string, FoundFailure[]>;
}

const runs = new Map<string, FilterRun>();

/** Every mode × template × payload of one stock filter (once per process). */
function runFilter(stock: StockFilter): FilterRun {
  const done = runs.get(stock.name);
  if (done) return done;
  const run: FilterRun = { tried: 0, matched: 0, skipped: 0, problems: [], wrong: 0, found: new Map() };
  for (const mode of stock.modes) {
    const spec = mode ? `${stock.name}[mode=${mode}]` : stock.name;
    const scanner = new FilterScanner(filterSpecOf(readFilter(FILTER_D, spec), { key: stock.name, usedns: 'raw', logtimezone: 'UTC' }));
    const templates = stock.templates.filter((tpl) => !mode || !tpl.modes || tpl.modes.includes(mode));
    if (!templates.length) run.problems.push(`${spec}: no template`);
    for (const tpl of templates) {
      const where = `${spec} ${show(tpl.lines[tpl.lines.length - 1])}`;
      const benign = failuresOf(scanner, tpl.lines.map((l) => l.replaceAll('{{U}}', BENIGN))).map((f) => f.id);
      if (benign.length !== 1 || benign[0] !== tpl.host) run.problems.push(`${where}: the harmless value gives [${benign.join(', ')}], not ${tpl.host}`);
      for (const payload of [...PAYLOADS, ...NEWLINE_PAYLOADS]) {
        if (tpl.without && [...tpl.without].some((c) => payload.includes(c))) {
          run.skipped++;
          continue;
        }
        for (const { form, lines } of forms(tpl, payload)) {
          run.tried++;
          const failures = failuresOf(scanner, lines);
          for (const f of failures) {
            if (f.id === tpl.host) continue;
            run.wrong++;
            run.problems.push(`${where} (${form}): payload ${show(payload)} blames ${f.id}`);
          }
          if (failures.length && failures.every((f) => f.id === tpl.host)) {
            run.matched++;
            run.found.set(payload, [...(run.found.get(payload) ?? []), ...failures]);
          }
        }
      }
    }
  }
  runs.set(stock.name, run);
  return run;
}

const notInstalled = `fail2ban is not installed (no ${FILTER_D}/sshd.conf): apt-get install fail2ban`;

for (const stock of STOCK) {
  test(`stock ${stock.name}: hostile client text never blames another address`, (t) => {
    if (!installed) return t.skip(notInstalled);
    if (!fs.existsSync(path.join(FILTER_D, `${stock.name}.conf`))) return t.skip(`the installed fail2ban has no ${stock.name} filter`);
    const run = runFilter(stock);
    t.diagnostic(`${stock.name}: ${run.tried} template × payload line sets tried (${run.matched} blamed the true host), ${run.skipped} payloads not allowed in their spot, ${run.wrong} wrong blames`);
    assert.deepEqual(run.problems, []);
    assert.ok(run.tried > run.skipped, `${stock.name}: ${run.skipped} payloads left out, ${run.tried} tried`);
  });
}

/** The stock filters the installed fail2ban has. */
const present = () => STOCK.filter((s) => fs.existsSync(path.join(FILTER_D, `${s.name}.conf`)));

test('stock filters: every mode the installed filters define is tried', (t) => {
  if (!installed) return t.skip(notInstalled);
  const missing = new Set<string>();
  for (const stock of present().filter((x) => x.modes[0])) {
    const text = fs.readFileSync(path.join(FILTER_D, `${stock.name}.conf`), 'utf8');
    // a mode's regexes are mdre-MODE (sshd, postfix, nginx-http-auth) or apache-pref-ign-MODE
    for (const [, mode] of text.matchAll(/^(?:mdre|apache-pref-ign)-(\w+?)(?:-other)?\s*=/gm)) {
      if (!stock.modes.includes(mode) && !stock.parts?.includes(mode)) missing.add(`${stock.name}: mode ${mode}`);
    }
  }
  assert.deepEqual([...missing], []);
});

test('stock filters: the totals', (t) => {
  if (!installed) return t.skip(notInstalled);
  const all = present().map(runFilter);
  const sum = (k: 'tried' | 'matched' | 'skipped' | 'wrong') => all.reduce((n, r) => n + r[k], 0);
  t.diagnostic(`${sum('tried')} template × payload line sets tried over ${all.length} stock filters, ${sum('matched')} blamed the true host, ${sum('skipped')} payloads not allowed in their spot, ${sum('wrong')} wrong blames`);
  assert.equal(sum('wrong'), 0);
  assert.ok(sum('tried') > 3000, `only ${sum('tried')} tried`);
});

test('stock filters: what a hostile line captured reaches an action.d command as text, and its log escaped', async (t) => {
  if (!installed) return t.skip(notInstalled);
  const dir = tmpDir(t, 'f2b-inject-');
  const work = path.join(dir, 'work');
  fs.mkdirSync(work);
  const target = path.join(dir, 'record');
  const logFile = path.join(dir, 'actions.log');
  // the shell payload touches /tmp/pwned: it must stay as it was (absent, or not touched)
  const pwned = () => fs.statSync('/tmp/pwned', { throwIfNoEntry: false })?.mtimeMs;
  const pwnedBefore = pwned();
  const props: Record<string, string> = {
    actname: 'record',
    target,
    work,
    // quoted as fail2ban's own action files quote such tags, then once unquoted: word splitting
    // may change the text there, nothing may run
    actionban: `cd <work> && printf '%s\\0' "<ip>" "<F-USER>" "<F-ALT_USER>" "<matches>" >> <target> && echo <F-USER> <F-ALT_USER> <matches> > /dev/null`,
  };
  const sink = new LogSink(logFile);
  const act = new CommandAction({ name: 'record', options: {}, actname: 'record', file: '', properties: props }, 'stock', new Logger(sink, 'fail2ban.actions', 10));
  // per stock filter and payload: a failure that captured a user name and one that did not (one
  // shell each: the rendering is the same for every failure, the values are what differ)
  const tickets: ActionTicket[] = [];
  for (const run of present().map(runFilter)) {
    for (const failures of run.found.values()) {
      const picked = new Set([failures.find((f) => f.fields.user !== undefined), failures.find((f) => f.fields.user === undefined)]);
      for (const f of picked) if (f) tickets.push({ ip: f.id, time: f.time ?? NOW, bantime: 600, bancount: 1, failures: 1, matches: f.matches, fields: f.fields, restored: false });
    }
  }
  assert.ok(tickets.length > 200, `only ${tickets.length} failures to render`);
  assert.ok(tickets.some((k) => k.fields.user?.includes('$(touch /tmp/pwned)')), 'a user name holding $( was rendered');
  assert.ok(tickets.some((k) => k.fields.user?.includes('\x1b[31m')), 'a user name holding an escape sequence was rendered');
  assert.ok(tickets.some((k) => k.matches.some((m) => m.includes('\\n'))), 'a journal line holding an escaped line break was rendered');
  for (const ticket of tickets) assert.equal(await act.ban(ticket), true, `ban of ${JSON.stringify(ticket)}`);
  const got = fs.readFileSync(target, 'utf8').split('\0').slice(0, -1);
  const expected = tickets.flatMap((k) => [k.ip, k.fields.user ?? '', k.fields.alt_user ?? '', k.matches.join('\n')]);
  assert.equal(got.length, expected.length);
  const differ = expected.findIndex((v, i) => got[i] !== v);
  assert.equal(differ, -1, differ >= 0 ? `ticket ${Math.floor(differ / 4)}: ${JSON.stringify(got[differ])} != ${JSON.stringify(expected[differ])}` : '');
  assert.deepEqual(fs.readdirSync(work), [], 'nothing was written where the command ran');
  assert.equal(pwned(), pwnedBefore, 'no captured value ran as a command');
  const log = fs.readFileSync(logFile, 'utf8');
  assert.equal((log.match(/ -- exec: /g) ?? []).length, tickets.length, 'each command is logged');
  assert.doesNotMatch(log, /[\x00-\x08\x0b-\x1f\x7f]/, 'no raw control character in the log');
  t.diagnostic(`${tickets.length} failures from hostile lines (one per stock filter, payload and whether a user name was captured) rendered into a shell command and run`);
});

test('stock sshd: every hostile line gives what fail2ban-regex gives, raw user names with a colon included', async (t) => {
  if (!installed || !fs.existsSync(FAIL2BAN_REGEX)) return t.skip(notInstalled);
  const dir = tmpDir(t, 'f2b-inject-');
  const sshd = STOCK.find((s) => s.name === 'sshd')!;
  let events = 0;
  let fooled = 0;
  const differ: string[] = [];
  for (const mode of sshd.modes) {
    const spec = `sshd[mode=${mode}]`;
    const scanner = new FilterScanner(filterSpecOf(readFilter(FILTER_D, spec), { key: 'sshd', usedns: 'raw', logtimezone: 'UTC' }));
    // one event per pid; the text as the client sent it (sshd's cut at ':' left out, so that the
    // user names sshd never logs are compared too)
    const ours: string[][] = [];
    const text: string[] = [];
    for (const tpl of sshd.templates.filter((x) => !x.modes || x.modes.includes(mode))) {
      for (const payload of [...PAYLOADS, ...NEWLINE_PAYLOADS]) {
        for (const { lines } of forms({ ...tpl, writes: undefined }, payload)) {
          const pid = 10000 + ours.length;
          const event = lines.map((l) => l.replace('sshd[4242]', `sshd[${pid}]`));
          const ids = failuresOf(scanner, event).map((f) => f.id);
          if (ids.some((id) => id !== tpl.host)) fooled++;
          ours.push(ids.sort());
          text.push(...event);
        }
      }
    }
    const log = path.join(dir, `${mode}.log`);
    fs.writeFileSync(log, text.map((l) => `${l}\n`).join(''));
    const rows = execFileSync(FAIL2BAN_REGEX, ['-o', 'row', log, spec], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const theirs: string[][] = ours.map(() => []);
    for (const row of rows.split('\n').filter((r) => r.startsWith('['))) {
      const m = /^\['([^']+)',.*'mlfid': ' gw sshd\[(\d+)\]: '/.exec(row);
      if (!m) {
        differ.push(`${spec}: a fail2ban failure outside every event: ${row.slice(0, 200)}`);
        continue;
      }
      theirs[Number(m[2]) - 10000].push(m[1]);
    }
    ours.forEach((ids, i) => {
      const f2b = theirs[i].sort();
      if (JSON.stringify(ids) !== JSON.stringify(f2b)) differ.push(`${spec} pid ${10000 + i}: f2b-fast [${ids.join(', ')}], fail2ban [${f2b.join(', ')}]`);
    });
    events += ours.length;
  }
  t.diagnostic(`${events} hostile sshd events compared with fail2ban-regex; ${fooled} of them (user names holding ':', which sshd never logs) blame a payload address in both`);
  assert.deepEqual(differ, []);
  assert.ok(events > 3000, `only ${events} events`);
});

test('stock filters: `f2b-fast regex` lists hostile lines with their control characters escaped', async (t) => {
  if (!installed) return t.skip(notInstalled);
  const dir = tmpDir(t, 'f2b-inject-');
  const problems: string[] = [];
  let listed = 0;
  for (const stock of present()) {
    // every template with every payload, as a log file holds them: matched and missed lines
    const log = path.join(dir, `${stock.name}.log`);
    const lines = stock.templates.flatMap((tpl) => [...PAYLOADS, ...NEWLINE_PAYLOADS].flatMap((p) => forms(tpl, p)[0].lines));
    fs.writeFileSync(log, lines.map((l) => `${l}\n`).join(''));
    const spec = stock.modes[0] ? `${stock.name}[mode=aggressive]` : stock.name;
    // auto: the native matcher where the build has it (only the listed lines are read again)
    for (const matcher of ['auto', 'js']) {
      const out = await regexOutput(log, spec, undefined, { config: path.dirname(FILTER_D), now: String(NOW), timezone: 'UTC', printAllMatched: true, printAllMissed: matcher === 'js', printAllIgnored: true, matcher });
      const raw = /[\x00-\x08\x0b-\x1f\x7f]/.exec(out);
      if (raw) problems.push(`${spec} (${matcher}): ${JSON.stringify(out.slice(Math.max(0, raw.index - 40), raw.index + 20))}`);
      listed += out.split('\n').filter((l) => l.startsWith('|  ') && l.includes('\\x1b')).length;
    }
  }
  t.diagnostic(`${listed} listed lines held an escape sequence, written out as text`);
  assert.deepEqual(problems, []);
  assert.ok(listed > 100, `only ${listed} listed lines held an escape sequence`);
});
