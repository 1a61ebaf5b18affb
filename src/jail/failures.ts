// Failure accounting per jail, with fail2ban's rules (../shared/fail2ban-reference.md §5):
// the findtime window is a rescaled estimate, not an exact sliding window, and a ticket's time is
// its LAST failure.

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface FailTicket {
  id: string;
  /** time of the first failure in the (rescaled) window */
  first: number;
  /** time of the last failure */
  last: number;
  /** attempts counted toward maxretry */
  retry: number;
  /** every failure ever added to this ticket */
  failures: number;
  /** the last maxmatches matched lines */
  matches: string[];
  /** captured fields of the latest failure (user, ...) */
  fields: Record<string, string>;
}

export class FailureCounter {
  private readonly tickets = new Map<string, FailTicket>();
  private total = 0;

  constructor(
    private findtime: number,
    private maxmatches: number,
  ) {}

  /** Add one failure; returns the ticket with its attempts so far. */
  add(id: string, time: number, matches: string[], fields: Record<string, string>): FailTicket {
    this.total++;
    let t = this.tickets.get(id);
    if (!t) {
      t = { id, first: time, last: time, retry: 1, failures: 1, matches: [], fields };
      this.tickets.set(id, t);
    } else {
      if (time > t.last) {
        if (t.first < time - this.findtime) {
          t.retry = roundHalfEven((t.retry / (time - t.first)) * this.findtime);
          t.first = time - this.findtime;
        }
        t.last = time;
      }
      t.retry++;
      t.failures++;
      t.fields = { ...t.fields, ...fields };
    }
    if (this.maxmatches > 0) {
      t.matches.push(...matches);
      if (t.matches.length > this.maxmatches) t.matches.splice(0, t.matches.length - this.maxmatches);
    }
    return t;
  }

  /** Drop tickets whose last failure is at or before now - findtime. */
  cleanup(now: number): void {
    const limit = now - this.findtime;
    for (const [id, t] of this.tickets) if (t.last <= limit) this.tickets.delete(id);
  }

  remove(id: string): void {
    this.tickets.delete(id);
  }

  get current(): number {
    return this.tickets.size;
  }

  get totalFailed(): number {
    return this.total;
  }
}
