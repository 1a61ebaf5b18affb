// The f2b-fast command line (commander). Exit codes: 0 ok, 2 usage error, 255 any other error
// (fail2ban's clients exit 255 on errors).

import { Command, CommanderError } from 'commander';
import { F2bError } from '../errors';
import { CONFIG_HELP, packageVersion } from './paths';
// Each command loads its own modules when it runs: `regex` never pays for the daemon's (piscina,
// the firewall), and start-up time is part of every `regex` run.

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command('f2b-fast')
    .description('Bans hosts that cause repeated authentication failures: a drop-in, much faster fail2ban.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('run')
    .description('read a fail2ban configuration tree and ban in the foreground until SIGTERM/SIGINT')
    .option('-c, --config <dir>', CONFIG_HELP)
    .option('--dry-run', 'log the bans instead of touching the firewall')
    .option('--logtarget <target>', "override fail2ban.conf's logtarget: a file, STDOUT or STDERR")
    .option('--loglevel <level>', "override fail2ban.conf's loglevel (CRITICAL ERROR WARNING NOTICE INFO DEBUG)")
    .option('--threads <n>', 'matcher worker threads (default: cores - 1, at least 2; 0 = match on the main thread)')
    .option('--line-budget <ms>', 'how long one log line may run in a filter before it is skipped with a warning', '1000')
    .option('--table <name>', 'nftables table to own', 'f2b-fast')
    .option('--db <file>', "state database instead of fail2ban.conf's dbfile (':memory:' or None: keep nothing)")
    .option('--socket <path>', "control socket instead of fail2ban.conf's socket")
    .action(async (opts) => {
      code = await (await import('./run')).runCommand(opts);
    });

  program
    .command('client')
    .description("talk to the running daemon with fail2ban-client's commands (f2b-fast client help lists them)")
    .argument('[args...]', 'options and command, as for fail2ban-client: e.g. status sshd, set sshd banip 192.0.2.1, --json status')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (args: string[]) => {
      code = await (await import('./client')).clientCommand(args);
    });

  program
    .command('test-config')
    .description('read and check a configuration tree like the daemon would (fail2ban-client -t); --dump prints the resolved jails (-d)')
    .option('-c, --config <dir>', CONFIG_HELP)
    .option('-d, --dump', 'print every jail as resolved: filter, actions, files, times')
    .option('--json', 'the resolved jails as one JSON array')
    .action(async (opts) => {
      code = await (await import('./test-config')).testConfigCommand(opts);
    });

  program
    .command('import-db')
    .description("take over the bans, ban history and log positions of a fail2ban database (fail2ban's own file is only read)")
    .argument('<src>', "fail2ban's database, e.g. /var/lib/fail2ban/fail2ban.sqlite3")
    .option('-c, --config <dir>', "configuration whose fail2ban.conf names the destination (dbfile; fail2ban's default means /var/lib/f2b-fast/f2b-fast.sqlite3)")
    .option('--db <file>', 'destination database instead')
    .option('--dry-run', 'count what would be imported; change nothing')
    .option('--json', 'print the counts as one JSON object')
    .action(async (src: string, opts) => {
      code = await (await import('./import-db')).importDbCommand(src, opts);
    });

  program
    .command('regex')
    .description('test a filter against a log file or line, like fail2ban-regex')
    .argument('<log>', 'log file, or a literal log line')
    .argument('<filter>', 'filter file, filter name from <config>/filter.d (e.g. sshd[mode=aggressive]), or a literal failregex')
    .argument('[ignoreregex]', 'ignoreregex: a literal regex or a filter file')
    .option('-c, --config <dir>', `where FILTER names are found: its filter.d; ${CONFIG_HELP}`)
    .option('--json', 'JSON Lines: one object per failure found, one {"line":N,"match":false} per line without')
    .option('--now <time>', 'reference time for year inference: epoch seconds or ISO-8601 (default: now)')
    .option('--timezone <tz>', 'time zone of log lines without one (default: TZ / local zone)')
    .option('-d, --datepattern <pattern>', "override the filter's datepattern")
    .option('-r, --raw', 'use host names as failure ids without DNS lookups')
    .option('--usedns <mode>', 'yes, warn, no or raw')
    .option('-L, --maxlines <n>', "override the filter's maxlines")
    .option('--print-all-matched', 'print every matched line')
    .option('--print-all-missed', 'print every missed line')
    .option('--print-all-ignored', 'print every ignored line')
    .option('--no-prefilter', 'read every line in JS instead of letting the native scanner drop the lines no regex can match (same results, slower)')
    .option('--threads <n>', 'scan threads of the native scanner (default: one per CPU)')
    .option('--matcher <engine>', 'auto (native where this build and the filter allow), native (or fail), or js', 'auto')
    .option('--progress', 'draw a progress bar on stderr even when it is not a terminal')
    .option('--no-progress', 'never draw the progress bar')
    .option('--journal', "read each line as a journal entry's text (HOST IDENT[PID]: MESSAGE) timed at --now, with the filter's logtype = journal")
    .action(async (log: string, filter: string, ignore: string | undefined, opts) => {
      code = await (await import('./regex')).regexCommand(log, filter, ignore, opts);
    });

  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with exit code 0
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof F2bError) {
      process.stderr.write(`f2b-fast: ${e.describe()}\n`);
      return e.code === 'USAGE' ? 2 : 255;
    }
    throw e;
  }
  return code;
}
