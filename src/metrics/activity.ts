// What the dashboard shows over time: failures and bans per minute for the last hour, and the
// latest ban and unban events (a bounded ring the page follows by sequence number).

export interface ActivityEvent {
  seq: number;
  /** epoch seconds */
  time: number;
  kind: 'ban' | 'unban';
  jail: string;
  ip: string;
  /** ban: local | fleet; unban: expired | manual | stop */
  detail: string;
}

export interface Minute {
  /** start of the minute, epoch seconds */
  start: number;
  failures: number;
  bans: number;
}

const MINUTES = 60;
const EVENTS = 500;

export class Activity {
  private readonly minutes: Minute[] = [];
  private readonly events: ActivityEvent[] = [];
  private seq = 0;

  constructor(private readonly now: () => number) {}

  private bucket(): Minute {
    const start = Math.floor(this.now() / 60) * 60;
    let last = this.minutes[this.minutes.length - 1];
    if (!last || last.start !== start) {
      last = { start, failures: 0, bans: 0 };
      this.minutes.push(last);
      while (this.minutes.length && this.minutes[0].start <= start - MINUTES * 60) this.minutes.shift();
    }
    return last;
  }

  failure(): void {
    this.bucket().failures++;
  }

  ban(jail: string, ip: string, detail: string): void {
    this.bucket().bans++;
    this.push({ kind: 'ban', jail, ip, detail });
  }

  unban(jail: string, ip: string, detail: string): void {
    this.push({ kind: 'unban', jail, ip, detail });
  }

  private push(e: Omit<ActivityEvent, 'seq' | 'time'>): void {
    this.events.push({ ...e, seq: ++this.seq, time: this.now() });
    if (this.events.length > EVENTS) this.events.splice(0, this.events.length - EVENTS);
  }

  /** The last hour, one entry per minute, oldest first (minutes without activity as zeros). */
  history(): Minute[] {
    const end = Math.floor(this.now() / 60) * 60;
    const by = new Map(this.minutes.map((m) => [m.start, m]));
    const out: Minute[] = [];
    for (let t = end - (MINUTES - 1) * 60; t <= end; t += 60) out.push(by.get(t) ?? { start: t, failures: 0, bans: 0 });
    return out;
  }

  /** Events after `since` (a sequence number), oldest first; at most `limit` of the newest. */
  since(since: number, limit = 100): ActivityEvent[] {
    const newer = this.events.filter((e) => e.seq > since);
    return newer.slice(Math.max(0, newer.length - limit));
  }
}

/** The /24 (IPv4) or /64 (IPv6) an address is in, for the dashboard's top subnets. */
export function subnetOf(ip: string): string {
  if (ip.includes('/')) return ip;
  if (!ip.includes(':')) {
    const p = ip.split('.');
    return p.length === 4 ? `${p[0]}.${p[1]}.${p[2]}.0/24` : ip;
  }
  // expand :: to get the first four groups
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  const first = groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '').toLowerCase());
  return `${first.join(':')}::/64`;
}
