// `f2b-fast client`: fail2ban-client's command line over f2b-fast's control socket. Like
// fail2ban-client it is a thin translator: options first (getopt style), then the command words,
// sent as they are (src/control/transmitter.ts runs them in the daemon); the answer is printed
// as fail2ban-client prints it (src/control/format.ts), or as JSON with --json.
//
// Exit codes as fail2ban-client: 0 when the command succeeded, 255 otherwise (usage errors,
// a server that does not answer, an error reply). Errors go to stderr in fail2ban's log format;
// an error reply's text goes to stdout, as fail2ban-client prints it there.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readServer } from '../config/server';
import { openServerConfig } from '../config/source';
import { str2seconds } from '../config/timespec';
import type { ServerDef } from '../config/types';
import { SocketError, sendCommand, socketErrorMessage } from '../control/connect';
import { formatResult, pyRepr } from '../control/format';
import type { Reply } from '../control/protocol';
import { F2bError } from '../errors';
import { formatLogTime } from '../log/logger';
import { defaultConfigDir, packageVersion } from './paths';

export interface ClientIO {
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
}

/** fail2ban-client's MAX_WAITTIME: how long start/stop wait for the server, by default. */
const DEFAULT_TIMEOUT_S = 30;
const BIN = path.resolve(__dirname, '../../../bin/f2b-fast');

interface ClientOptions {
  conf?: string;
  socket?: string;
  timeoutS: number;
  json: boolean;
  verbose: number;
  loglevel?: string;
  logtarget?: string;
}

class UsageError extends Error {}

// ---- the command line ------------------------------------------------------------------------

const SHORT_WITH_VALUE = new Set(['c', 's', 'p']);
const SHORT_FLAGS = new Set(['h', 'V', 'q', 'v', 'x', 'b', 'f', 'd', 't', 'i']);
const LONG_WITH_VALUE = new Set(['conf', 'socket', 'pidfile', 'pname', 'loglevel', 'logtarget', 'syslogsocket', 'timeout', 'str2sec']);
const LONG_FLAGS = new Set(['help', 'version', 'json', 'dp', 'dump-pretty', 'test', 'async']);
/** fail2ban-client options f2b-fast does not have, with what to do instead. */
const NOT_SUPPORTED: Record<string, string> = {
  p: 'f2b-fast keeps no pid file', pidfile: 'f2b-fast keeps no pid file', pname: 'not needed',
  syslogsocket: 'set it in fail2ban.local', f: "run the daemon in the foreground with 'f2b-fast run'",
  d: 'not available', dp: 'not available', 'dump-pretty': 'not available', t: "test the configuration with 'f2b-fast run --dry-run'",
  test: "test the configuration with 'f2b-fast run --dry-run'", i: 'no interactive mode', async: 'not needed', str2sec: 'not available',
};

/** getopt as fail2ban-client uses it: options end at the first word that is not one (or `--`). */
function parseOptions(args: string[]): { opts: ClientOptions; action?: 'help' | 'version' | 'short-version'; cmd: string[] } {
  const opts: ClientOptions = { timeoutS: DEFAULT_TIMEOUT_S, json: false, verbose: 1 };
  let action: 'help' | 'version' | 'short-version' | undefined;
  const set = (name: string, value: string | undefined) => {
    if (name in NOT_SUPPORTED) throw new UsageError(`option ${name.length === 1 ? '-' : '--'}${name} is not supported by f2b-fast: ${NOT_SUPPORTED[name]}`);
    switch (name) {
      case 'c':
      case 'conf':
        opts.conf = value;
        break;
      case 's':
      case 'socket':
        opts.socket = value;
        break;
      case 'timeout':
        try {
          opts.timeoutS = str2seconds(value!);
        } catch {
          throw new UsageError(`--timeout: not a time value: ${value}`);
        }
        if (!(opts.timeoutS > 0)) throw new UsageError(`--timeout: must be more than 0 seconds: ${value}`);
        break;
      case 'loglevel':
      case 'logtarget':
        opts[name] = value;
        break;
      case 'json':
        opts.json = true;
        break;
      case 'q':
        opts.verbose--;
        break;
      case 'v':
        opts.verbose++;
        break;
      case 'h':
      case 'help':
        action ??= 'help';
        break;
      case 'V':
        action ??= 'short-version';
        break;
      case 'version':
        action ??= 'version';
        break;
      // -x (the daemon replaces a stale socket itself) and -b (start always runs in the background)
    }
  };
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      i++;
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (LONG_WITH_VALUE.has(name)) {
        let value = eq < 0 ? undefined : a.slice(eq + 1);
        if (value === undefined) {
          if (i + 1 >= args.length) throw new UsageError(`option --${name} requires argument`);
          value = args[++i];
        }
        set(name, value);
      } else if (LONG_FLAGS.has(name)) {
        if (eq >= 0) throw new UsageError(`option --${name} must not have an argument`);
        set(name, undefined);
      } else {
        throw new UsageError(`option --${name} not recognized`);
      }
    } else if (a.startsWith('-') && a.length > 1) {
      for (let k = 1; k < a.length; k++) {
        const o = a[k];
        if (SHORT_WITH_VALUE.has(o)) {
          let value = a.slice(k + 1);
          if (value === '') {
            if (i + 1 >= args.length) throw new UsageError(`option -${o} requires argument`);
            value = args[++i];
          }
          set(o, value);
          break;
        }
        if (!SHORT_FLAGS.has(o)) throw new UsageError(`option -${o} not recognized`);
        set(o, undefined);
      }
    } else {
      break;
    }
  }
  const cmd = args.slice(i);
  // a trailing --json is the option too. `status [JAIL] --json` (f2b-fast's) keeps it: the daemon
  // answers with its JSON status, the HTTP /api/status (`--json status` prints fail2ban's
  // status list as JSON, as before)
  if (cmd.length > 1 && cmd[cmd.length - 1] === '--json') {
    opts.json = true;
    if (cmd[0] !== 'status') cmd.pop();
  }
  return { opts, action, cmd };
}

// ---- output ----------------------------------------------------------------------------------

class Output {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;

  constructor(
    io: ClientIO,
    private readonly verbose: number,
  ) {
    this.out = io.stdout ?? ((s) => process.stdout.write(s));
    this.err = io.stderr ?? ((s) => process.stderr.write(s));
  }

  print(text: string): void {
    this.out(`${text}\n`);
  }

  /** A line in fail2ban-client's stderr format:
   *  `2026-11-24 22:43:49,784 fail2ban                [27676]: ERROR   message`
   *  (-q shows errors only, the default adds warnings, -v info). */
  log(level: 'ERROR' | 'WARNING' | 'INFO', message: string): void {
    const min = this.verbose <= 0 ? 2 : this.verbose === 1 ? 1 : 0;
    if (['INFO', 'WARNING', 'ERROR'].indexOf(level) < min) return;
    this.err(`${formatLogTime(Date.now())} ${'fail2ban'.padEnd(24)}[${process.pid}]: ${level.padEnd(7)} ${message}\n`);
  }
}

// ---- the client ------------------------------------------------------------------------------

class Client {
  readonly configDir: string;
  private server?: ServerDef;

  constructor(
    readonly opts: ClientOptions,
    readonly o: Output,
  ) {
    this.configDir = opts.conf ?? defaultConfigDir();
  }

  get timeoutMs(): number {
    return this.opts.timeoutS * 1000;
  }

  /** fail2ban.conf's [Definition] (socket, logtarget), read once. */
  serverConfig(): ServerDef {
    this.server ??= readServer(openServerConfig(this.configDir));
    return this.server;
  }

  get socketPath(): string {
    return this.opts.socket ?? this.serverConfig().socket;
  }

  /** Whether a server answers ping within `ms`. */
  async alive(ms: number): Promise<boolean> {
    try {
      const r = await sendCommand(this.socketPath, ['ping'], ms);
      return r.ok;
    } catch {
      return false;
    }
  }

  /** Send `cmd` and print its answer; true when it succeeded. */
  async run(cmd: string[], timeoutMs = this.timeoutMs): Promise<boolean> {
    let reply: Reply;
    try {
      reply = await sendCommand(this.socketPath, cmd, timeoutMs);
    } catch (e) {
      if (!(e instanceof SocketError)) throw e;
      this.o.log('ERROR', socketErrorMessage(e, cmd[0] === 'ping'));
      return false;
    }
    return this.show(cmd, reply);
  }

  show(cmd: string[], reply: Reply): boolean {
    if (reply.ok) {
      this.o.print(this.opts.json ? JSON.stringify(reply.result) : formatResult(cmd, reply.result));
      return true;
    }
    // fail2ban logs the exception's arguments, then prints its text to stdout
    this.o.log('ERROR', `NOK: (${pyRepr(reply.error.jail ?? reply.error.message)},)`);
    this.o.print(this.opts.json ? JSON.stringify({ error: reply.error }) : reply.error.message);
    return false;
  }

  async start(): Promise<boolean> {
    if (await this.alive(2000)) {
      this.o.log('ERROR', 'Server already running');
      return false;
    }
    const srv = this.serverConfig();
    const args = [BIN, 'run', '--config', this.configDir];
    if (this.opts.socket) args.push('--socket', this.opts.socket);
    if (this.opts.loglevel) args.push('--loglevel', this.opts.loglevel);
    if (this.opts.logtarget) args.push('--logtarget', this.opts.logtarget);
    // the daemon's own output (a crash, an error before its log is open) goes where its log goes;
    // never to this terminal, which it outlives
    const target = (this.opts.logtarget ?? srv.logtarget).trim();
    const logFile = /^(STDOUT|STDERR|SYSOUT|SYSLOG|SYSTEMD-JOURNAL)(\[.*\])?$/i.test(target) ? undefined : target;
    let fd: number | 'ignore' = 'ignore';
    if (logFile) {
      try {
        fd = fs.openSync(logFile, 'a', 0o640);
      } catch (e) {
        this.o.log('ERROR', `Failed to start server: cannot open log target ${logFile}: ${(e as Error).message}`);
        return false;
      }
    }
    let exited: number | null | undefined;
    let child;
    try {
      child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd] });
    } finally {
      if (typeof fd === 'number') fs.closeSync(fd);
    }
    child.on('exit', (code, signal) => {
      exited = code ?? (signal ? 128 : 255);
    });
    child.on('error', () => {
      exited = 255;
    });
    child.unref();
    const seeLog = logFile ? `see ${logFile}` : `run 'f2b-fast run --config ${this.configDir}' in the foreground to see why`;
    const up = await this.waitFor(true, () => exited !== undefined);
    if (!up) {
      if (exited !== undefined) this.o.log('ERROR', `Failed to start server: f2b-fast run exited with code ${exited} (${seeLog})`);
      else this.o.log('ERROR', `Failed to start server: no answer on ${this.socketPath} within ${this.opts.timeoutS} seconds (it may still be starting, pid ${child.pid}; ${seeLog})`);
      return false;
    }
    return this.run(['server-status']);
  }

  /**
   * Poll ping until the server answers (alive) or no longer does, up to --timeout, backing off
   * from 12.5 ms to 0.5 s as fail2ban-client does; `gaveUp` ends the wait early.
   */
  async waitFor(alive: boolean, gaveUp: () => boolean = () => false): Promise<boolean> {
    const end = Date.now() + this.timeoutMs;
    let sleep = 12.5;
    for (;;) {
      const exists = fs.existsSync(this.socketPath);
      if ((exists && (await this.alive(Math.max(100, sleep)))) === alive) return true;
      if (gaveUp() || Date.now() >= end) return false;
      await new Promise((r) => setTimeout(r, sleep));
      sleep = Math.min(sleep * 2, 500);
    }
  }

  async reload(args: string[]): Promise<boolean> {
    const opts: string[] = [];
    const rest = [...args];
    while (rest.length && ['--restart', '--unban', '--if-exists'].includes(rest[0])) opts.push(rest.shift()!);
    if (rest.length > 1) {
      this.o.log('ERROR', `Unexpected argument(s) for reload: ${pyRepr(rest)}`);
      return false;
    }
    if (!(await this.alive(this.timeoutMs))) {
      this.o.log('ERROR', 'Could not find server');
      return false;
    }
    return this.run(['reload', rest[0] ?? '--all', ...opts]);
  }

  async restart(): Promise<boolean> {
    await this.run(['stop']);
    if (!(await this.waitFor(false))) {
      this.o.log('ERROR', 'Could not stop server');
      return false;
    }
    return this.start();
  }
}

/** Runs one fail2ban-client command line; resolves with the exit code. */
export async function clientCommand(args: string[], io: ClientIO = {}): Promise<number> {
  let parsed;
  try {
    parsed = parseOptions(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    const o = new Output(io, 1);
    o.print(usage());
    o.err(`f2b-fast client: ${e.message}\n`);
    return 255;
  }
  const { opts, action, cmd } = parsed;
  const o = new Output(io, opts.verbose);
  if (action === 'help') {
    o.print(usage());
    return 0;
  }
  if (action === 'version') {
    o.print(`f2b-fast v${packageVersion()}`);
    return 0;
  }
  if (action === 'short-version') {
    o.print(packageVersion());
    return 0;
  }
  if (cmd.length === 0) {
    o.print(usage());
    return 255;
  }
  if (cmd[0] === 'help') {
    o.print(usage());
    return 0;
  }
  const client = new Client(opts, o);
  try {
    o.log('INFO', `Using socket file ${client.socketPath}`);
    return (await dispatch(client, cmd)) ? 0 : 255;
  } catch (e) {
    if (!(e instanceof F2bError)) throw e;
    o.log('ERROR', e.describe());
    return 255;
  }
}

async function dispatch(client: Client, cmd: string[]): Promise<boolean> {
  switch (cmd[0]) {
    case 'start':
      if (cmd.length === 1) return client.start();
      break;
    case 'restart':
      // `restart <JAIL>` is `reload --restart ... <JAIL>`
      if (cmd.length > 1) return client.reload(['--restart', ...cmd.slice(1)]);
      return client.restart();
    case 'reload':
      return client.reload(cmd.slice(1));
    case 'ping':
      if (cmd.length > 1) {
        const s = Number(cmd[1]);
        if (!(s > 0)) {
          client.o.log('ERROR', `could not convert string to float: ${pyRepr(cmd[1])}`);
          return false;
        }
        return client.run(cmd, s * 1000);
      }
      break;
  }
  return client.run(cmd);
}

// ---- usage -----------------------------------------------------------------------------------

type UsageRow = [form: string, what: string] | [group: string];

const COMMANDS: UsageRow[] = [
  ['BASIC'],
  ['start', 'start the daemon (f2b-fast run) in the background and wait until it answers'],
  ['restart', 'stop the daemon, wait until it is gone and start it again'],
  ['restart [--unban] [--if-exists] <JAIL>', "the same as 'reload --restart ... <JAIL>'"],
  ['reload [--restart] [--unban] [--all]', 'read the configuration again and apply it to every jail without stopping the daemon; --restart stops and starts the jails, --unban lifts their bans first'],
  ['reload [--restart] [--unban] [--if-exists] <JAIL>', 'the same for one jail; with --if-exists a jail that is not configured is not an error'],
  ['stop', 'stop every jail and the daemon'],
  ['unban --all', 'lift every ban of every jail, in the database too'],
  ['unban <IP> ... <IP>', 'lift the bans of these addresses in every jail'],
  ['banned', 'the banned addresses of every jail'],
  ['banned <IP> ... <IP>', 'for each address, the jails that ban it'],
  ['status', 'how many jails run, and their names'],
  ['ping', 'check that the daemon answers'],
  ['fleet status', "fleet mode: the Redis link, events sent, received and queued, the last one received and its lag, the hosts seen"],
  ['echo', 'print the arguments back (for testing)'],
  ['help', 'print this text'],
  ['version', "the daemon's version"],
  ['LOGGING'],
  ['set loglevel <LEVEL>', 'CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG, TRACEDEBUG, HEAVYDEBUG, or a number'],
  ['get loglevel', 'the log level'],
  ['set logtarget <TARGET>', 'a file, STDOUT, STDERR, SYSLOG or SYSTEMD-JOURNAL'],
  ['get logtarget', 'where the log goes'],
  ['set syslogsocket auto|<SOCKET>', 'the syslog socket (for logtarget SYSLOG)'],
  ['get syslogsocket', 'the syslog socket'],
  ['flushlogs', 'reopen the log file (after it was rotated)'],
  ['DATABASE'],
  ['get dbfile', 'the database file'],
  ['set dbmaxmatches <INT>', 'how many matched lines the database keeps per ban'],
  ['get dbmaxmatches', 'how many matched lines the database keeps per ban'],
  ['set dbpurgeage <TIME>', 'how long the database keeps bans that ended'],
  ['get dbpurgeage', 'how long the database keeps bans that ended, in seconds'],
  ['JAIL CONTROL'],
  ['start <JAIL>', 'nothing to do for a configured jail: they start with the daemon'],
  ['stop <JAIL>', "stop <JAIL> and lift its bans ('reload' brings it back)"],
  ['status <JAIL> [basic|short]', 'failures, files and bans of <JAIL>; short leaves out the list of banned addresses'],
  ['JAIL CONFIGURATION'],
  ['set <JAIL> idle on|off', 'pause or resume <JAIL>'],
  ['set <JAIL> ignoreself true|false', "whether the host's own addresses are never banned"],
  ['set <JAIL> addignoreip <IP> ... <IP>', 'never ban these addresses, subnets or host names'],
  ['set <JAIL> delignoreip <IP>', 'remove an entry of the ignore list'],
  ['set <JAIL> ignorecommand <CMD>', 'the command that decides whether an address is ignored'],
  ['set <JAIL> addlogpath <FILE> [tail|head]', 'follow another file, from its end (tail) or its start (head, the default)'],
  ['set <JAIL> dellogpath <FILE>', 'stop following a file'],
  ['set <JAIL> logencoding <ENCODING>', 'the encoding of the log files'],
  ['set <JAIL> addjournalmatch <MATCH>', 'add a journal match (systemd backend)'],
  ['set <JAIL> deljournalmatch <MATCH>', 'remove a journal match'],
  ['set <JAIL> addfailregex <REGEX>', 'add a failure regex'],
  ['set <JAIL> delfailregex <INDEX>', 'remove the failure regex at <INDEX>'],
  ['set <JAIL> addignoreregex <REGEX>', 'add an ignore regex'],
  ['set <JAIL> delignoreregex <INDEX>', 'remove the ignore regex at <INDEX>'],
  ['set <JAIL> findtime <TIME>', 'how far back failures count'],
  ['set <JAIL> bantime <TIME>', 'how long a ban lasts (-1: for ever)'],
  ['set <JAIL> bantime.<OPTION> <VALUE>', 'increment, factor, formula, multipliers, maxtime, rndtime, overalljails'],
  ['set <JAIL> datepattern <PATTERN>', 'where the date of a log line is and how it reads'],
  ['set <JAIL> usedns yes|warn|no|raw', 'whether host names in log lines are looked up'],
  ['set <JAIL> banip <IP> ... <IP>', 'ban these addresses now'],
  ['set <JAIL> unbanip [--report-absent] <IP> ... <IP>', 'lift these bans; with --report-absent an address that is not banned is an error'],
  ['set <JAIL> maxretry <N>', 'failures within findtime that make a ban'],
  ['set <JAIL> maxmatches <N>', 'matched lines kept per address'],
  ['set <JAIL> maxlines <N>', 'lines a failure regex may span'],
  ['JAIL INFORMATION'],
  ['get <JAIL> banned', 'the addresses <JAIL> bans'],
  ['get <JAIL> banned <IP> ... <IP>', '1 or 0 for each address: banned by <JAIL> or not'],
  ['get <JAIL> logpath', 'the files <JAIL> follows'],
  ['get <JAIL> logencoding', 'the encoding of the log files'],
  ['get <JAIL> journalmatch', 'the journal matches'],
  ['get <JAIL> ignoreself', "whether the host's own addresses are ignored"],
  ['get <JAIL> ignoreip', 'the ignore list'],
  ['get <JAIL> ignorecommand', 'the ignore command'],
  ['get <JAIL> failregex', 'the failure regexes, with their tags expanded'],
  ['get <JAIL> ignoreregex', 'the ignore regexes'],
  ['get <JAIL> findtime', 'findtime in seconds'],
  ['get <JAIL> bantime', 'bantime in seconds'],
  ['get <JAIL> bantime.<OPTION>', 'a bantime.* option'],
  ['get <JAIL> datepattern', 'the date pattern'],
  ['get <JAIL> usedns', 'the usedns mode'],
  ['get <JAIL> banip [<SEP>|--with-time]', 'the banned addresses by end of ban, separated by <SEP> (a space), or one per line with the start, length and end of each ban'],
  ['get <JAIL> maxretry', 'maxretry'],
  ['get <JAIL> maxmatches', 'maxmatches'],
  ['get <JAIL> maxlines', 'maxlines'],
  ['get <JAIL> actions', "the jail's actions"],
];

const OPTIONS: [string, string][] = [
  ['-c, --conf <DIR>', 'configuration directory: its fail2ban.conf names the socket (default /etc/fail2ban if it holds a jail.conf, else /etc/f2b-fast over the bundled tree, else the bundled tree)'],
  ['-s, --socket <FILE>', 'socket path (overrides fail2ban.conf)'],
  ['--timeout <TIME>', 'how long to wait for the daemon: to start, to stop, to answer (default 30s)'],
  ['--json', 'print the result as JSON instead of text'],
  ['--loglevel <LEVEL>', 'for start: the log level (overrides fail2ban.conf)'],
  ['--logtarget <TARGET>', 'for start: the log target (overrides fail2ban.conf)'],
  ['-q', 'print less (errors only)'],
  ['-v', 'print more'],
  ['-x, -b', 'accepted for compatibility (the daemon replaces a stale socket itself; start always runs it in the background)'],
  ['-h, --help', 'print this text'],
  ['-V, --version', 'print the version (-V: the number only)'],
];

/** Greedy word wrap at `width` columns. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** Two columns as fail2ban-client lays out its command list: forms at 4, text at 45, 34 wide. */
function columns(rows: [string, string][], indent: number, margin: number, width: number): string[] {
  const out: string[] = [];
  for (const [form, what] of rows) {
    const text = wrap(what, width);
    const pad = ' '.repeat(indent + margin);
    if (form.length >= margin) {
      out.push(' '.repeat(indent) + form);
      for (const t of text) out.push(pad + t);
    } else {
      out.push(' '.repeat(indent) + form.padEnd(margin) + text[0]);
      for (const t of text.slice(1)) out.push(pad + t);
    }
  }
  return out;
}

function usage(): string {
  const lines = [
    'Usage: f2b-fast client [OPTIONS] <COMMAND>',
    '',
    `f2b-fast v${packageVersion()}: fail2ban-client's commands for the f2b-fast daemon.`,
    '',
    'Options:',
    ...columns(OPTIONS, 4, 24, 72),
    '',
    'Command:',
  ];
  let group: [string, string][] = [];
  const flush = () => {
    lines.push(...columns(group, 4, 41, 34));
    group = [];
  };
  COMMANDS.forEach((row, i) => {
    if (row.length === 1) {
      flush();
      if (i > 0) lines.push('');
      lines.push(' '.repeat(45) + row[0]);
    } else group.push(row);
  });
  flush();
  return lines.join('\n');
}
