// `f2b-fast test-config`: fail2ban-client's -t (is this configuration good?) and -d (what does it
// resolve to?) for f2b-fast. It reads the tree as `run` does and goes further where that is cheap
// and safe: every jail's filter is compiled as the daemon compiles it, its log files are looked
// at, its actions are mapped to what we can run, and the server's log options are checked. It
// changes nothing: no file is opened for writing, no firewall touched.
//
// Problems go to stderr, one a line, `ERROR: file:line: [jail] message` (or WARNING); then
// `OK: configuration test is successful` (stdout, exit 0) or an error summary (stderr, exit 255).
// Like fail2ban's -t, a jail the daemon would skip is an error here. Warnings alone pass.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { readConfigTree } from '../config';
import { ReadContext } from '../config/layers';
import { formatFilterSpec } from '../config/spec';
import type { ConfigStore } from '../config/store';
import type { ConfigIssue, ConfigTree, JailDef } from '../config/types';
import { F2bError } from '../errors';
import { FilterScanner, filterSpecOf } from '../filter/filter';
import { jailSpecForBanaction } from '../firewall';
import { jailActionDefs } from '../jail/running';
import type { FirewallJailSpec } from '../firewall/backend';
import { checkLogTarget, parseLevel } from '../log/logger';
import { mapBackend } from '../tailer';
import { defaultConfigDir } from './paths';

export interface TestConfigOptions {
  /** the config directory or jail.local (default: /etc/fail2ban if present, else /etc/f2b-fast over the bundled filters/, else filters/) */
  config?: string;
  /** print every jail as resolved */
  dump?: boolean;
  /** the dump as a JSON array of JailDef (implies dump) */
  json?: boolean;
}

type Problem = ConfigIssue;

/** What the checks found about one jail, for the dump. */
interface JailReport {
  def: JailDef;
  /** per action: the firewall set it becomes, or why it is ignored */
  actions: { label: string; runs: string }[];
  /** per log file: 'ok' or what is wrong with it */
  files: Map<string, string>;
  /** errors found here (the daemon would skip the jail) */
  errors: number;
}

export async function testConfigCommand(opts: TestConfigOptions): Promise<number> {
  const dir = opts.config ?? defaultConfigDir();
  let config: ConfigTree;
  try {
    config = readConfigTree(dir);
  } catch (e) {
    if (!(e instanceof F2bError)) throw e;
    printProblems([{ severity: 'error', message: e.message, file: e.file, line: e.line, jail: e.jail }]);
    process.stderr.write(`ERROR: test configuration failed: ${dir} cannot be read\n`);
    return 255;
  }

  const locate = new Locator(config);
  const problems: Problem[] = [...config.issues];
  checkServer(config, locate, problems);
  const reports = config.jails.map((def) => checkJail(def, locate, problems));

  if (opts.json) process.stdout.write(`${JSON.stringify(config.jails, null, 2)}\n`);
  else if (opts.dump) process.stdout.write(dumpText(config, reports));

  printProblems(problems);
  const errors = problems.filter((p) => p.severity === 'error').length;
  if (errors === 0) {
    (opts.json ? process.stderr : process.stdout).write('OK: configuration test is successful\n');
    return 0;
  }
  const warnings = problems.length - errors;
  const skipped = new Set(config.issues.filter((i) => i.severity === 'error' && i.jail).map((i) => i.jail));
  const starting = reports.filter((r) => r.errors === 0).length;
  const total = starting + skipped.size + reports.filter((r) => r.errors > 0).length;
  process.stderr.write(
    `ERROR: test configuration failed: ${plural(errors, 'error')}, ${plural(warnings, 'warning')}; ` +
      `${starting} of ${total} enabled jails would start\n`,
  );
  return 255;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function printProblems(problems: Problem[]): void {
  for (const p of problems) {
    const where = p.file ? `${p.file}${p.line ? `:${p.line}` : ''}: ` : '';
    const jail = p.jail ? `[${p.jail}] ` : '';
    process.stderr.write(`${p.severity === 'error' ? 'ERROR' : 'WARNING'}: ${where}${jail}${p.message}\n`);
  }
}

/** Finds where an option was written: the config reader keeps file:line per entry. */
class Locator {
  private readonly ctx: ReadContext;

  private readonly dir: string;

  constructor(config: ConfigTree) {
    this.dir = config.root;
    this.ctx = new ReadContext(config.root, config.overlay);
  }

  private store(base: string): ConfigStore | undefined {
    try {
      return this.ctx.set(base);
    } catch {
      return undefined;
    }
  }

  /** fail2ban.conf's option (Debian writes them in [DEFAULT]) */
  server(key: string): { file?: string; line?: number } {
    const e = this.store(path.join(this.dir, 'fail2ban'))?.entry('Definition', key);
    return e ? { file: e.file, line: e.line } : { file: this.ctx.files(path.join(this.dir, 'fail2ban'))[0] ?? path.join(this.dir, 'fail2ban.conf') };
  }

  /** a jail's own option, or undefined when the jail section does not set it */
  jailOwn(jail: string, key: string): { file: string; line: number } | undefined {
    const e = this.store(path.join(this.dir, 'jail'))?.entry(jail, key, true);
    return e ? { file: e.file, line: e.line } : undefined;
  }

  /** an option of the filter's [Definition], in the filter's own files */
  filter(def: JailDef, key: string): { file: string; line: number } | undefined {
    if (!def.filter.file) return undefined;
    const e = this.store(def.filter.file.replace(/\.(conf|local)$/, ''))?.entry('Definition', key);
    return e ? { file: e.file, line: e.line } : undefined;
  }
}

function checkServer(config: ConfigTree, locate: Locator, problems: Problem[]): void {
  const { server } = config;
  try {
    parseLevel(server.loglevel);
  } catch (e) {
    problems.push({ severity: 'error', message: `loglevel: ${(e as Error).message}`, ...locate.server('loglevel') });
  }
  try {
    for (const w of checkLogTarget(server.logtarget, server.syslogsocket)) problems.push({ severity: 'warning', message: w, ...locate.server('logtarget') });
  } catch (e) {
    problems.push({ severity: 'error', message: `logtarget: ${(e as Error).message}`, ...locate.server('logtarget') });
  }
}

function checkJail(def: JailDef, locate: Locator, problems: Problem[]): JailReport {
  const report: JailReport = { def, actions: [], files: new Map(), errors: 0 };
  const header = { file: def.source.file, line: def.source.line, jail: def.name };
  const error = (message: string, where: { file?: string; line?: number } = header) => {
    problems.push({ severity: 'error', message, ...header, ...where, jail: def.name });
    report.errors++;
  };
  const warn = (message: string, where: { file?: string; line?: number } = header) =>
    problems.push({ severity: 'warning', message, ...header, ...where, jail: def.name });

  // the filter, compiled as the daemon compiles it (Daemon.filterSpec)
  try {
    new FilterScanner(filterSpecOf(def.filter, { key: def.name, logtimezone: def.logtimezone }));
  } catch (e) {
    const err = e instanceof F2bError ? e : new F2bError('FILTER_REGEX', (e as Error).message);
    // "failregex #2: ..." is reported where that option is written: the jail, else the filter
    const key = /^(failregex|ignoreregex|prefregex|datepattern)\b/.exec(err.message)?.[1];
    const where = (key && (locate.jailOwn(def.name, key) ?? locate.filter(def, key))) || (def.filter.file ? { file: def.filter.file, line: 0 } : header);
    error(err.message, where);
  }

  // the backend: what the tailer can follow
  let journal = false;
  try {
    mapBackend(def.backend);
  } catch (e) {
    journal = /^systemd\b/i.test(def.backend.trim());
    error((e as Error).message, locate.jailOwn(def.name, 'backend') ?? header);
  }

  // the log files (the reader already warned about patterns that matched nothing)
  if (!journal) {
    const root = process.getuid?.() === 0;
    for (const lp of def.logpaths) {
      for (const file of lp.files) {
        let state = 'ok';
        try {
          const st = fs.statSync(file);
          if (st.isDirectory()) {
            state = 'a directory';
            error(`logpath ${file} is a directory`, locate.jailOwn(def.name, 'logpath') ?? header);
          } else {
            fs.accessSync(file, fs.constants.R_OK);
          }
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') state = 'missing (watched until it appears)';
          else {
            state = `unreadable (${code ?? (e as Error).message})`;
            const msg = `logpath ${file} is not readable by this user (${code})`;
            // the daemon runs as root: another user's "unreadable" says little about it
            if (root) error(msg, locate.jailOwn(def.name, 'logpath') ?? header);
            else warn(`${msg}; the daemon runs as root`, locate.jailOwn(def.name, 'logpath') ?? header);
          }
        }
        report.files.set(file, state);
      }
    }
  }

  // the actions, as src/jail/running.ts builds them: the stock firewall actions become the
  // jail's entry in a batched backend (a second one with other ports is ignored), every other
  // action.d action runs its commands, a Python action cannot run
  const actions = jailActionDefs(def);
  const actionWhere = locate.jailOwn(def.name, 'action') ?? locate.jailOwn(def.name, 'banaction') ?? header;
  let fw: FirewallJailSpec | null = null;
  for (const a of actions) {
    const label = formatFilterSpec(a.name, a.options);
    const spec = jailSpecForBanaction(def.name, a, { port: def.port, protocol: def.protocol, blocktype: def.options.blocktype, chain: def.options.chain, chain_hook: def.options.chain_hook });
    if (spec) {
      if (fw && JSON.stringify(fw) !== JSON.stringify(spec)) {
        report.actions.push({ label, runs: 'ignored (the jail already has a firewall action with other ports)' });
        warn(`a second firewall action '${a.name}' with other ports is ignored`, actionWhere);
        continue;
      }
      if (fw) {
        report.actions.push({ label, runs: 'the same firewall set' });
        continue;
      }
      fw = spec;
      const ports = spec.allports ? 'all ports' : `port ${spec.port}`;
      report.actions.push({ label, runs: `${spec.backend ?? 'nftables'} set: ${ports}, ${spec.protocol}${spec.blocktype ? `, ${spec.blocktype}` : ''}` });
    } else if (a.properties) {
      report.actions.push({ label, runs: `action.d commands (${a.file ?? a.name})` });
    } else {
      report.actions.push({ label, runs: 'cannot run (a Python action)' });
      error(`action '${a.name}' is a Python action (${a.file ?? 'action.d/*.py'}), which f2b-fast does not run`, actionWhere);
    }
  }
  return report;
}

/** The readable dump: the server's options, then every jail as resolved. */
function dumpText(config: ConfigTree, reports: JailReport[]): string {
  const out: string[] = [];
  const row = (key: string, value: string) => out.push(`  ${key.padEnd(13)} ${value}`);
  const list = (key: string, values: string[]): void => {
    if (!values.length) {
      row(key, '(none)');
      return;
    }
    values.forEach((v, i) => row(i === 0 ? key : '', `${values.length > 1 ? `${i + 1}: ` : ''}${v}`));
  };
  const s = config.server;
  const serverFile = path.join(config.root, 'fail2ban.conf');
  out.push(`[server] ${config.overlay?.real(serverFile) ?? serverFile}`);
  row('loglevel', s.loglevel);
  row('logtarget', s.logtarget);
  if (s.syslogsocket) row('syslogsocket', s.syslogsocket);
  row('socket', s.socket);
  row('pidfile', s.pidfile);
  row('dbfile', s.dbfile);
  row('dbpurgeage', seconds(s.dbpurgeage));
  if (s.dbmaxmatches !== undefined) row('dbmaxmatches', String(s.dbmaxmatches));
  row('tree', config.source);
  for (const r of reports) {
    const d = r.def;
    const f = d.filter;
    out.push('', `[${d.name}] ${d.source.file}:${d.source.line}${r.errors ? ' (would not start: see the errors)' : ''}`);
    row('backend', d.backend);
    row('filter', f.name ? `${formatFilterSpec(f.name, f.options)}${f.file ? ` ${f.file}` : ''}` : '(none)');
    row('maxretry', String(d.maxretry));
    row('findtime', seconds(d.findtime));
    row('bantime', d.bantime < 0 ? 'permanent' : seconds(d.bantime));
    row('maxmatches', String(d.maxmatches));
    row('ignoreip', d.ignoreip.join(' ') || '(none)');
    row('ignoreself', String(d.ignoreself));
    if (d.ignorecommand) row('ignorecommand', d.ignorecommand);
    row('usedns', f.usedns);
    row('port', d.port);
    row('protocol', d.protocol);
    if (d.chain) row('chain', d.chain);
    row('banaction', d.banaction);
    list(
      'actions',
      r.actions.map((a) => `${a.label} -> ${a.runs}`),
    );
    const paths: string[] = [];
    for (const lp of d.logpaths) {
      paths.push(`${lp.pattern} (${lp.start})`);
      for (const file of lp.files) if (file !== lp.pattern || r.files.get(file) !== 'ok') paths.push(`  -> ${file}${r.files.has(file) && r.files.get(file) !== 'ok' ? `: ${r.files.get(file)}` : ''}`);
    }
    list('logpath', paths);
    if (d.logtimezone) row('logtimezone', d.logtimezone);
    row('logencoding', d.logencoding);
    if (f.journalmatch) row('journalmatch', f.journalmatch);
    row('datepattern', f.datepattern ?? '(default templates)');
    row('maxlines', String(f.maxlines));
    if (f.prefregex) row('prefregex', f.prefregex);
    list('failregex', f.failregex);
    list('ignoreregex', f.ignoreregex);
  }
  return `${out.join('\n')}\n`;
}

function seconds(n: number): string {
  const units: [number, string][] = [
    [604800, 'w'],
    [86400, 'd'],
    [3600, 'h'],
    [60, 'm'],
  ];
  const unit = units.find(([u]) => n >= u && n % u === 0);
  return unit ? `${n} s (${n / unit[0]}${unit[1]})` : `${n} s`;
}
