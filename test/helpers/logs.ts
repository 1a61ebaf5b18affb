// Log lines and waiting, shared by the tests that feed a running daemon.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** An sshd line in rsyslog's traditional format, dated now - secondsAgo in local time. */
export function syslog(msg: string, opts: { pid?: number; secondsAgo?: number; ident?: string } = {}): string {
  const d = new Date(Date.now() - (opts.secondsAgo ?? 0) * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} web1 ${opts.ident ?? 'sshd'}[${opts.pid ?? 4242}]: ${msg}\n`;
}

/** Poll `cond` every 20 ms until it holds or `ms` pass; returns whether it held. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}
