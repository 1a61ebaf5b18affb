// The parsed form of a Python `re` pattern. Inline flags are resolved by the parser and stored on
// the nodes they change, so a scoped (?i:...) or (?s:...) leaves no node of its own. `pos` is a
// UTF-16 index into the pattern, for error messages.

export type Cat = 'd' | 'D' | 'w' | 'W' | 's' | 'S';

export type ClassItem =
  | { t: 'range'; lo: number; hi: number } // a single character has lo === hi
  | { t: 'cat'; cat: Cat };

export type AtKind =
  | 'bol' // ^
  | 'eol' // $
  | 'A' // \A
  | 'Z' // \Z
  | 'b' // \b
  | 'B'; // \B

export type Node =
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; alts: Node[] }
  /** literal code point; i = IGNORECASE, a = ASCII (which narrows IGNORECASE) */
  | { t: 'char'; cp: number; i: boolean; a: boolean }
  | { t: 'class'; neg: boolean; items: ClassItem[]; i: boolean; a: boolean }
  | { t: 'cat'; cat: Cat; a: boolean }
  /** `.`; s = DOTALL */
  | { t: 'any'; s: boolean }
  /** m = MULTILINE (for ^ $), a = ASCII (for \b \B) */
  | { t: 'at'; at: AtKind; m: boolean; a: boolean }
  /** capturing group, Python number `index` (from 1) */
  | { t: 'group'; index: number; name?: string; body: Node; pos: number }
  | { t: 'look'; behind: boolean; neg: boolean; body: Node; pos: number }
  | { t: 'atomic'; body: Node; pos: number }
  /** max is Infinity when unbounded */
  | { t: 'repeat'; body: Node; min: number; max: number; lazy: boolean; possessive: boolean; pos: number }
  | { t: 'backref'; group: number; i: boolean; pos: number }
  /** (?(group)yes|no); no is null when absent */
  | { t: 'cond'; group: number; yes: Node; no: Node | null; pos: number };

export interface ParsedPattern {
  root: Node;
  /** number of capturing groups */
  groupCount: number;
  /** Python group name per group number (index 0 unused) */
  nameOf: Array<string | undefined>;
  /** some nodes have ignorecase set and others not */
  mixedIgnoreCase: boolean;
}

export const EMPTY: Node = { t: 'seq', items: [] };
