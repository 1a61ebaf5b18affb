// `f2b-fast run`: the daemon in the foreground, as systemd and containers expect.

import { intOption } from './options';
import { Daemon } from '../daemon';
import { F2bError } from '../errors';
import { defaultConfigDir } from './paths';

export interface RunOptions {
  config?: string;
  dryRun?: boolean;
  logtarget?: string;
  loglevel?: string;
  threads?: string;
  lineBudget?: string;
  table?: string;
  db?: string;
  socket?: string;
}

/** Runs until SIGTERM/SIGINT (or `client stop`); resolves with the exit code. */
export async function runCommand(opts: RunOptions): Promise<number> {
  const configDir = opts.config ?? defaultConfigDir();
  const threads = intOption('threads', opts.threads, 0);
  const lineBudgetMs = intOption('line-budget', opts.lineBudget, 10);
  // fail2ban-server's umask: the database, the socket and our own files are for root alone
  process.umask(0o077);
  // a signal during start-up stops the daemon as soon as it is up
  let signalled: string | undefined;
  let onSignal = (signal: string) => {
    signalled ??= signal;
  };
  const handlers = { SIGTERM: () => onSignal('SIGTERM'), SIGINT: () => onSignal('SIGINT') };
  process.on('SIGTERM', handlers.SIGTERM);
  process.on('SIGINT', handlers.SIGINT);
  let daemon: Daemon;
  try {
    daemon = await Daemon.start({
      configDir,
      dryRun: opts.dryRun,
      logtarget: opts.logtarget,
      loglevel: opts.loglevel,
      threads,
      lineBudgetMs,
      table: opts.table,
      db: opts.db,
      socket: opts.socket,
    });
  } catch (e) {
    process.off('SIGTERM', handlers.SIGTERM);
    process.off('SIGINT', handlers.SIGINT);
    process.stderr.write(`f2b-fast: ${e instanceof F2bError ? e.describe() : (e as Error).stack ?? e}\n`);
    return 255;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`f2b-fast: ${why}, shutting down\n`);
      daemon.stop().then(
        () => resolve(0),
        (e) => {
          process.stderr.write(`f2b-fast: shutdown failed: ${(e as Error).stack ?? e}\n`);
          resolve(255);
        },
      );
    };
    onSignal = (signal) => stop(`${signal} received`);
    process.on('SIGUSR1', () => daemon.reopenLog());
    // `f2b-fast client stop`
    void daemon.stopRequested.then(() => stop('stop command received'));
    if (signalled) stop(`${signalled} received`);
  });
}
