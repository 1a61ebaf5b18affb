// One config file, parsed the way fail2ban's Python ConfigParser reads it (strict mode,
// `inline_comment_prefixes=';'`), keeping the file and line of every section and option.
//
// Rules (Python 3.11 configparser._read):
// - keys are lower-cased, section names are not; `=` or `:` ends the key (whichever comes first);
// - a line indented deeper than its option's line continues the value; blank lines inside a
//   value are kept (trailing ones dropped), comment lines are skipped without ending it;
// - `#` or `;` starts a full-line comment; inline, only `;` after whitespace is a comment;
// - a second [Section] or a second key within one file is an error ([DEFAULT] may reopen,
//   its keys may not repeat); so is a line before any section or without a delimiter.
// Python stops at the first such error; we record it, keep the first value and read on, so the
// caller can blame the one jail whose section holds it and keep the others.

import * as fs from 'node:fs';
import { F2bError } from '../errors';

export const DEFAULT_SECTION = 'DEFAULT';

export interface IniEntry {
  value: string;
  file: string;
  line: number;
}

export interface IniSection {
  name: string;
  line: number;
  options: Map<string, IniEntry>;
}

export interface IniProblem {
  error: F2bError;
  /** the section the bad line belongs to; undefined before the first section */
  section?: string;
}

export interface IniFile {
  file: string;
  defaults: Map<string, IniEntry>;
  /** sections in file order, [DEFAULT] excluded */
  sections: Map<string, IniSection>;
  problems: IniProblem[];
  /** why the file was left out (it is not UTF-8): fail2ban logs it and reads on without it */
  skipped?: string;
}

/** Characters Python's str.strip() / str.isspace() treat as white space. */
const PY_WS = ' \\t\\n\\r\\x0b\\x0c\\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const LEAD_WS = new RegExp(`^[${PY_WS}]+`);
const TRAIL_WS = new RegExp(`[${PY_WS}]+$`);
const ONE_WS = new RegExp(`^[${PY_WS}]$`);
const NON_WS = new RegExp(`[^${PY_WS}]`);

export const pyStrip = (s: string): string => s.replace(LEAD_WS, '').replace(TRAIL_WS, '');
export const pyRstrip = (s: string): string => s.replace(TRAIL_WS, '');
const isSpace = (c: string): boolean => ONE_WS.test(c);

const SECTION_RE = /^\[(.+)\]/s;
const OPTION_RE = /^(.*?)\s*([=:])\s*(.*)$/s;

/** Position of the first `;` that starts an inline comment, or -1. */
function inlineComment(line: string): number {
  for (let i = line.indexOf(';'); i >= 0; i = line.indexOf(';', i + 1)) {
    if (i === 0 || isSpace(line[i - 1])) return i;
  }
  return -1;
}

export function parseIni(text: string, file: string): IniFile {
  const out: IniFile = { file, defaults: new Map(), sections: new Map(), problems: [] };
  // values are collected line by line and joined at the end, like Python does
  const pending = new Map<IniEntry, string[]>();
  const seen = new Set<string>(); // "section\0key" pairs met in this file
  let cur: Map<string, IniEntry> | undefined;
  let curName: string | undefined;
  let opt: IniEntry | undefined;
  let indent = 0;
  const problem = (line: number, message: string) =>
    out.problems.push({ error: new F2bError('CONFIG_SYNTAX', message, { file, line }), section: curName });

  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, idx) => {
    const lineno = idx + 1;
    const stripped = pyStrip(line);
    const isComment = stripped.startsWith('#') || stripped.startsWith(';');
    const cut = isComment ? 0 : inlineComment(line);
    const value = pyStrip(cut >= 0 ? line.slice(0, cut) : line);
    if (!value) {
      // a blank line belongs to the value being read; a comment line does not, nor ends it
      if (cut < 0 && cur && opt) pending.get(opt)!.push('');
      return;
    }
    const m = NON_WS.exec(line);
    const lineIndent = m ? m.index : 0;
    if (cur && opt && lineIndent > indent) {
      pending.get(opt)!.push(value);
      return;
    }
    indent = lineIndent;
    const sect = SECTION_RE.exec(value);
    if (sect) {
      const name = sect[1];
      opt = undefined;
      curName = name;
      if (name === DEFAULT_SECTION) {
        cur = out.defaults;
        return;
      }
      const known = out.sections.get(name);
      if (known) {
        problem(lineno, `section [${name}] already defined in this file (line ${known.line})`);
        cur = known.options;
        return;
      }
      const s: IniSection = { name, line: lineno, options: new Map() };
      out.sections.set(name, s);
      cur = s.options;
      return;
    }
    if (!cur) {
      problem(lineno, `no [section] header before ${JSON.stringify(line)}`);
      return;
    }
    const o = OPTION_RE.exec(value);
    if (!o || !o[1]) {
      problem(lineno, `cannot parse ${JSON.stringify(line)}: expected "key = value"`);
      return;
    }
    const key = pyRstrip(o[1]).toLowerCase();
    const id = `${curName}\0${key}`;
    if (seen.has(id)) {
      problem(lineno, `option '${key}' in section [${curName}] already defined in this file (line ${cur.get(key)?.line})`);
      // keep reading the lines that continue the duplicate, but into a throw-away entry
      opt = { value: '', file, line: lineno };
      pending.set(opt, [pyStrip(o[3])]);
      return;
    }
    seen.add(id);
    opt = { value: '', file, line: lineno };
    pending.set(opt, [pyStrip(o[3])]);
    cur.set(key, opt);
  });
  for (const [entry, parts] of pending) entry.value = pyRstrip(parts.join('\n'));
  return out;
}

/** Reads and parses one file; undefined when it cannot be opened (Python skips such files). */
export function readIni(file: string): IniFile | undefined {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    return { file, defaults: new Map(), sections: new Map(), problems: [], skipped: 'not valid UTF-8: file ignored, as fail2ban does' };
  }
  return parseIni(text, file);
}
