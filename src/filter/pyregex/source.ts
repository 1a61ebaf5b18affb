// CPython's pattern tokenizer: one code point at a time, a backslash together with the character
// after it, positions in UTF-16 units (CPython counts code points).

import { PyRegexError } from './error';

/** Character source that, like CPython's tokenizer, yields `\` together with the next character. */
export class Source {
  next: string | null = null;
  private index = 0;

  constructor(readonly s: string) {
    this.advance();
  }

  private advance(): void {
    const s = this.s;
    let i = this.index;
    if (i >= s.length) {
      this.next = null;
      return;
    }
    let tok = String.fromCodePoint(s.codePointAt(i)!);
    i += tok.length;
    if (tok === '\\') {
      if (i >= s.length) throw new PyRegexError('bad escape (end of pattern)', s, s.length - 1);
      const c = String.fromCodePoint(s.codePointAt(i)!);
      tok += c;
      i += c.length;
    }
    this.index = i;
    this.next = tok;
  }

  match(tok: string): boolean {
    if (this.next !== tok) return false;
    this.advance();
    return true;
  }

  get(): string | null {
    const t = this.next;
    this.advance();
    return t;
  }

  getWhile(n: number, chars: string): string {
    let out = '';
    for (let k = 0; k < n; k++) {
      const c = this.next;
      if (c === null || c.length !== 1 || !chars.includes(c)) break;
      out += c;
      this.advance();
    }
    return out;
  }

  getUntil(terminator: string, what: string): string {
    let out = '';
    for (;;) {
      const c = this.next;
      this.advance();
      if (c === null) {
        if (!out) throw this.error('missing ' + what);
        throw this.error(`missing ${terminator}, unterminated name`, out.length);
      }
      if (c === terminator) {
        if (!out) throw this.error('missing ' + what, 1);
        return out;
      }
      out += c;
    }
  }

  tell(): number {
    return this.index - (this.next?.length ?? 0);
  }

  seek(i: number): void {
    this.index = i;
    this.advance();
  }

  /** whether the raw text at the current position matches a sticky (`y`) regex */
  lookingAt(sticky: RegExp): boolean {
    sticky.lastIndex = this.tell();
    return sticky.test(this.s);
  }

  error(msg: string, offset = 0): PyRegexError {
    return new PyRegexError(msg, this.s, this.tell() - offset);
  }
}
