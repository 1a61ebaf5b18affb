// bantime.increment: an address banned before is banned for longer, as fail2ban's observer
// computes it (server/observer.py incrBanTime/banFound/failureFound, jail.py setBanTimeExtra,
// database.py getCurrentBans). Pure functions: the history comes from the state database, the
// randomness (bantime.rndtime) from the caller.
//
// How fail2ban grows a ban, in short:
// - the new ban first gets the jail's bantime; the observer then looks the address up in the
//   database (`bips`: the latest ban per address and jail, or summed over every jail with
//   bantime.overalljails) and, if it was banned before (bancount n > 0), replaces the ban time by
//   f(bantime, n): `multipliers[min(n, len - 1)] * bantime * factor` when bantime.multipliers is
//   set, else max(bantime, formula); then min(.., maxtime), then + random() * rndtime;
// - the ban count becomes n + 1 (1 without history);
// - the history has no age limit: a row counts until the hourly purge deletes it;
// - a permanent jail (bantime -1) never increments (nor reads the history);
// - an error while evaluating the formula leaves the jail's bantime (count still n + 1).

import type { JailDef, SourceRef } from '../config/types';
import { str2seconds } from '../config/timespec';
import { asBool } from '../config/values';
import { F2bError } from '../errors';
import { roundHalfEven } from './failures';
import { binary, compileExpression, pyMax, pyMin, toNumber, truthy, type CompiledExpression, type PyNum } from './expression';

/** fail2ban's default bantime.formula: bantime doubled per earlier ban, up to 2**20 times. */
export const DEFAULT_FORMULA = 'ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor';

/** The names a bantime.formula sees (fail2ban's BanTimeIncr object and the factor). */
export const FORMULA_VARIABLES = ['ban.Time', 'ban.Count', 'banFactor'] as const;

export interface IncrementSettings {
  /** bantime.factor, evaluated (a Python number: bigint = int) */
  factor: PyNum;
  /** bantime.formula, compiled; used when there are no multipliers */
  formula: CompiledExpression;
  /** bantime.multipliers; empty = use the formula */
  multipliers: bigint[];
  /** bantime.maxtime in seconds, if set */
  maxtime?: number;
  /** bantime.rndtime in seconds, if set */
  rndtime?: number;
  /** bantime.overalljails: the history is summed over every jail */
  overalljails: boolean;
}

/** The address's latest ban as the database keeps it (`bips`; with overalljails: the sum of
 *  bancount and bantime and the latest timeofban over every jail). */
export interface BanHistory {
  bancount: number;
  timeofban: number;
  bantime: number;
}

export interface NextBan {
  /** seconds (may be fractional with a float factor or rndtime); -1 = permanent */
  bantime: number;
  /** the ban count to record for this ban */
  bancount: number;
  /** the ticket is not newer than the recorded ban: fail2ban takes it for a failure read again
   *  (log re-read after a restart) and does not record the ban again */
  known: boolean;
  /** fail2ban holds this ban time as a float (a float factor, rndtime...): pass it on to
   *  seconds2str for the log line */
  float: boolean;
  /** the formula failed (fail2ban logs it as an error); bantime is the jail's then */
  error?: string;
}

type Where = (key: string) => SourceRef | undefined;

/**
 * The bantime.* options of a jail; null when bantime.increment is off. Throws
 * F2bError(CONFIG_VALUE) with the jail and the option's file/line (`where`, when the config
 * reader can tell it) or the jail section's.
 */
export function parseIncrement(def: JailDef, where?: Where): IncrementSettings | null {
  // fail2ban treats an empty value as not set
  const opt = (key: string): string | undefined => {
    const v = def.options[key];
    return v === undefined || v === '' ? undefined : v;
  };
  if (!asBool(opt('bantime.increment') ?? 'false')) return null;
  const at = (key: string) => ({ ...(where?.(key) ?? def.source), jail: def.name });
  const fail = (key: string, message: string): never => {
    throw new F2bError('CONFIG_VALUE', `${key}: ${message}`, at(key));
  };

  const factorText = opt('bantime.factor') ?? '1';
  let factor: PyNum;
  try {
    factor = compileExpression(factorText, { option: 'bantime.factor', where: at('bantime.factor') }).evaluate();
  } catch (e) {
    if (e instanceof F2bError) throw e;
    fail('bantime.factor', `${(e as Error).message} in ${JSON.stringify(factorText)}`);
  }
  const formula = compileExpression(opt('bantime.formula') ?? DEFAULT_FORMULA, {
    variables: FORMULA_VARIABLES,
    option: 'bantime.formula',
    where: at('bantime.formula'),
  });

  // fail2ban splits on single spaces and fails on a doubled one; any white space is accepted here
  const multipliers: bigint[] = [];
  for (const word of (opt('bantime.multipliers') ?? '').split(/\s+/)) {
    if (!word) continue;
    if (!/^[+-]?\d+(?:_\d+)*$/.test(word)) fail('bantime.multipliers', `${JSON.stringify(word)} is not an integer`);
    multipliers.push(BigInt(word.replace(/_/g, '')));
  }

  const seconds = (key: string): number | undefined => {
    const v = opt(key);
    if (v === undefined) return undefined;
    try {
      return str2seconds(v);
    } catch (e) {
      return fail(key, (e as Error).message);
    }
  };
  const settings: IncrementSettings = {
    factor: factor!,
    formula,
    multipliers,
    overalljails: asBool(opt('bantime.overalljails') ?? 'false'),
  };
  const maxtime = seconds('bantime.maxtime');
  const rndtime = seconds('bantime.rndtime');
  if (maxtime !== undefined) settings.maxtime = maxtime;
  if (rndtime !== undefined) settings.rndtime = rndtime;
  return settings;
}

/** A ban time as a Python number: ints stay ints, so that formulas with << work on them. */
const pyTime = (t: number): PyNum => (Number.isInteger(t) ? BigInt(t) : t);

/**
 * fail2ban's calcBanTime (the jail's `evformula`): the ban time for a ban whose address was
 * banned `count` times before. Throws PyError when the formula fails.
 */
export function banTimeFor(settings: IncrementSettings, baseBantime: number, count: number, random: () => number): number {
  return toNumber(banTimeValue(settings, baseBantime, count, random));
}

/** banTimeFor as the Python number fail2ban holds (an int, or a float: `15.0m` in its logs). */
export function banTimeValue(settings: IncrementSettings, baseBantime: number, count: number, random: () => number): PyNum {
  const time = pyTime(baseBantime);
  let v: PyNum;
  if (settings.multipliers.length) {
    const m = settings.multipliers;
    v = binary('*', binary('*', time, settings.factor), m[count < m.length ? count : m.length - 1]);
  } else {
    const result = settings.formula.evaluate({ 'ban.Time': time, 'ban.Count': BigInt(count), banFactor: settings.factor });
    v = pyMax(time, result);
  }
  if (settings.maxtime !== undefined) v = pyMin(v, pyTime(settings.maxtime));
  if (settings.rndtime !== undefined) v = binary('+', v, random() * settings.rndtime);
  return v;
}

/**
 * The ban time and count of a new ban (fail2ban's banFound + incrBanTime). `settings` null =
 * increment off; `history` = the address's database row (undefined: never banned, or the rows
 * were purged); `ticketTime` = the ban's ticket time (last failure), to tell a known ban.
 */
export function nextBanTime(
  settings: IncrementSettings | null,
  baseBantime: number,
  history: BanHistory | undefined,
  random: () => number,
  ticketTime?: number,
): NextBan {
  const plain: NextBan = { bantime: baseBantime, bancount: 1, known: false, float: false };
  if (!settings || !(baseBantime > 0) || !history) return plain;
  const out: NextBan = {
    bantime: baseBantime,
    // the new ticket counts 1 (its own ban); the history's count + 1 when that is at least as much
    bancount: history.bancount >= 1 ? history.bancount + 1 : 1,
    known: ticketTime !== undefined && ticketTime <= history.timeofban,
    float: false,
  };
  if (history.bancount > 0) {
    try {
      const v = banTimeValue(settings, baseBantime, history.bancount, random);
      out.bantime = toNumber(v);
      out.float = typeof v === 'number';
    } catch (e) {
      out.error = (e as Error).message;
    }
  }
  return out;
}

/**
 * A ban restored from the database at start (fail2ban's restoreCurrentBans/getCurrentBans):
 * the ban time to restore it with, or undefined when it is over. The cap is the jail's maximum:
 * with increment, bantime.maxtime (no cap without one); without, the jail's bantime (no cap
 * when that is permanent). A stored permanent ban becomes the cap; a cap of 0 is no cap.
 */
export function restoreBanTime(
  settings: IncrementSettings | null,
  jailBantime: number,
  stored: { timeofban: number; bantime: number },
  now: number,
): number | undefined {
  let bantime = stored.bantime;
  // the rows fail2ban selects: not over yet (or permanent), and without increment only those
  // newer than the jail's bantime
  if (!(stored.timeofban + bantime > now || bantime <= -1)) return undefined;
  if (!settings && jailBantime !== -1 && !(stored.timeofban > now - jailBantime)) return undefined;
  const cap = settings ? (settings.maxtime ?? -1) : jailBantime;
  if (bantime === -2) {
    // a row from a database older than version 4 (no ban time stored)
    bantime = jailBantime;
  } else if (cap > 0 && (bantime === -1 || bantime > cap)) {
    bantime = cap;
  }
  if (bantime !== -1 && stored.timeofban + bantime <= now) return undefined;
  return bantime;
}

/**
 * fail2ban's failureFound: with increment, a failure of an address banned before counts more
 * than once toward maxretry (2, 3, 5, 9, ... for ban counts 1, 2, 3, 4, ..., at most maxretry).
 * Returns the failure's total weight (1 = a normal failure); the history is this jail's only
 * (never over all jails). A failure not newer than the recorded ban weighs 1.
 */
export function failureWeight(settings: IncrementSettings | null, history: BanHistory | undefined, failureTime: number, maxretry: number): number {
  if (!settings || !history) return 1;
  const count = Math.max(history.bancount, 0);
  const weight = Math.min(2 ** Math.min(count, 20) / 2 + 1, maxretry);
  if (failureTime <= history.timeofban || weight <= 1) return 1;
  return weight;
}

/** Python's str() of a float: shortest round trip, `.0` on whole numbers, exponent below 1e-4
 *  or from 1e16 on (with at least two exponent digits). */
function pyFloatStr(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-4 || a >= 1e16)) {
    const [mant, exp] = x.toExponential().split('e');
    const e = Number(exp);
    return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  return Number.isInteger(x) ? `${x}.0` : String(x);
}

/**
 * A ban time as fail2ban writes it in "Increase Ban" and "IP ... is bad" lines (MyTime.seconds2str):
 * at most three groups, rounded to days from a year on, to hours from a week, to minutes from a
 * day, to 10 seconds from an hour (less 5 s); `1y 3w 4d`, `2d 7h 15m`, `59m 50s`, `0`.
 */
export function seconds2str(sec: number, float = !Number.isInteger(sec)): string {
  const round = (v: number) => roundHalfEven(v);
  const groups = (parts: [number, string][]) =>
    parts
      .filter(([n], i) => i === 0 || n)
      .map(([n, u]) => `${n}${u}`)
      .join(' ');
  const s = sec;
  if (s >= 31536000) {
    const d = round(s / 86400);
    const rest = d % 365;
    return groups([[Math.floor(d / 365), 'y'], [rest >= 7 ? Math.floor(rest / 7) : 0, 'w'], [rest >= 7 ? rest % 7 : rest, 'd']]);
  }
  if (s >= 604800) {
    const h = round(s / 3600);
    const rest = h % 168;
    return groups([[Math.floor(h / 168), 'w'], [rest >= 24 ? Math.floor(rest / 24) : 0, 'd'], [rest >= 24 ? rest % 24 : rest, 'h']]);
  }
  if (s >= 86400) {
    const m = round(s / 60);
    const rest = m % 1440;
    return groups([[Math.floor(m / 1440), 'd'], [rest >= 60 ? Math.floor(rest / 60) : 0, 'h'], [rest >= 60 ? rest % 60 : rest, 'm']]);
  }
  if (s >= 3595) {
    const t = round(s / 10);
    const rest = t % 360;
    return groups([[Math.floor(t / 360), 'h'], [rest >= 6 ? Math.floor(rest / 6) : 0, 'm']]);
  }
  // below an hour the value is printed as Python prints it: a float ban time shows as 1.0m 30.5s
  const str = (v: PyNum) => (typeof v === 'bigint' ? String(v) : pyFloatStr(v));
  const whole: PyNum = float ? sec : BigInt(sec);
  let rest = whole;
  const out: string[] = [];
  if (rest >= 60) {
    out.push(`${str(binary('//', rest, 60n))}m`);
    rest = binary('%', rest, 60n);
  }
  if (truthy(rest)) out.push(`${str(rest)}s`);
  else if (!truthy(whole)) return '0';
  return out.join(' ');
}
