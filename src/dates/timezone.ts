// Time zones for the date detector: fixed-offset zone names, `logtimezone` values, and the
// conversion between "naive" wall-clock times and epoch seconds.
//
// fail2ban knows zones only as fixed offsets: a name such as CEST is always +02:00, with no
// daylight-saving switch. A line without a zone is read in `logtimezone`, else in the local zone
// of the process (process.env.TZ, which the JS Date functions honour).

import { processPosixZone, type PosixZone } from './posixtz';

/** Zone abbreviations by offset in minutes east of UTC (one entry per line of the table). */
const ZONES_BY_OFFSET: ReadonlyArray<readonly [number, string]> = [
  // military single letters: A..M east (J is not used), N..Y west, Z = UTC
  [0, 'Z'],
  [60, 'A'], [120, 'B'], [180, 'C'], [240, 'D'], [300, 'E'], [360, 'F'], [420, 'G'], [480, 'H'],
  [540, 'I'], [600, 'K'], [660, 'L'], [720, 'M'],
  [-60, 'N'], [-120, 'O'], [-180, 'P'], [-240, 'Q'], [-300, 'R'], [-360, 'S'], [-420, 'T'],
  [-480, 'U'], [-540, 'V'], [-600, 'W'], [-660, 'X'], [-720, 'Y'],
  // UTC and Europe / Africa
  [0, 'UT UTC GMT WET AZOST EGST'],
  [60, 'CET MET WEST BST WAT'],
  [120, 'CEST MEST EET CAT SAST'],
  [180, 'EEST MSK EAT IDT TRT'],
  // Asia / Pacific
  [210, 'IRST'],
  [240, 'GST AZT GET MUT RET SCT SAMT'],
  [270, 'AFT IRDT'],
  [300, 'PKT UZT TJT TMT MVT YEKT TFT'],
  [330, 'IST SLST'],
  [345, 'NPT'],
  [360, 'BTT OMST ALMT KGT'],
  [390, 'MMT CCT'],
  [420, 'ICT WIB KRAT NOVT CXT'],
  [480, 'AWST HKT SGT MYT PHT WITA IRKT ULAT BNT'],
  [525, 'ACWST'],
  [540, 'JST KST WIT YAKT AWDT PWT TLT'],
  [570, 'ACST'],
  [600, 'AEST VLAT PGT'],
  [630, 'ACDT LHST'],
  [660, 'AEDT LHDT MAGT NCT SBT VUT'],
  [720, 'NZST FJT ANAT PETT MHT GILT TVT WFT'],
  [765, 'CHAST'],
  [780, 'NZDT TOT'],
  [825, 'CHADT'],
  [840, 'LINT'],
  // the Americas and the Atlantic
  [-60, 'AZOT CVT EGT'],
  [-120, 'BRST FNT PMDT UYST WGST'],
  [-150, 'NDT'],
  [-180, 'ADT ART BRT CLST GFT PMST SRT UYT'],
  [-210, 'NST'],
  [-240, 'AST EDT BOT GYT VET'],
  [-300, 'EST CDT COT PET ECT EASST'],
  [-360, 'CST MDT GALT EAST'],
  [-420, 'MST PDT'],
  [-480, 'PST AKDT'],
  [-540, 'AKST HDT GAMT'],
  [-570, 'MART'],
  [-600, 'HST CKT TAHT'],
  [-660, 'SST NUT'],
];

const ZONE_OFFSETS: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  for (const [offset, names] of ZONES_BY_OFFSET) for (const n of names.split(' ')) m.set(n, offset);
  return m;
})();

/** Offset in minutes of a zone abbreviation, or undefined when unknown. */
export function zoneAbbrOffset(name: string): number | undefined {
  return ZONE_OFFSETS.get(name);
}

// A zone: an optional upper-case name (one letter, or 3 to 5), then an optional offset
// +hh, +hhmm or +hh:mm (hours 00-19). Offsets are added to the name's own offset.
const ZONE_SPEC = /^([A-Z](?:[A-Z]{2,4})?)?([+-][01]\p{Nd}(?::?\p{Nd}{2})?)?$/u;

/**
 * Offset in minutes of a zone written in a log line or a `logtimezone` value: `Z`, `UTC`, `GMT`,
 * `CEST`, `+0200`, `-05:00`, `+01`, `UTC+0200`. Throws on an unknown or malformed zone.
 */
export function zoneOffset(zone: string): number {
  if (zone === 'Z' || zone === 'UTC' || zone === 'GMT') return 0;
  const m = ZONE_SPEC.exec(zone);
  if (!m) throw new Error(`unknown or unsupported time zone: ${JSON.stringify(zone)}`);
  let minutes = 0;
  if (m[1] !== undefined) {
    const base = ZONE_OFFSETS.get(m[1]);
    if (base === undefined) throw new Error(`unknown time zone abbreviation: ${JSON.stringify(m[1])}`);
    minutes = base;
  }
  const off = m[2];
  if (off !== undefined) {
    const sign = off[0] === '-' ? -1 : 1;
    const digits = toAsciiDigits(off.slice(1).replace(':', ''));
    const hh = Number(digits.slice(0, 2));
    const mm = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    minutes += sign * (hh * 60 + mm);
  }
  return minutes;
}

/** Offset in minutes of a `logtimezone` option value; undefined means the local zone. */
export function logTimezoneOffset(tz: string | undefined): number | undefined {
  if (tz === undefined) return undefined;
  return zoneOffset(tz.trim());
}

// ---- naive wall-clock times -------------------------------------------------------------------
// A naive time is a wall-clock reading without a zone, held as milliseconds in a UTC frame
// (naiveMs(2026, 1, 2, 3, 4, 5) is "2026-01-02 03:04:05" whatever the zone). fail2ban compares such
// readings with the local wall clock for its year/day roll-over, so we do the same.

export const DAY_MS = 86_400_000;

/** Wall-clock fields to a naive time; years 1..9999 (JS would read 0..99 as 1900..1999). */
export function naiveMs(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  if (year >= 100) return Date.UTC(year, month - 1, day, hour, minute, second);
  const d = new Date(Date.UTC(2000, month - 1, day, hour, minute, second));
  d.setUTCFullYear(year, month - 1, day);
  return d.getTime();
}

export interface WallClock {
  year: number;
  month: number;
  day: number;
}

/** Calendar date of a naive time. */
export function naiveDate(ms: number): WallClock {
  const d = new Date(ms);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/**
 * The local zone when TZ holds a POSIX rule that ICU (and so Date) does not understand. Decided
 * once, at the first conversion: reading process.env costs about a third of a dated line's time.
 * A later change of TZ to a zone name still works (Date follows it); a POSIX rule set later
 * is not seen.
 */
let posixChecked = false;
let posixZone: PosixZone | undefined;
function posixLocal(): PosixZone | undefined {
  if (!posixChecked) {
    posixChecked = true;
    posixZone = processPosixZone();
  }
  return posixZone;
}

/** The local wall clock at an instant (epoch seconds), as a naive time (fractions kept). */
export function localNaive(epochSeconds: number): number {
  const ms = epochSeconds * 1000;
  const posix = posixLocal();
  if (posix) return ms + posix.offsetAt(epochSeconds) * 1000;
  return ms - new Date(ms).getTimezoneOffset() * 60_000;
}

/**
 * Wall-clock fields read in the local zone, to epoch seconds (like C mktime). A time in a DST gap
 * moves forward; a time in the repeated hour is its first occurrence.
 */
export function localEpochOf(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  const posix = posixLocal();
  if (posix && year >= 100) return posix.mktime(year, month, day, hour, minute, second);
  if (year >= 100) return new Date(year, month - 1, day, hour, minute, second).getTime() / 1000;
  const d = new Date(2000, month - 1, day, hour, minute, second);
  d.setFullYear(year, month - 1, day);
  d.setHours(hour, minute, second);
  return d.getTime() / 1000;
}

/** A naive time read in the local zone, to epoch seconds. */
export function localEpoch(naive: number): number {
  const n = new Date(naive);
  return localEpochOf(n.getUTCFullYear(), n.getUTCMonth() + 1, n.getUTCDate(), n.getUTCHours(), n.getUTCMinutes(), n.getUTCSeconds());
}

const ND = /\p{Nd}/u;

/**
 * Replace any Unicode decimal digits (Python's `\d`) by ASCII ones. Unicode keeps every decimal
 * digit set contiguous and starting at zero, so a digit's value is its distance to the first
 * code point of its run, modulo 10.
 */
export function toAsciiDigits(s: string): string {
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return s;
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp > 0x7f && ND.test(ch)) {
      let start = cp;
      while (ND.test(String.fromCodePoint(start - 1))) start--;
      out += String((cp - start) % 10);
    } else {
      out += ch;
    }
  }
  return out;
}
