// `name[key=value, key2="a,b"][key3='c']`: how a jail names its filter and actions.
//
// The name runs up to the first `[`; the options go from there to the last `]`, which only white
// space may follow. An option is a key of word characters, `-` and `.`, `=`, and a value that is
// "double-quoted", 'single-quoted' or bare (up to the next `,` or `]`); options are separated by
// `,` or by `][` between groups. Values are trimmed; a repeated key keeps its last value.
// An action list (`action = ...`) holds such items separated by white space or new lines.

import { F2bError } from '../errors';

export interface Spec {
  name: string;
  options: Record<string, string>;
}

const KEY_CHAR = /[\p{L}\p{N}_.-]/u;
const WS = /\s/;

/** End (exclusive) of a quoted value starting at `i`, or -1 when it is not closed. */
function quotedEnd(s: string, i: number): number {
  const q = s[i];
  if (q !== '"' && q !== "'") return -1;
  const j = s.indexOf(q, i + 1);
  return j < 0 ? -1 : j + 1;
}

function keyEnd(s: string, i: number): number {
  while (i < s.length && KEY_CHAR.test(s[i])) i++;
  return i;
}

function skipWs(s: string, i: number): number {
  while (i < s.length && WS.test(s[i])) i++;
  return i;
}

/** The inverse of parseFilterSpec: `name` alone, or `name[k="v", ...]`. The syntax has no
 *  escapes, so a value holding a double quote is written in single quotes. */
export function formatFilterSpec(name: string, options: Record<string, string>): string {
  const entries = Object.entries(options);
  if (!entries.length) return name;
  const quote = (v: string) => (v.includes('"') ? `'${v}'` : `"${v}"`);
  return `${name}[${entries.map(([k, v]) => `${k}=${quote(String(v))}`).join(', ')}]`;
}

/** Parses `name[k=v, ...]`. Throws F2bError(CONFIG_VALUE) on bad syntax. */
export function parseFilterSpec(spec: string): Spec {
  const open = spec.indexOf('[');
  const bad = (why: string) => new F2bError('CONFIG_VALUE', `bad option syntax in ${JSON.stringify(spec)}: ${why}`);
  if (open < 0) {
    if (!spec) throw bad('empty name');
    return { name: spec, options: {} };
  }
  const close = spec.lastIndexOf(']');
  if (open === 0) throw bad('missing name before "["');
  if (close < open || spec.slice(close + 1).trim() !== '') throw bad('expected "]" at the end');
  const name = spec.slice(0, open);
  const body = spec.slice(open + 1, close);
  const options: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const start = i;
    if (/^,?\s*$/.test(body.slice(start))) break;
    i = skipWs(body, i);
    const kEnd = keyEnd(body, i);
    if (kEnd === i || body[kEnd] !== '=') throw bad(`expected key=value at ${start}: ${body.slice(start, start + 25)}`);
    const key = body.slice(i, kEnd);
    i = kEnd + 1;
    let value: string;
    const q = quotedEnd(body, i);
    if (q > 0) {
      value = body.slice(i + 1, q - 1);
      i = q;
    } else {
      let j = i;
      while (j < body.length && body[j] !== ',' && body[j] !== ']') j++;
      value = body.slice(i, j);
      i = j;
    }
    options[key.trim()] = value.trim();
    // separator: `,`, `]` + blanks + `[`, or the end (a final new line allowed)
    if (body[i] === ',') i++;
    else if (body[i] === ']' && body[skipWs(body, i + 1)] === '[') i = skipWs(body, i + 1) + 1;
    else if (i === body.length || (i === body.length - 1 && body[i] === '\n')) i = body.length;
    else throw bad(`unexpected text after option '${key}': ${body.slice(i, i + 25)}`);
  }
  return { name, options };
}

/** End of a `[k=v, ...][...]` group list starting at `i` (which holds `[`), or -1. */
function optionGroupsEnd(s: string, i: number): number {
  i = skipWs(s, i + 1);
  for (;;) {
    if (s[i] === ']') return i + 1;
    const kEnd = keyEnd(s, i);
    if (kEnd === i || s[kEnd] !== '=') return -1;
    i = kEnd + 1;
    const q = quotedEnd(s, i);
    if (q > 0) i = q;
    else while (i < s.length && s[i] !== ',' && s[i] !== ']') i++;
    i = skipWs(s, i);
    if (s[i] === ',') i = skipWs(s, i + 1);
    else if (s[i] === ']') {
      const j = skipWs(s, i + 1);
      if (s[j] !== '[') return i + 1;
      i = skipWs(s, j + 1);
    } else if (i >= s.length) return -1;
  }
}

/** Splits an action list into items (`name[opts]`), as fail2ban does before parsing each. */
export function splitSpecList(value: string): string[] {
  const items: string[] = [];
  let i = 0;
  while (i < value.length) {
    if (WS.test(value[i])) {
      i++;
      continue;
    }
    let j = i;
    while (j < value.length && value[j] !== '[' && !WS.test(value[j])) j++;
    let end = -1;
    if (j > i) {
      const k = skipWs(value, j);
      const g = value[k] === '[' ? optionGroupsEnd(value, k) : -1;
      end = g >= 0 && (g === value.length || WS.test(value[g])) ? g : j;
      if (end === j && !(j === value.length || WS.test(value[j]))) end = -1;
    }
    if (end < 0) {
      // not `name[opts]`: the whole run of non-blank characters is one item (and fails to parse)
      end = i;
      while (end < value.length && !WS.test(value[end])) end++;
    }
    items.push(value.slice(i, end));
    i = end;
  }
  return items;
}
