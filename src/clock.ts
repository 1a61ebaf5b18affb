// The one clock every time-dependent decision reads (findtime, bantime, unban schedule, year
// inference). Tests inject a ManualClock and never sleep.

export interface Clock {
  /** epoch seconds (fractional) */
  now(): number;
}

export const systemClock: Clock = {
  now: () => Date.now() / 1000,
};

export class ManualClock implements Clock {
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  set(t: number): void {
    this.t = t;
  }
  advance(seconds: number): void {
    this.t += seconds;
  }
}
