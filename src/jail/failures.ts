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
  /** captured fields (user, ...) of the ticket's FIRST failure: fail2ban's FailManager keeps the
   *  first ticket's data and adds only the attempts and matches of the later ones */
  fields: Record<string, string>;
}

export class FailureCounter {
  private readonly tickets = new Map<string, FailTicket>();
  private total = 0;
  /** ids added, changed or removed since the last takeChanges() (for the state database) */
  private readonly dirty = new Set<string>();

  constructor(
    private findtime: number,
    private maxmatches: number,
  ) {}

  /** New findtime/maxmatches for the tickets to come (client `set`, reload). */
  configure(findtime: number, maxmatches: number): void {
    this.findtime = findtime;
    this.maxmatches = maxmatches;
  }

  /** Tickets read back from the state database at start; they do not count as new failures. */
  load(tickets: Iterable<FailTicket>): void {
    for (const t of tickets) this.tickets.set(t.id, { ...t, matches: [...t.matches], fields: { ...t.fields } });
  }

  /** What changed since the last call: tickets to write, ids to delete. */
  takeChanges(): { upserts: FailTicket[]; removed: string[] } {
    const upserts: FailTicket[] = [];
    const removed: string[] = [];
    for (const id of this.dirty) {
      const t = this.tickets.get(id);
      if (t) upserts.push(t);
      else removed.push(id);
    }
    this.dirty.clear();
    return { upserts, removed };
  }

  all(): FailTicket[] {
    return [...this.tickets.values()];
  }

  /**
   * Add one failure; returns the ticket with its attempts so far. `weight` > 1 is
   * bantime.increment's extra weight for an address banned before (src/jail/increment.ts
   * failureWeight): fail2ban adds the failure, then the extra attempts as a second failure.
   */
  add(id: string, time: number, matches: string[], fields: Record<string, string>, weight = 1): FailTicket {
    const extra = weight > 1 ? 1 : 0;
    this.total += 1 + extra;
    this.dirty.add(id);
    let t = this.tickets.get(id);
    if (!t) {
      t = { id, first: time, last: time, retry: weight, failures: 1 + extra, matches: [], fields };
      this.tickets.set(id, t);
    } else {
      if (time > t.last) {
        if (t.first < time - this.findtime) {
          t.retry = roundHalfEven((t.retry / (time - t.first)) * this.findtime);
          t.first = time - this.findtime;
        }
        t.last = time;
      }
      t.retry += weight;
      t.failures += 1 + extra;
    }
    if (this.maxmatches > 0) {
      for (let i = 0; i < matches.length; i++) t.matches.push(matches[i]);
      if (t.matches.length > this.maxmatches) t.matches.splice(0, t.matches.length - this.maxmatches);
    }
    return t;
  }

  /** Drop tickets whose last failure is at or before now - findtime. */
  cleanup(now: number): void {
    const limit = now - this.findtime;
    for (const [id, t] of this.tickets) {
      if (t.last <= limit) {
        this.tickets.delete(id);
        this.dirty.add(id);
      }
    }
  }

  remove(id: string): void {
    if (this.tickets.delete(id)) this.dirty.add(id);
  }

  /** Forget every ticket (reload --unban, jail stop). */
  clear(): void {
    for (const id of this.tickets.keys()) this.dirty.add(id);
    this.tickets.clear();
  }

  get current(): number {
    return this.tickets.size;
  }

  get totalFailed(): number {
    return this.total;
  }
}
