/** A Python pattern that CPython's `re` rejects, or that f2b-fast cannot translate to JS. */
export class PyRegexError extends Error {
  readonly pattern: string;
  /** UTF-16 index into the pattern, when the problem has a place */
  readonly position?: number;

  constructor(message: string, pattern: string, position?: number) {
    super(position === undefined ? message : `${message} at position ${position}`);
    this.name = 'PyRegexError';
    this.pattern = pattern;
    this.position = position;
  }
}
