// What the daemon counts for Prometheus (prom-client, loaded only when [metrics] is set). The
// daemon calls the small methods below at the places things happen; gauges that describe state
// (bans now, failing addresses, tailer lag, fleet) are read from `sources` at each scrape.
//
// Metric names (all prefixed f2b_fast_):
//   lines_read_total{file}             lines read from the file
//   lines_prefiltered_total{file}      of those, lines the native prefilter dropped (no jail can match)
//   failures_total{jail}               failures counted (fleet failures included, source label)
//   bans_total{jail,source}            bans made: source = local | fleet
//   unbans_total{jail,reason}          bans lifted: reason = expired | manual | stop
//   banned{jail}                       addresses banned now
//   failing{jail}                      addresses with failures counting now
//   firewall_batch_size                elements per firewall update (histogram)
//   firewall_batch_seconds             time of one firewall update (histogram)
//   ban_latency_seconds                from the batch holding the crossing line being read to the
//                                      ban being decided (histogram; local bans from logs only)
//   worker_queue_depth                 log batches in the matcher threads or waiting for them
//   tailer_lag_bytes{file}             bytes of the file not read yet
//   fleet_connected, fleet_queued, fleet_lag_seconds, fleet_events_published_total,
//   fleet_events_received_total        fleet mode's link (when on)
// plus prom-client's default metrics, prefixed too: f2b_fast_process_* (CPU, memory, file
// descriptors) and f2b_fast_nodejs_* (event loop lag, heap, GC).

import type * as Prom from 'prom-client';
import type { FleetStatus } from '../fleet/link';

export interface MetricSources {
  /** per jail: banned now, failing now */
  jails(): { name: string; banned: number; failing: number }[];
  /** per file: its path and the bytes left to read */
  lag(): { file: string; bytes: number }[];
  /** log batches in flight */
  queueDepth(): number;
  fleet(): Promise<FleetStatus | null>;
}

export class Metrics {
  readonly registry: Prom.Registry;
  private readonly linesRead: Prom.Counter<'file'>;
  private readonly linesDropped: Prom.Counter<'file'>;
  private readonly failures: Prom.Counter<'jail' | 'source'>;
  private readonly bans: Prom.Counter<'jail' | 'source'>;
  private readonly unbans: Prom.Counter<'jail' | 'reason'>;
  private readonly batchSize: Prom.Histogram;
  private readonly batchSeconds: Prom.Histogram;
  private readonly banLatency: Prom.Histogram;

  private constructor(prom: typeof Prom, sources: MetricSources) {
    const registry = new prom.Registry();
    this.registry = registry;
    const p = 'f2b_fast_';
    prom.collectDefaultMetrics({ register: registry, prefix: p });
    this.linesRead = new prom.Counter({ name: `${p}lines_read_total`, help: 'Lines read from the log file', labelNames: ['file'], registers: [registry] });
    this.linesDropped = new prom.Counter({ name: `${p}lines_prefiltered_total`, help: 'Lines the native prefilter dropped (no jail can match them)', labelNames: ['file'], registers: [registry] });
    this.failures = new prom.Counter({ name: `${p}failures_total`, help: 'Failures counted by the jail', labelNames: ['jail', 'source'], registers: [registry] });
    this.bans = new prom.Counter({ name: `${p}bans_total`, help: 'Bans made by the jail (source: local or fleet)', labelNames: ['jail', 'source'], registers: [registry] });
    this.unbans = new prom.Counter({ name: `${p}unbans_total`, help: 'Bans lifted (reason: expired, manual, stop)', labelNames: ['jail', 'reason'], registers: [registry] });
    this.batchSize = new prom.Histogram({ name: `${p}firewall_batch_size`, help: 'Addresses added or removed per firewall update', buckets: [1, 10, 100, 1000, 10000, 100000], registers: [registry] });
    this.batchSeconds = new prom.Histogram({ name: `${p}firewall_batch_seconds`, help: 'Time of one firewall update', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry] });
    this.banLatency = new prom.Histogram({ name: `${p}ban_latency_seconds`, help: 'From reading the batch with the crossing line to the ban decision', buckets: [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5], registers: [registry] });
    const jailGauge = (name: string, help: string, value: (j: ReturnType<MetricSources['jails']>[number]) => number) =>
      new prom.Gauge({
        name: `${p}${name}`,
        help,
        labelNames: ['jail'],
        registers: [registry],
        collect() {
          this.reset();
          for (const j of sources.jails()) this.set({ jail: j.name }, value(j));
        },
      });
    jailGauge('banned', 'Addresses banned now', (j) => j.banned);
    jailGauge('failing', 'Addresses whose failures count now', (j) => j.failing);
    new prom.Gauge({
      name: `${p}tailer_lag_bytes`,
      help: 'Bytes of the log file not read yet',
      labelNames: ['file'],
      registers: [registry],
      collect() {
        this.reset();
        for (const l of sources.lag()) this.set({ file: l.file }, l.bytes);
      },
    });
    new prom.Gauge({
      name: `${p}worker_queue_depth`,
      help: 'Log batches in the matcher threads or waiting for them',
      registers: [registry],
      collect() {
        this.set(sources.queueDepth());
      },
    });
    // the fleet gauges are read together, once per scrape
    let fleet: Promise<FleetStatus | null> | undefined;
    const fleetNow = () => (fleet ??= sources.fleet().finally(() => setImmediate(() => (fleet = undefined))));
    const fleetGauge = (name: string, help: string, value: (s: FleetStatus) => number | undefined) =>
      new prom.Gauge({
        name: `${p}${name}`,
        help,
        registers: [registry],
        async collect() {
          const s = await fleetNow();
          const v = s ? value(s) : undefined;
          if (v === undefined) this.reset();
          else this.set(v);
        },
      });
    fleetGauge('fleet_connected', 'Fleet mode: 1 when connected to Redis', (s) => (s.connected ? 1 : 0));
    fleetGauge('fleet_queued', 'Fleet mode: events waiting for Redis', (s) => s.queued);
    fleetGauge('fleet_lag_seconds', 'Fleet mode: from the origin queuing the last event received to its arrival', (s) => s.lag);
    fleetGauge('fleet_events_published_total', 'Fleet mode: events sent', (s) => s.published);
    fleetGauge('fleet_events_received_total', 'Fleet mode: events received from other hosts', (s) => s.received);
  }

  /** prom-client is loaded here, so a daemon without [metrics] never loads it. */
  static async create(sources: MetricSources): Promise<Metrics> {
    const prom = await import('prom-client');
    return new Metrics(prom, sources);
  }

  linesOf(file: string, read: number, passed: number): void {
    this.linesRead.inc({ file }, read);
    if (read > passed) this.linesDropped.inc({ file }, read - passed);
  }

  failure(jail: string, source: 'local' | 'fleet'): void {
    this.failures.inc({ jail, source });
  }

  ban(jail: string, source: 'local' | 'fleet', latencySeconds?: number): void {
    this.bans.inc({ jail, source });
    if (latencySeconds !== undefined) this.banLatency.observe(latencySeconds);
  }

  unban(jail: string, reason: string): void {
    this.unbans.inc({ jail, reason });
  }

  firewallUpdate(elements: number, ms: number): void {
    this.batchSize.observe(elements);
    this.batchSeconds.observe(ms / 1000);
  }

  async text(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
