// POSIX TZ rules ("CET-1CEST,M3.5.0,M10.5.0/3", "EST5EDT", "<+0330>-3:30"), which glibc honours
// and Node's ICU does not: given one in TZ, JavaScript's Date silently reads local time as UTC.
// fail2ban (Python, glibc) follows the rule, so f2b-fast does too.
//
//   std offset [dst [offset] [,start[/time],end[/time]]]
//   offset: [+|-]hh[:mm[:ss]], west of UTC positive (so CET is "-1")
//   date:   Mm.w.d (month, week 1-5 with 5 = last, weekday 0 = Sunday) | Jn (1-365, no Feb 29) | n (0-365)
//   time:   [+|-]hh[:mm[:ss]] local time, default 02:00:00

export interface PosixZone {
  /** seconds east of UTC in force at an instant (epoch seconds) */
  offsetAt(epoch: number): number;
  /** wall-clock fields read in this zone, to epoch seconds (a time in the spring-forward gap
   *  moves forward; a time in the repeated hour is its first occurrence) */
  mktime(year: number, month: number, day: number, hour: number, minute: number, second: number): number;
}

type DateRule = { kind: 'M'; month: number; week: number; weekday: number } | { kind: 'J'; day: number } | { kind: 'n'; day: number };

interface Rule {
  std: number;
  dst?: number;
  start?: { date: DateRule; time: number };
  end?: { date: DateRule; time: number };
}

class Cursor {
  i = 0;
  constructor(readonly s: string) {}
  name(): string | undefined {
    if (this.s[this.i] === '<') {
      const j = this.s.indexOf('>', this.i);
      if (j < 0) return undefined;
      const n = this.s.slice(this.i + 1, j);
      this.i = j + 1;
      return n;
    }
    const m = /^[A-Za-z]{3,}/.exec(this.s.slice(this.i));
    if (!m) return undefined;
    this.i += m[0].length;
    return m[0];
  }
  /** [+|-]hh[:mm[:ss]] in seconds */
  time(): number | undefined {
    const m = /^([+-]?)(\d{1,3})(?::(\d{1,2}))?(?::(\d{1,2}))?/.exec(this.s.slice(this.i));
    if (!m) return undefined;
    this.i += m[0].length;
    const v = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
    return m[1] === '-' ? -v : v;
  }
  date(): DateRule | undefined {
    const rest = this.s.slice(this.i);
    let m = /^M(\d{1,2})\.(\d)\.(\d)/.exec(rest);
    if (m) {
      this.i += m[0].length;
      const r = { kind: 'M' as const, month: Number(m[1]), week: Number(m[2]), weekday: Number(m[3]) };
      return r.month >= 1 && r.month <= 12 && r.week >= 1 && r.week <= 5 && r.weekday <= 6 ? r : undefined;
    }
    m = /^J(\d{1,3})/.exec(rest);
    if (m) {
      this.i += m[0].length;
      const day = Number(m[1]);
      return day >= 1 && day <= 365 ? { kind: 'J', day } : undefined;
    }
    m = /^(\d{1,3})/.exec(rest);
    if (m) {
      this.i += m[0].length;
      const day = Number(m[1]);
      return day <= 365 ? { kind: 'n', day } : undefined;
    }
    return undefined;
  }
  eat(c: string): boolean {
    if (this.s[this.i] !== c) return false;
    this.i++;
    return true;
  }
  get done(): boolean {
    return this.i >= this.s.length;
  }
}

function parseRule(tz: string): Rule | undefined {
  const c = new Cursor(tz.startsWith(':') ? tz.slice(1) : tz);
  if (!c.name()) return undefined;
  const stdWest = c.time();
  if (stdWest === undefined) return undefined;
  const rule: Rule = { std: -stdWest };
  if (c.done) return rule;
  if (!c.name()) return undefined;
  const dstWest = c.s[c.i] === ',' || c.done ? undefined : c.time();
  rule.dst = dstWest === undefined ? rule.std + 3600 : -dstWest;
  // no rule given: the US rule, as glibc's built-in default
  let start: { date: DateRule; time: number } = { date: { kind: 'M', month: 3, week: 2, weekday: 0 }, time: 7200 };
  let end: { date: DateRule; time: number } = { date: { kind: 'M', month: 11, week: 1, weekday: 0 }, time: 7200 };
  if (!c.done) {
    const part = () => {
      if (!c.eat(',')) return undefined;
      const date = c.date();
      if (!date) return undefined;
      const time = c.eat('/') ? c.time() : 7200;
      return time === undefined ? undefined : { date, time };
    };
    const s = part();
    const e = part();
    if (!s || !e || !c.done) return undefined;
    start = s;
    end = e;
  }
  rule.start = start;
  rule.end = end;
  return rule;
}

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Seconds from the start of `year` (local, naive) to 00:00 of the rule's day. */
function dayStart(year: number, d: DateRule): number {
  const jan1 = Date.UTC(year, 0, 1) / 1000;
  if (d.kind === 'J') return (d.day - 1 + (isLeap(year) && d.day >= 60 ? 1 : 0)) * 86400;
  if (d.kind === 'n') return d.day * 86400;
  const first = new Date(Date.UTC(year, d.month - 1, 1));
  const daysInMonth = new Date(Date.UTC(year, d.month, 0)).getUTCDate();
  let day = 1 + ((d.weekday - first.getUTCDay() + 7) % 7) + (d.week - 1) * 7;
  while (day > daysInMonth) day -= 7;
  return Date.UTC(year, d.month - 1, day) / 1000 - jan1;
}

/**
 * The zone for a POSIX TZ string, or undefined when `tz` is not one (a zone name such as
 * "Europe/Berlin" is ICU's business).
 */
export function parsePosixTz(tz: string): PosixZone | undefined {
  const rule = parseRule(tz.trim());
  if (!rule) return undefined;
  const { std, dst, start, end } = rule;
  if (dst === undefined || !start || !end) {
    return { offsetAt: () => std, mktime: (y, mo, d, h, mi, s) => Date.UTC(y, mo - 1, d, h, mi, s) / 1000 - std };
  }
  /** [DST start, DST end) as UTC epoch seconds for a year; start's time is standard local
   *  time, end's is daylight local time */
  const window = (year: number): [number, number] => {
    const jan1 = Date.UTC(year, 0, 1) / 1000;
    return [jan1 + dayStart(year, start.date) + start.time - std, jan1 + dayStart(year, end.date) + end.time - dst];
  };
  const isDst = (epoch: number): boolean => {
    const year = new Date((epoch + std) * 1000).getUTCFullYear();
    const [a, b] = window(year);
    // southern hemisphere: DST spans the new year
    return a < b ? epoch >= a && epoch < b : epoch >= a || epoch < b;
  };
  return {
    offsetAt: (epoch) => (isDst(epoch) ? dst : std),
    mktime: (y, mo, d, h, mi, s) => {
      const naive = Date.UTC(y, mo - 1, d, h, mi, s) / 1000;
      const asDst = naive - dst;
      const asStd = naive - std;
      const dstOk = isDst(asDst);
      const stdOk = !isDst(asStd);
      if (dstOk && stdOk) return Math.min(asDst, asStd);
      if (dstOk) return asDst;
      if (stdOk) return asStd;
      // in the gap: read with the offset in force before the change, which moves it forward
      return dst > std ? asStd : asDst;
    },
  };
}

/** The POSIX rule in process.env.TZ when ICU does not know it as a zone name, else undefined. */
export function processPosixZone(): PosixZone | undefined {
  const tz = process.env.TZ;
  if (!tz) return undefined;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz.startsWith(':') ? tz.slice(1) : tz });
    return undefined;
  } catch {
    return parsePosixTz(tz);
  }
}
