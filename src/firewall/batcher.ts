// Firewall batcher: every block and release issued during one tick becomes ONE backend update
// (one `nft -f -`), and updates never overlap. 10,000 bans at once are one command, not 10,000
// processes as in fail2ban.

import { F2bError } from '../errors';
import type { FirewallChanges, FirewallEntry } from '../types';
import type { FirewallBackend } from './backend';
import { parseBanTarget } from './address';

export interface FirewallBatcherOptions {
  /** how long to collect changes before an update; default 0: until the event loop turns (setImmediate) */
  tickMs?: number;
  /** called with every error and the changes it concerns; errors are logged as well */
  onError?(e: Error, changes: FirewallChanges): void;
  /** where errors are logged; default console.error */
  log?: (msg: string) => void;
  /** called after each update the backend took: how many changes and how long it ran */
  onApplied?(info: { blocks: number; releases: number; ms: number }): void;
}

export class FirewallBatcher {
  /** jail -> canonical address -> its last change this tick (Map order = order of last change);
   *  per jail, so that 100,000 changes need no jail+address key strings */
  private pending = new Map<string, Map<string, { block: boolean; entry: FirewallEntry }>>();
  private pendingCount = 0;
  private timer: { cancel(): void } | null = null;
  /** the running drain loop: at most one update in flight */
  private loop: Promise<void> | null = null;
  private closed = false;
  private readonly tickMs: number;
  private readonly log: (msg: string) => void;

  constructor(
    private readonly backend: FirewallBackend,
    private readonly opts: FirewallBatcherOptions = {},
  ) {
    this.tickMs = opts.tickMs ?? 0;
    this.log = opts.log ?? ((msg) => console.error(msg));
  }

  block(e: FirewallEntry): void {
    this.put(true, e);
  }

  release(e: FirewallEntry): void {
    this.put(false, e);
  }

  /** Applies everything issued so far, without waiting for the tick; never rejects. */
  async flushNow(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    await this.drain();
  }

  /** Resolves once nothing is pending or being applied (at once when idle); never rejects. */
  async idle(): Promise<void> {
    while (this.loop || this.pendingCount) await (this.loop ?? this.flushNow());
  }

  /** Applies what is pending, then closes the backend (which removes its rules); never rejects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushNow();
    try {
      await this.backend.close();
    } catch (e) {
      this.report(e, { block: [], release: [] });
    }
  }

  private put(block: boolean, e: FirewallEntry): void {
    if (this.closed) {
      const what = `${block ? 'block' : 'release'} of ${e.ip} in ${e.jail}`;
      this.report(new F2bError('FIREWALL_COMMAND', `firewall is closed: ${what} not applied`, { jail: e.jail }), {
        block: block ? [e] : [],
        release: block ? [] : [e],
      });
      return;
    }
    // a block and a release of one address in one tick: the later one wins
    const key = parseBanTarget(e.ip)?.text ?? e.ip;
    let jail = this.pending.get(e.jail);
    if (!jail) this.pending.set(e.jail, (jail = new Map()));
    if (!jail.delete(key)) this.pendingCount++;
    jail.set(key, { block, entry: { jail: e.jail, ip: e.ip, timeout: e.timeout } });
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.loop) return; // a running loop picks up what comes meanwhile
    const fire = () => {
      this.timer = null;
      void this.drain();
    };
    if (this.tickMs > 0) {
      const t = setTimeout(fire, this.tickMs);
      this.timer = { cancel: () => clearTimeout(t) };
    } else {
      const t = setImmediate(fire);
      this.timer = { cancel: () => clearImmediate(t) };
    }
  }

  private drain(): Promise<void> {
    if (!this.loop) {
      this.loop = (async () => {
        while (this.pendingCount) {
          // pending is keyed by jail and canonical address: each is there once
          const changes: FirewallChanges = { block: [], release: [], unique: true };
          for (const jail of this.pending.values()) for (const { block, entry } of jail.values()) (block ? changes.block : changes.release).push(entry);
          this.pending.clear();
          this.pendingCount = 0;
          try {
            const t0 = performance.now();
            await this.backend.update(changes);
            this.opts.onApplied?.({ blocks: changes.block.length, releases: changes.release.length, ms: performance.now() - t0 });
          } catch (e) {
            this.report(e, changes);
          }
        }
      })().finally(() => {
        this.loop = null;
        if (this.pendingCount) this.schedule();
      });
    }
    return this.loop;
  }

  private report(e: unknown, changes: FirewallChanges): void {
    const err = e instanceof Error ? e : new Error(String(e));
    const text = err instanceof F2bError ? err.describe() : err.message;
    this.log(`firewall: ${text} (batch of ${changes.block.length} blocks, ${changes.release.length} releases)`);
    try {
      this.opts.onError?.(err, changes);
    } catch (e2) {
      this.log(`firewall: the onError handler threw: ${(e2 as Error).message}`);
    }
  }
}
