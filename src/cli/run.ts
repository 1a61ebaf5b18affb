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
}

/** Runs until SIGTERM/SIGINT; resolves with the exit code. */
export async function runCommand(opts: RunOptions): Promise<number> {
  const configDir = opts.config ?? defaultConfigDir();
  const threads = intOption('threads', opts.threads, 0);
  const lineBudgetMs = intOption('line-budget', opts.lineBudget, 10);
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
    });
  } catch (e) {
    process.stderr.write(`f2b-fast: ${e instanceof F2bError ? e.describe() : (e as Error).stack ?? e}\n`);
    return 255;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`f2b-fast: ${signal} received, shutting down\n`);
      daemon.stop().then(
        () => resolve(0),
        (e) => {
          process.stderr.write(`f2b-fast: shutdown failed: ${(e as Error).stack ?? e}\n`);
          resolve(255);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGUSR1', () => daemon.reopenLog());
  });
}
