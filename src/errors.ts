// Errors in one place: every error f2b-fast reports to an operator comes from here, with a code
// an operator (or a test) can match and, for configuration, the file, line and jail.

export type ErrorCode =
  | 'CONFIG_SYNTAX'
  | 'CONFIG_VALUE'
  | 'CONFIG_MISSING'
  | 'CONFIG_INTERPOLATION'
  | 'FILTER_MISSING'
  | 'FILTER_REGEX'
  | 'LOGPATH_MISSING'
  | 'FIREWALL_UNAVAILABLE'
  | 'FIREWALL_COMMAND'
  | 'ACTION_COMMAND'
  | 'STATE_DB'
  | 'CONTROL'
  | 'JOURNAL'
  | 'USAGE';

export class F2bError extends Error {
  readonly code: ErrorCode;
  readonly file?: string;
  readonly line?: number;
  readonly jail?: string;

  constructor(code: ErrorCode, message: string, where: { file?: string; line?: number; jail?: string } = {}) {
    super(message);
    this.name = 'F2bError';
    this.code = code;
    this.file = where.file;
    this.line = where.line;
    this.jail = where.jail;
  }

  /** "file:line: [jail] message" - the form operators grep for */
  describe(): string {
    const loc = this.file ? `${this.file}${this.line ? `:${this.line}` : ''}: ` : '';
    const jail = this.jail ? `[${this.jail}] ` : '';
    return `${loc}${jail}${this.message}`;
  }
}

export const configError = (code: ErrorCode, message: string, where: { file?: string; line?: number; jail?: string } = {}) =>
  new F2bError(code, message, where);
