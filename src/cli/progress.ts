// A progress bar for long scans (`regex` on a large file): on stderr, only when it is a terminal,
// redrawn at most every 100 ms, and only once a scan has run for half a second, so that short
// runs print nothing extra. --progress draws it from the start, terminal or not; --no-progress
// never.

export interface ProgressBar {
  update(done: number, total: number): void;
  /** erase the bar */
  done(): void;
}

const WIDTH = 30;

export function progressBar(opts: { progress?: boolean }, label: string): ProgressBar | undefined {
  const stream = process.stderr;
  if (opts.progress === false || (opts.progress !== true && !stream.isTTY)) return undefined;
  const started = Date.now();
  const delay = opts.progress === true ? 0 : 500;
  let last = 0;
  let drawn = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - started < delay || now - last < 100 || total <= 0) return;
      last = now;
      const frac = Math.min(1, done / total);
      const secs = Math.max(0.001, (now - started) / 1000);
      const mbps = done / 1e6 / secs;
      const eta = frac > 0 ? secs / frac - secs : 0;
      const fill = Math.round(frac * WIDTH);
      const bar = `${'#'.repeat(fill)}${'.'.repeat(WIDTH - fill)}`;
      stream.write(`\r${label} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${mbps.toFixed(0)} MB/s ETA ${eta.toFixed(0)} s \x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}
