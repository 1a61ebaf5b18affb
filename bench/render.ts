// How the suite shows its results: a text table for the terminal, the same in Markdown for
// docs/benchmarks.md, and an SVG chart of the scan and latency figures. Pure functions of the
// ScenarioReports (bench/report.ts), so that test/bench-render.test.ts can check them.

import type { Row, ScenarioReport } from './report';

/**
 * Figures that follow from a scan report's rows: MB/s (from lines/s and the log's size) and the
 * ratios the design budget is stated in (f2b-fast's speed-up over fail2ban-regex, its time over
 * grep's), from median wall times. Other reports are returned as they are.
 */
export function withDerived(r: ScenarioReport): ScenarioReport {
  if (r.scenario !== 'scan') return r;
  const raw = (r.raw ?? {}) as { results?: { kind: string; lines: number; bytes: number }[] };
  const rows: Row[] = [];
  const find = (tool: string, metric: string) => r.rows.find((x) => x.tool === tool && x.metric === metric && x.median !== null);
  for (const k of raw.results ?? []) {
    for (const x of r.rows.filter((y) => y.metric === `${k.kind}: lines/s`)) {
      const f = (v: number | null) => (v === null ? null : (v * k.bytes) / k.lines / 1e6);
      rows.push({ ...x, metric: `${k.kind}: MB/s`, unit: 'MB/s', median: f(x.median), min: f(x.min), max: f(x.max) });
    }
    const fast = find('f2b-fast summary', `${k.kind}: wall`);
    const f2b = find('fail2ban-regex summary', `${k.kind}: wall`);
    const grep = find('grep -cE', `${k.kind}: wall`);
    const ratio = (metric: string, v: number, better: Row['better'], note: string): Row => ({ tool: 'f2b-fast summary', metric: `${k.kind}: ${metric}`, unit: 'x', median: v, min: null, max: null, runs: fast!.runs, better, note });
    if (fast && f2b) rows.push(ratio('speed-up over fail2ban-regex', f2b.median! / fast.median!, 'higher', 'median wall times; design budget >= 100x'));
    if (fast && grep) rows.push(ratio('time over grep -cE', fast.median! / grep.median!, 'lower', 'median wall times; design budget <= 4x'));
  }
  return { ...r, rows: [...r.rows, ...rows] };
}

/** A number as people read it: 3 significant digits, thousands grouped. */
export function fmtNum(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return '-';
  const a = Math.abs(n);
  if (a >= 1000) return Math.round(n).toLocaleString('en-US');
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toPrecision(2);
}

function spread(r: Row): string {
  if (r.runs < 2 || r.min === null || r.max === null) return '';
  return `${fmtNum(r.min)}–${fmtNum(r.max)}`;
}

/** The median with its unit, "≥" in front when it is a lower bound. */
function figure(r: Row): string {
  return `${r.atLeast ? '≥ ' : ''}${fmtNum(r.median)} ${r.unit}`;
}

function cells(s: ScenarioReport, r: Row): string[] {
  return [s.scenario, r.metric, r.tool, figure(r), spread(r), String(r.runs), r.note ?? ''];
}

const HEAD = ['scenario', 'metric', 'tool', 'median', 'min–max', 'runs', 'note'];

/** The terminal table: every row of every scenario, then each check and each missing rival. */
export function textTable(reports: ScenarioReport[]): string {
  const body = reports.flatMap((s) => s.rows.map((r) => cells(s, r)));
  const widths = HEAD.map((h, i) => Math.max(h.length, ...body.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i === 3 ? x.padStart(widths[i]) : x.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [line(HEAD), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line), ''];
  for (const s of reports) {
    out.push(`${s.scenario}: check ${s.check.ok ? 'OK' : 'FAILED'}: ${s.check.detail}`);
    for (const m of s.missing) out.push(`${s.scenario}: ${m.tool} not run: ${m.reason}`);
  }
  return `${out.join('\n')}\n`;
}

const mdCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The same in Markdown: one table per scenario, its title, check and missing rivals. */
export function markdown(reports: ScenarioReport[]): string {
  const out: string[] = [];
  for (const s of reports) {
    out.push(`### ${s.scenario}`, '', mdCell(s.title), '');
    out.push('| metric | tool | median | min–max | runs | note |', '|---|---|--:|---|--:|---|');
    for (const r of s.rows) out.push(`| ${mdCell(r.metric)} | ${mdCell(r.tool)} | ${figure(r)} | ${spread(r)} | ${r.runs} | ${mdCell(r.note ?? '')} |`);
    out.push('', `Check: **${s.check.ok ? 'OK' : 'FAILED'}**. ${mdCell(s.check.detail)}`);
    for (const m of s.missing) out.push('', `Not run: ${mdCell(m.tool)}: ${mdCell(m.reason)}`);
    out.push('');
  }
  return out.join('\n');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Bar {
  label: string;
  value: number;
  text: string;
}

interface Panel {
  title: string;
  /** what the bar lengths mean */
  axis: string;
  bars: Bar[];
  log: boolean;
}

/** Bars of one metric per tool (only the rows with a figure). */
function barsOf(rows: Row[], metric: string, unit: string): Bar[] {
  return rows
    .filter((r) => r.metric === metric && r.median !== null && r.median > 0)
    .map((r) => ({ label: r.tool, value: r.median!, text: `${r.atLeast ? '≥ ' : ''}${fmtNum(r.median)} ${unit}${r.atLeast ? ' (did not keep up)' : ''}` }));
}

/** The chart's panels: scan throughput per kind of log, and live latency. */
export function chartPanels(reports: ScenarioReport[]): Panel[] {
  const panels: Panel[] = [];
  const scan = reports.find((s) => s.scenario === 'scan');
  if (scan) {
    const kinds = [...new Set(scan.rows.filter((r) => r.metric.endsWith(': lines/s')).map((r) => r.metric.split(':')[0]))];
    for (const k of kinds) {
      const bars = barsOf(scan.rows, `${k}: lines/s`, 'lines/s');
      if (bars.length) panels.push({ title: `scan, ${k} log: lines per second (higher is better)`, axis: 'lines/s, log scale', bars, log: true });
    }
  }
  const lat = reports.find((s) => s.scenario === 'latency');
  if (lat) {
    for (const metric of ['p50 latency', 'p99 latency']) {
      const bars = barsOf(lat.rows, metric, 'ms');
      if (bars.length) panels.push({ title: `live latency, ${metric.split(' ')[0]}: crossing line written → address in the kernel set (lower is better)`, axis: 'ms, log scale', bars, log: true });
    }
  }
  return panels;
}

/** A self-contained SVG (no fonts or scripts fetched) of the panels; null when there is none. */
export function svgChart(reports: ScenarioReport[], caption: string): string | null {
  const panels = chartPanels(reports);
  if (!panels.length) return null;
  const W = 760;
  const labelW = 220;
  const barMax = W - labelW - 130;
  const rowH = 22;
  let y = 30;
  const parts: string[] = [];
  for (const p of panels) {
    parts.push(`<text x="10" y="${y}" class="t">${esc(p.title)}</text>`);
    y += 10;
    // log scale from a decade below the smallest bar, so the smallest still shows
    const lo = p.log ? Math.pow(10, Math.floor(Math.log10(Math.min(...p.bars.map((b) => b.value)))) - 1) : 0;
    const hi = Math.max(...p.bars.map((b) => b.value));
    const scale = (v: number) => (p.log ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo) || 1) : v / hi);
    for (const b of p.bars) {
      const w = Math.max(2, Math.round(scale(b.value) * barMax));
      const mine = b.label.startsWith('f2b-fast');
      parts.push(
        `<text x="${labelW - 8}" y="${y + 15}" class="l">${esc(b.label)}</text>` +
          `<rect x="${labelW}" y="${y + 3}" width="${w}" height="${rowH - 6}" class="${mine ? 'm' : 'o'}"><title>${esc(`${b.label}: ${b.text}`)}</title></rect>` +
          `<text x="${labelW + w + 6}" y="${y + 15}" class="v">${esc(b.text)}</text>`,
      );
      y += rowH;
    }
    parts.push(`<text x="${labelW}" y="${y + 12}" class="a">${esc(p.axis)}</text>`);
    y += 34;
  }
  parts.push(`<text x="10" y="${y}" class="a">${esc(caption)}</text>`);
  const H = y + 12;
  const style =
    'text{font-family:sans-serif;font-size:12px;fill:#222}.t{font-weight:bold;font-size:13px}.l{text-anchor:end}.a{fill:#666;font-size:11px}.m{fill:#2b7bb9}.o{fill:#b0b0b0}';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img"><style>${style}</style><rect width="100%" height="100%" fill="#fff"/>${parts.join('')}</svg>\n`;
}
