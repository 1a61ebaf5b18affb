// The %-directives of fail2ban datepatterns (Python strptime's, plus fail2ban's %k %l %Ex*), the
// regex each one expands to, and the conversion of the captured fields into epoch seconds with
// fail2ban's rules: year and day inference with roll-over, %f dropped, fixed-offset zones.

import { DAY_MS, localEpoch, localEpochOf, localNaive, naiveDate, naiveMs, toAsciiDigits, WallClock, zoneOffset } from './timezone';

const DAY_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const MONTH_NAMES = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const DAY_ABBRS = DAY_NAMES.map((d) => d.slice(0, 3));
const MONTH_ABBRS = MONTH_NAMES.map((m) => m.slice(0, 3));

/** Longest alternatives first, so that a name is never cut short by a shorter one. */
const alternation = (words: string[]) => [...words].sort((a, b) => b.length - a.length).join('|');

export interface Directive {
  /** the text after '%' */
  key: string;
  /** how fail2ban names it in a template's human name */
  name: string;
  /** Python regex text */
  re: string;
}

// Regexes in Python syntax, translated with the rest of the pattern (so `\d` and `\s` are
// Unicode, or ASCII under (?a)). Alternatives keep the order that decides which text a
// backtracking engine takes first.
const ABBR = '[A-Z](?:[A-Z]{2,4})?';
const OFFSET = '[+-][01]\\d(?::?\\d{2})?';
const BASE: ReadonlyArray<readonly [string, string, string]> = [
  // key, name, regex
  ['d', 'Day', '(?P<d>[12]\\d|[0 ]?[1-9]|3[01])'],
  ['f', 'Microseconds', '(?P<f>[0-9]{1,6})'],
  ['H', '24hour', '(?P<H>[01]?\\d|2[0-3])'],
  ['I', '12hour', '(?P<I>1[0-2]|0[1-9]|[1-9])'],
  ['G', '%G', '(?P<G>\\d{4})'],
  ['j', 'Yearday', '(?P<j>36[0-6]|3[0-5]\\d|[12]\\d\\d|0[1-9]\\d|00[1-9]|[1-9]\\d|0[1-9]|[1-9])'],
  ['m', 'Month', '(?P<m>0?[1-9]|1[0-2])'],
  ['M', 'Minute', '(?P<M>[0-5]?\\d)'],
  ['S', 'Second', '(?P<S>[0-5]?\\d|6[01])'],
  ['U', 'Yearweek', '(?P<U>5[0-3]|[0-4]\\d|\\d)'],
  ['w', 'Weekday', '(?P<w>[0-6])'],
  ['u', '%u', '(?P<u>[1-7])'],
  ['V', '%V', '(?P<V>5[0-3]|0[1-9]|[1-4]\\d|\\d)'],
  ['y', 'Year2', '(?P<y>\\d\\d)'],
  ['Y', 'Year', '(?P<Y>\\d{4})'],
  ['z', 'Zone offset', `(?P<z>Z|UTC|GMT|${OFFSET})`],
  ['A', 'DAYNAME', `(?P<A>${alternation(DAY_NAMES)})`],
  ['a', 'DAY', `(?P<a>${alternation(DAY_ABBRS)})`],
  ['B', 'MONTH', `(?P<B>${alternation(MONTH_NAMES)})`],
  ['b', 'MON', `(?P<b>${alternation(MONTH_ABBRS)})`],
  ['p', 'AMPM', '(?P<p>am|pm)'],
  ['Z', 'Zone name', '(?P<Z>Z|[A-Z]{3,5})'],
  ['%', '%', '%'],
  ['W', 'Yearweek', '(?P<W>5[0-3]|[0-4]\\d|\\d)'],
  // locale composites of the C locale: "%a %b %d %H:%M:%S %Y", "%m/%d/%y", "%H:%M:%S"
  ['c', '%c', `(?P<a>${alternation(DAY_ABBRS)})\\s+(?P<b>${alternation(MONTH_ABBRS)})\\s+(?P<d>3[01]|[12]\\d|0[1-9]|[1-9]| [1-9])\\s+(?P<H>2[0-3]|[01]\\d|\\d):(?P<M>[0-5]\\d|\\d):(?P<S>6[01]|[0-5]\\d|\\d)\\s+(?P<Y>\\d{4})`],
  ['x', '%x', '(?P<m>1[0-2]|0[1-9]|[1-9])/(?P<d>3[01]|[12]\\d|0[1-9]|[1-9]| [1-9])/(?P<y>\\d\\d)'],
  ['X', '%X', '(?P<H>2[0-3]|[01]\\d|\\d):(?P<M>[0-5]\\d|\\d):(?P<S>6[01]|[0-5]\\d|\\d)'],
  // hour with an optional leading space instead of a zero
  ['k', '%k', ' ?(?P<H>[0-2]?\\d)'],
  ['l', '%l', ' ?(?P<I>1?\\d)'],
  // fail2ban's exact variants
  ['ExZ', 'ExZone name', `(?P<Z>${ABBR})`],
  ['Exz', 'ExZone offset', `(?P<z>(?:${ABBR})?${OFFSET}|${ABBR})`],
  ['Exd', 'ExDay', '(?P<d>[12]\\d|0[1-9]|3[01])'],
  ['Exm', 'ExMonth', '(?P<m>0[1-9]|1[0-2])'],
  ['ExH', 'Ex24hour', '(?P<H>[01]\\d|2[0-3])'],
  // fail2ban derives these two names from a hash-ordered loop ("Ex%k" or "%Exk"); we fix one
  ['Exk', 'Ex%k', ' ?(?P<H>[01]?\\d|2[0-3])'],
  ['Exl', 'Ex%l', ' ?(?P<I>1[0-2]|\\d)'],
  ['ExM', 'ExMinute', '(?P<M>[0-5]\\d)'],
  ['ExS', 'ExSecond', '(?P<S>[0-5]\\d|6[01])'],
  ['ExY', 'ExYear', ''], // built from the reference year, see yearRegex()
  ['Exy', 'ExYear2', '(?P<y>\\d{2})'],
];

export const DIRECTIVES: ReadonlyMap<string, Directive> = new Map(BASE.map(([key, name, re]) => [key, { key, name, re }]));

/** The directive starting at pattern[i] (just after a '%'), longest key first; undefined if none. */
export function directiveAt(pattern: string, i: number): Directive | undefined {
  if (pattern.startsWith('Ex', i)) {
    const d = DIRECTIVES.get(pattern.slice(i, i + 3));
    if (d) return d;
  }
  const d = DIRECTIVES.get(pattern[i]);
  return d && d.key.length === 1 ? d : undefined;
}

/**
 * `%ExY`: four-digit years from 2000 up to the decade of (reference year + 3), plus the decade of
 * (reference year - 1); in 2026 that is 2000-2029. fail2ban computes it from the clock at start-up.
 */
export function yearRegex(refYear: number): string {
  const decades = new Set<number>([Math.floor((refYear - 1) / 10), Math.floor((refYear + 3) / 10)]);
  for (let y = 2000; y <= refYear; y += 3) decades.add(Math.floor(y / 10));
  const list = [...decades].sort((a, b) => a - b).map((d) => String(d).padStart(3, '0'));
  return `(?P<Y>(?:${list.join('|')})\\d)`;
}

/** A directive's regex (Python syntax). */
export function directiveRegex(d: Directive, refYear: number): string {
  return d.key === 'ExY' ? yearRegex(refYear) : d.re;
}

// ---- fields to time ---------------------------------------------------------------------------

/** The local wall clock of "now": the reference for year and day inference. */
export interface NowInfo extends WallClock {
  /** epoch seconds */
  now: number;
  /** the local wall clock as a naive time */
  naive: number;
}

export function nowInfo(now: number): NowInfo {
  const naive = localNaive(now);
  return { now, naive, ...naiveDate(naive) };
}

export interface TimeContext {
  now: NowInfo;
  /** offset in minutes for lines without a zone; undefined = local zone */
  defaultTz?: number;
}

/** The named groups that carry date fields, with their group numbers (see fieldIndexes). */
export type FieldIndexes = ReadonlyArray<readonly [string, number]>;

/** A match's groups by number (a PyMatch). */
export interface NumberedGroups {
  group(n: number): string | undefined;
}

const FIELD_KEYS = new Set(['y', 'Y', 'm', 'B', 'b', 'd', 'H', 'I', 'M', 'S', 'A', 'a', 'w', 'j', 'U', 'W', 'z', 'Z', 'p']);

/** Keep the groups fieldsToTime reads, in pattern order (`named`: name → number, in that order). */
export function fieldIndexes(named: Iterable<readonly [string, number]>): FieldIndexes {
  return [...named].filter(([k]) => FIELD_KEYS.has(k));
}

/** Python's int() of a captured field: spaces allowed around, Unicode digits accepted. */
function int(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n = n * 10 + (c - 48);
    else if (c !== 32) return Number(toAsciiDigits(s).trim());
  }
  return n;
}


function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function validDateTime(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  return y >= 1 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo) && h <= 23 && mi <= 59 && s <= 59;
}

/** Weekday of a date, Monday = 0. */
function weekday(year: number, month: number, day: number): number {
  return (new Date(naiveMs(year, month, day)).getUTCDay() + 6) % 7;
}

/** Day of the year from a week number (%U: weeks start on Sunday, %W: on Monday) and a weekday. */
function dayOfYearFromWeek(year: number, week: number, wday: number, mondayFirst: boolean): number {
  let first = weekday(year, 1, 1);
  if (!mondayFirst) {
    first = (first + 1) % 7;
    wday = (wday + 1) % 7;
  }
  if (week === 0) return 1 + wday - first;
  const week0 = (7 - first) % 7;
  return 1 + week0 + 7 * (week - 1) + wday;
}

/**
 * Epoch seconds of the captured fields (the named groups `fields` of a template match `m`), or NaN
 * when they do not form a valid date (fail2ban then treats the line as undated).
 */
export function fieldsToTime(fields: FieldIndexes, m: NumberedGroups, ctx: TimeContext): number {
  let year: number | undefined;
  let month: number | undefined;
  let day: number | undefined;
  let tz: number | undefined;
  let wday: number | undefined;
  let julian: number | undefined;
  let week: number | undefined;
  let mondayFirst = false;
  let hour = 0;
  let minute = 0;
  let second = 0;
  for (let f = 0; f < fields.length; f++) {
    const key = fields[f][0];
    const val = m.group(fields[f][1]);
    if (val === undefined) continue;
    switch (key) {
      case 'y':
        year = int(val);
        if (year <= 2000) year += 2000;
        break;
      case 'Y':
        year = int(val);
        break;
      case 'm':
        month = int(val);
        break;
      case 'B':
      case 'b': {
        const i = (key === 'B' ? MONTH_NAMES : MONTH_ABBRS).indexOf(val.toLowerCase());
        if (i < 0) return NaN;
        month = i + 1;
        break;
      }
      case 'd':
        day = int(val);
        break;
      case 'H':
        hour = int(val);
        break;
      case 'I': {
        hour = int(val);
        const p = fields.find(([k]) => k === 'p');
        const ampm = ((p && m.group(p[1])) ?? '').toLowerCase();
        if (ampm === 'pm') {
          if (hour !== 12) hour += 12;
        } else if (hour === 12) {
          hour = 0;
        }
        break;
      }
      case 'M':
        minute = int(val);
        break;
      case 'S':
        second = int(val);
        break;
      case 'A':
      case 'a': {
        const i = (key === 'A' ? DAY_NAMES : DAY_ABBRS).indexOf(val.toLowerCase());
        if (i < 0) return NaN;
        wday = i;
        break;
      }
      case 'w':
        wday = (int(val) + 6) % 7;
        break;
      case 'j':
        julian = int(val);
        break;
      case 'U':
      case 'W':
        week = int(val);
        mondayFirst = key === 'W';
        break;
      case 'z':
      case 'Z':
        try {
          tz = zoneOffset(val);
        } catch {
          return NaN;
        }
        break;
      // f (fraction) is dropped: whole seconds; G, V, u are not interpreted
    }
  }

  const nowLocal = ctx.now;
  const nowNaive = nowLocal.naive;
  let assumeYear = false;
  if (year === undefined) {
    year = nowLocal.year;
    assumeYear = true;
  }
  if (month === undefined || day === undefined) {
    if (julian === undefined && week !== undefined && wday !== undefined) {
      julian = dayOfYearFromWeek(year, week, wday, mondayFirst);
    }
    if (julian !== undefined) {
      const d = naiveDate(naiveMs(year, 1, 1) + (julian - 1) * DAY_MS);
      ({ year, month, day } = d);
    }
  }
  let assumeToday = false;
  if (month === undefined && day === undefined) {
    ({ month, day } = nowLocal);
    assumeToday = true;
  }
  if (month === undefined || day === undefined) return NaN;
  if (!validDateTime(year, month, day, hour, minute, second)) return NaN;

  let t = naiveMs(year, month, day, hour, minute, second);
  if (tz === undefined) tz = ctx.defaultTz;
  if (tz !== undefined) t -= tz * 60_000;

  // Roll-over. Like fail2ban, compare with the local wall clock even when t is in UTC.
  let moved = false;
  if (assumeToday && t > nowNaive) {
    t -= DAY_MS;
    moved = true;
  }
  if (assumeYear && t > nowNaive + DAY_MS) {
    // previous year, same month and day; the time of day stays as computed (zone applied)
    if (!validDateTime(year - 1, month, day, 0, 0, 0)) return NaN;
    t = naiveMs(year - 1, month, day) + (((t % DAY_MS) + DAY_MS) % DAY_MS);
    moved = true;
  }
  if (tz !== undefined) return Math.floor(t / 1000);
  return moved ? localEpoch(t) : localEpochOf(year, month, day, hour, minute, second);
}
