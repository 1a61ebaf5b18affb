// Fuzzing (fast-check, fixed seeds, bounded runs and time): the config reader, the date
// detector and the Python-regex translator never crash or hang on random input, and keep their
// contracts (the native addon's entry points: test/fuzz-native.test.ts):
//   - parseIni reports problems, never throws;
//   - DateDetector.match returns a span inside the line (with a time or NaN) or null;
//   - translatePyRegex returns a pattern V8 compiles, or throws PyRegexError.
// F2B_FAST_FUZZ_RUNS multiplies the runs (e.g. 10 for a longer session); the seed is printed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseIni } from '../src/config/ini';
import { DateDetector } from '../src/dates/detector';
import { translatePyRegex } from '../src/filter/pyregex';
import { PyRegexError } from '../src/filter/pyregex/error';

const SCALE = Math.max(1, Number(process.env.F2B_FAST_FUZZ_RUNS ?? '1') || 1);
const SEED = 20261204;
const params = (numRuns: number, t: { diagnostic(s: string): void }): fc.Parameters<unknown> => {
  t.diagnostic(`seed ${SEED}, ${numRuns * SCALE} runs`);
  return { seed: SEED, numRuns: numRuns * SCALE, interruptAfterTimeLimit: 60_000 * SCALE, markInterruptAsFailure: false };
};

/** Text made mostly of the characters a format cares about, with any other code point mixed in. */
function textOf(alphabet: string[], maxLength: number): fc.Arbitrary<string> {
  return fc
    .array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...alphabet) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }) }), { maxLength })
    .map((parts) => parts.join(''));
}

test('fuzz: the ini reader reports problems and never throws', (t) => {
  const alphabet = ['[', ']', '=', ':', '\n', '\r\n', ' ', '\t', '#', ';', '%(', ')s', '<', '>', 'a', 'B', 'DEFAULT', 'INCLUDES', 'before', 'known/', '\\', '"', 'é', '\u0000', '\uffff'];
  let problems = 0;
  fc.assert(
    fc.property(textOf(alphabet, 200), (text) => {
      const ini = parseIni(text, '/fuzz/jail.local');
      problems += ini.problems.length;
      for (const p of ini.problems) assert.equal(p.error.file, '/fuzz/jail.local');
    }),
    params(2000, t),
  );
  t.diagnostic(`${problems} problems reported`);
});

test('fuzz: the date detector finds a date inside the line or none, on any line', (t) => {
  const alphabet = ['2024', '-', '/', ':', ' ', 'T', 'Z', '+0100', '.123', 'Mar', ' 5', '10', '59', '@', '[', ']', 'sshd[1]:', '\t', '1717200000', '\u00e9', '\ud800'];
  const detectors = [new DateDetector({ now: 1717200000 }), new DateDetector({ now: 1717200000, datepattern: '{^LN-BEG}' }), new DateDetector({ now: 1717200000, datepattern: '%%Y-%%m-%%d %%H:%%M:%%S' })];
  let found = 0;
  fc.assert(
    fc.property(textOf(alphabet, 60), (line) => {
      for (const d of detectors) {
        const m = d.match(line, 1717200000);
        if (!m) continue;
        found++;
        // NaN: a span without a readable date (fail2ban then takes the last date, or now)
        assert.ok(Number.isNaN(m.time) || Number.isFinite(m.time), `time ${m.time} for ${JSON.stringify(line)}`);
        assert.ok(m.start >= 0 && m.start <= m.end && m.end <= line.length, `span ${m.start}-${m.end} of ${JSON.stringify(line)}`);
      }
    }),
    params(3000, t),
  );
  t.diagnostic(`${found} dates found`);
});

test('fuzz: the Python-regex translator gives a pattern V8 compiles, or a PyRegexError', (t) => {
  const alphabet = ['(', ')', '(?P<n>', '(?P=n)', '(?:', '(?=', '(?!', '(?<=', '(?<!', '(?(n)', '|', '[', ']', '[^', '\\', '\\d', '\\s', '\\S', '\\w', '\\b', '\\Z', '\\A', '\\1', '*', '+', '?', '{2,3}', '{', '}', '.', '^', '$', 'a', '-', '(?i)', '(?s:', '(?x)', '#', ' ', '\n', 'é', '\\u00e9', '\\x41', '\\N{DASH}'];
  let ok = 0;
  let refused = 0;
  fc.assert(
    fc.property(textOf(alphabet, 30), (pattern) => {
      let tr;
      try {
        tr = translatePyRegex(pattern);
      } catch (e) {
        if (!(e instanceof PyRegexError)) throw new Error(`${JSON.stringify(pattern)}: ${(e as Error).name}: ${(e as Error).message}`);
        refused++;
        return;
      }
      ok++;
      // the translation compiles (a V8 SyntaxError here would be a translator bug)
      new RegExp(tr.source, tr.flags);
    }),
    params(5000, t),
  );
  t.diagnostic(`${ok} translated, ${refused} refused`);
});
