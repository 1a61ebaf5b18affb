// The dashboard: one page, no external assets, served at / by the HTTP listener (http.ts). It
// reads the JSON API every second or two (with the bearer token the operator types, kept in the
// browser's localStorage) and writes every value with textContent, never as HTML: addresses and
// jail names come from logs and configs.

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>f2b-fast</title>
<style>
  :root { --bg: #0f1419; --panel: #171d24; --line: #27303a; --text: #d8dee6; --dim: #8a96a3; --fail: #e0a030; --ban: #e05050; --ok: #50b070; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; align-items: center; gap: 16px; padding: 12px 20px; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0; }
  header .dim { color: var(--dim); }
  #state { margin-left: auto; }
  #state.bad { color: var(--ban); }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; padding: 16px 20px; }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; min-width: 0; }
  section h2 { font-size: 14px; margin: 0 0 8px; color: var(--dim); font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  th { color: var(--dim); font-weight: 500; }
  td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
  tr.ban td.kind { color: var(--ban); } tr.unban td.kind { color: var(--ok); }
  tr.new { animation: flash 2s ease-out; }
  @keyframes flash { from { background: #3a2a10; } to { background: transparent; } }
  button { background: #26303b; color: var(--text); border: 1px solid #3a4652; border-radius: 4px; padding: 2px 8px; cursor: pointer; }
  button:hover { background: #33404d; }
  input { background: #0c1015; color: var(--text); border: 1px solid #3a4652; border-radius: 4px; padding: 3px 6px; width: 220px; }
  svg text { fill: var(--dim); font-size: 10px; }
  .legend span { margin-right: 12px; } .legend .f { color: var(--fail); } .legend .b { color: var(--ban); }
  .wide { grid-column: 1 / -1; }
</style>
</head>
<body>
<header>
  <h1>f2b-fast</h1><span class="dim" id="version"></span>
  <label class="dim">token <input id="token" type="password" autocomplete="off" placeholder="bearer token, if set"></label>
  <span id="state" class="dim">connecting…</span>
</header>
<main>
  <section class="wide"><h2>Jails</h2>
    <table id="jails"><thead><tr><th>jail</th><th class="n">failing now</th><th class="n">failures</th><th class="n">banned now</th><th class="n">bans</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="wide"><h2>Last hour</h2>
    <div class="legend"><span class="f">■ failures</span><span class="b">■ bans</span><span class="dim" id="hourtotals"></span></div>
    <svg id="chart" width="100%" height="160" viewBox="0 0 720 160" preserveAspectRatio="none" role="img" aria-label="failures and bans per minute"></svg>
  </section>
  <section><h2>Latest events</h2>
    <table id="events"><thead><tr><th>time</th><th>event</th><th>jail</th><th>address</th><th></th></tr></thead><tbody></tbody></table>
  </section>
  <section><h2>Top offenders</h2>
    <table id="top"><thead><tr><th>address</th><th class="n">failures</th><th class="n">bans now</th></tr></thead><tbody></tbody></table>
    <h2 style="margin-top:12px">Top subnets</h2>
    <table id="subnets"><thead><tr><th>subnet</th><th class="n">failures</th><th class="n">bans now</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script>
"use strict";
const $ = (s) => document.querySelector(s);
const tokenBox = $("#token");
tokenBox.value = localStorage.getItem("f2b-fast-token") || "";
tokenBox.addEventListener("change", () => { localStorage.setItem("f2b-fast-token", tokenBox.value); refresh(); });
let lastSeq = 0, loaded = false;

async function api(path, init) {
  const headers = Object.assign({}, (init && init.headers) || {});
  if (tokenBox.value) headers.authorization = "Bearer " + tokenBox.value;
  const r = await fetch(path, Object.assign({}, init || {}, { headers, cache: "no-store" }));
  if (r.status === 401) throw new Error("the listener wants a token");
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || ("HTTP " + r.status));
  return body;
}
function cell(tr, text, cls) { const td = document.createElement("td"); td.textContent = String(text); if (cls) td.className = cls; tr.appendChild(td); return td; }
function fill(sel, rows, make) { const tb = $(sel + " tbody"); tb.replaceChildren(...rows.map(make)); }
function clock(t) { return new Date(t * 1000).toLocaleTimeString(); }
function setState(text, bad) { const s = $("#state"); s.textContent = text; s.className = bad ? "bad" : "dim"; }

async function refreshStatus() {
  const st = await api("/api/status");
  $("#version").textContent = "v" + st.version + (st.fleet ? " · fleet " + (st.fleet.connected ? "connected" : "not connected") + " as " + st.fleet.host : "");
  fill("#jails", st.jails, (j) => { const tr = document.createElement("tr"); tr.dataset.jail = j.name; cell(tr, j.name); cell(tr, j.currentlyFailed, "n"); cell(tr, j.totalFailed, "n"); cell(tr, j.currentlyBanned, "n"); cell(tr, j.totalBanned, "n"); return tr; });
}
async function refreshHistory() {
  const h = await api("/api/history");
  const svg = $("#chart"); const W = 720, H = 140, n = h.length, bw = W / n;
  const max = Math.max(1, ...h.map((m) => Math.max(m.failures, m.bans)));
  const ns = "http://www.w3.org/2000/svg"; const parts = [];
  h.forEach((m, i) => {
    for (const [v, color, off] of [[m.failures, "var(--fail)", 0], [m.bans, "var(--ban)", bw / 2]]) {
      if (!v) continue;
      const r = document.createElementNS(ns, "rect"); const hh = Math.max(1, (v / max) * H);
      r.setAttribute("x", String(i * bw + off)); r.setAttribute("y", String(H - hh)); r.setAttribute("width", String(Math.max(1, bw / 2 - 1))); r.setAttribute("height", String(hh)); r.setAttribute("fill", color);
      const t = document.createElementNS(ns, "title"); t.textContent = clock(m.start) + ": " + (off ? v + " bans" : v + " failures"); r.appendChild(t); parts.push(r);
    }
  });
  for (const [i, label] of [[0, "-60 min"], [n - 15, "-15 min"], [n - 1, "now"]]) { const t = document.createElementNS(ns, "text"); t.setAttribute("x", String(Math.min(W - 30, i * bw))); t.setAttribute("y", "155"); t.textContent = label; parts.push(t); }
  svg.replaceChildren(...parts);
  const f = h.reduce((a, m) => a + m.failures, 0), b = h.reduce((a, m) => a + m.bans, 0);
  $("#hourtotals").textContent = f + " failures, " + b + " bans in the last hour";
}
async function refreshEvents() {
  const evs = await api("/api/events?since=" + lastSeq);
  const tb = $("#events tbody");
  for (const e of evs) {
    lastSeq = Math.max(lastSeq, e.seq);
    const tr = document.createElement("tr"); tr.className = e.kind + (loaded ? " new" : ""); tr.dataset.ip = e.ip; tr.dataset.kind = e.kind;
    cell(tr, clock(e.time)); cell(tr, e.kind + (e.detail ? " (" + e.detail + ")" : ""), "kind"); cell(tr, e.jail); cell(tr, e.ip);
    const td = cell(tr, "");
    if (e.kind === "ban") {
      const btn = document.createElement("button"); btn.textContent = "unban"; btn.dataset.ip = e.ip; btn.dataset.jail = e.jail;
      btn.addEventListener("click", async () => {
        try { await api("/api/unban", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ip: e.ip, jail: e.jail }) }); btn.disabled = true; btn.textContent = "lifted"; refresh(); }
        catch (err) { setState("unban failed: " + err.message, true); }
      });
      td.appendChild(btn);
    }
    tb.prepend(tr);
  }
  while (tb.children.length > 200) tb.lastChild.remove();
  loaded = true;
}
async function refreshTop() {
  const top = await api("/api/top");
  const row = (r) => { const tr = document.createElement("tr"); cell(tr, r.key); cell(tr, r.failures, "n"); cell(tr, r.banned, "n"); return tr; };
  fill("#top", top.addresses, row); fill("#subnets", top.subnets, row);
}
let busy = false, tick = 0;
async function refresh() {
  if (busy) return; busy = true;
  try {
    await refreshEvents();
    if (tick % 2 === 0) await refreshStatus();
    if (tick % 5 === 0) { await refreshHistory(); await refreshTop(); }
    setState("live · updated " + new Date().toLocaleTimeString(), false);
  } catch (err) { setState(err.message, true); }
  finally { busy = false; tick++; }
}
refresh(); setInterval(refresh, 1000);
</script>
</body>
</html>
`;

export function dashboardPage(): string {
  return PAGE;
}
