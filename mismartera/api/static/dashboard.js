// The mismartera dashboard: the session's status and equity from the control API, live.
// The token comes in the URL fragment (#token=...), which browsers never send to the server; it is
// moved to sessionStorage at once and sent as the bearer header. No token, or a wrong one: a sign-in
// box and no data.
"use strict";

const TOKEN_KEY = "mismartera.token";
const RETRY_MS = 1500;
const $ = (id) => document.getElementById(id);

let token = null;
let streamAbort = null;
let equity = { runId: null, points: [] };   // [{t, equity, kind}]
let lastStatus = null;
let chosenRun = null;

// ---------------------------------------------------------------- token and requests
// True when the fragment brought a token (it replaces any stored one).
function takeTokenFromFragment() {
  const match = location.hash.match(/(?:^#|&)token=([^&]+)/);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search + "#live");
  }
  token = sessionStorage.getItem(TOKEN_KEY);
  return Boolean(match);
}

class Unauthorized extends Error {}

async function api(method, path) {
  const response = await fetch(path, { method, headers: { Authorization: "Bearer " + token }, cache: "no-store" });
  if (response.status === 401) throw new Unauthorized("the token was refused");
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || body.message || response.statusText);
  return body;
}

function signOut(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  token = null;
  if (streamAbort) streamAbort.abort();
  for (const id of ["live-view", "runs-view"]) $(id).hidden = true;
  $("connection").hidden = true;
  $("signin-why").textContent = why || "This dashboard needs the control API's token.";
  $("signin").hidden = false;
}

// ---------------------------------------------------------------- formatting
const money = (x) => (x === null || x === undefined) ? "—" :
  x.toLocaleString("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2 });
const num = (x, digits = 0) => (x === null || x === undefined) ? "—" :
  x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const pct = (x) => (x === null || x === undefined) ? "—" : num(x, 2) + "%";
const signed = (x) => (x > 0 ? "pos" : x < 0 ? "neg" : "");
const clockText = (iso) => iso ? iso.slice(0, 10) + " " + iso.slice(11, 19) + " ET" : "—";
const timeText = (iso) => iso ? iso.slice(0, 10) + " " + iso.slice(11, 16) : "—";

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// A table from columns [{label, get, cls}] and rows; `empty` when there are none.
function table(columns, rows, empty, onPick) {
  if (!rows.length) return el("div", { class: "none" }, empty);
  const wrap = el("div", { class: "scroll" });
  const t = el("table");
  const head = el("tr");
  for (const c of columns) head.appendChild(el("th", { class: c.num ? "num" : "" }, c.label));
  t.appendChild(el("thead")).appendChild(head);
  const body = t.appendChild(el("tbody"));
  for (const row of rows) {
    const tr = body.appendChild(el("tr", onPick ? { class: "pick" } : {}));
    for (const c of columns) {
      const cls = [c.num ? "num" : "", c.tone ? signed(c.tone(row)) : ""].join(" ").trim();
      tr.appendChild(el("td", cls ? { class: cls } : {}, c.get(row)));
    }
    if (onPick) tr.addEventListener("click", () => onPick(row, tr));
  }
  wrap.appendChild(t);
  return wrap;
}

function put(id, node) { const box = $(id); box.replaceChildren(node); }

// ---------------------------------------------------------------- the chart (plain SVG)
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function drawChart(id, points) {
  const box = $(id);
  const width = Math.max(box.clientWidth, 200), height = Math.max(box.clientHeight, 120);
  const pad = { left: 70, right: 12, top: 10, bottom: 22 };
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "equity curve" });
  if (points.length < 1) {
    const t = svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "empty" });
    t.textContent = "no equity points yet";
    root.appendChild(t);
    box.replaceChildren(root);
    return;
  }
  const ys = points.map((p) => p.equity);
  let low = Math.min(...ys), high = Math.max(...ys);
  if (high - low < 1e-9) { low -= 1; high += 1; }
  const margin = (high - low) * 0.08;
  low -= margin; high += margin;
  const w = width - pad.left - pad.right, h = height - pad.top - pad.bottom;
  const x = (i) => pad.left + (points.length === 1 ? w / 2 : (i / (points.length - 1)) * w);
  const y = (v) => pad.top + (1 - (v - low) / (high - low)) * h;
  for (let k = 0; k <= 3; k++) {
    const value = low + ((high - low) * k) / 3;
    root.appendChild(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value), class: "axis" }));
    const label = svg("text", { x: pad.left - 6, y: y(value) + 4, "text-anchor": "end" });
    label.textContent = num(value, 0);
    root.appendChild(label);
  }
  const path = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.equity).toFixed(1)}`).join("");
  root.appendChild(svg("path", { d: `${path}L${x(points.length - 1)},${pad.top + h}L${x(0)},${pad.top + h}Z`,
                                 class: "area" }));
  root.appendChild(svg("path", { d: path, class: "line" }));
  for (const [i, anchor] of [[0, "start"], [points.length - 1, "end"]]) {
    const label = svg("text", { x: x(i), y: height - 6, "text-anchor": points.length === 1 ? "middle" : anchor });
    label.textContent = points[i].t.replace("T", " ");
    root.appendChild(label);
  }
  box.replaceChildren(root);
}

// The live chart is redrawn at most once a second: a full-speed backtest completes tens of days a
// second, and redrawing the whole curve for each would take the browser's CPU from the session.
const CHART_MS = 1000;
let chartTimer = null, chartDrawnAt = 0;

function scheduleChart() {
  if (chartTimer) return;
  const wait = Math.max(0, chartDrawnAt + CHART_MS - Date.now());
  chartTimer = setTimeout(() => {
    chartTimer = null;
    chartDrawnAt = Date.now();
    if (!$("equity-chart").closest("[hidden]")) drawChart("equity-chart", liveCurve());
  }, wait);
}

function liveCurve() {
  const points = equity.points.slice();
  const s = lastStatus;
  if (s && s.account && s.run_id === equity.runId && s.clock && s.state !== "stopped") {
    points.push({ t: timeText(s.clock), equity: s.account.equity, kind: "now" });
  }
  return points;
}

// ---------------------------------------------------------------- the session view
function showStatus(s) {
  lastStatus = s;
  const state = $("state");
  state.textContent = s.state;
  state.className = "state " + s.state;
  $("session").textContent = s.session_name || "no session";
  $("mode").textContent = s.mode || "—";
  $("run").textContent = s.run_id ? "run " + s.run_id : "run —";
  $("clock").textContent = clockText(s.clock);
  $("day").textContent = s.days_total ? `${s.day || "—"} (${s.day_index} of ${s.days_total})` : "—";
  const account = s.account;
  $("equity").textContent = account ? money(account.equity) : "—";
  const pnl = account ? account.equity - account.initial_cash : null;
  $("pnl").textContent = account ? money(pnl) : "—";
  $("pnl").className = account ? signed(pnl) : "";
  $("rate").textContent = s.bars_per_second ? num(s.bars_per_second) : "—";
  $("progress-bar").style.width = ((s.progress || 0) * 100).toFixed(1) + "%";
  $("message").textContent = s.message || "";
  $("pause").disabled = s.state !== "running";
  $("resume").disabled = s.state !== "paused";
  $("stop").disabled = !["starting", "running", "paused", "failed"].includes(s.state);
  const error = $("error");
  error.hidden = !s.error;
  error.textContent = s.error ? `${s.error_worker || "session"} failed: ${s.error}` : "";

  const positions = account ? account.positions.filter((p) => p.quantity !== 0) : [];
  put("positions", table([
    { label: "Symbol", get: (p) => p.symbol },
    { label: "Qty", get: (p) => num(p.quantity, 2), num: true },
    { label: "Avg", get: (p) => money(p.average_price), num: true },
    { label: "Last", get: (p) => money(p.last_price), num: true },
    { label: "Unrealised", get: (p) => money(p.unrealized_pnl), num: true, tone: (p) => p.unrealized_pnl },
    { label: "Realised", get: (p) => money(p.realized_pnl), num: true, tone: (p) => p.realized_pnl },
  ], positions, "no open positions"));
  refreshOrders(s);
  put("fills", table([
    { label: "Time", get: (f) => timeText(f.filled_at) }, { label: "Symbol", get: (f) => f.symbol },
    { label: "Side", get: (f) => f.side }, { label: "Qty", get: (f) => num(f.quantity, 2), num: true },
    { label: "Price", get: (f) => money(f.price), num: true },
  ], (s.recent_fills || []).slice(-10).reverse(), "no fills yet"));
  const now = Date.now() / 1000;
  put("workers", table([
    { label: "Worker", get: (w) => w.name }, { label: "State", get: (w) => w.state },
    { label: "Heartbeat", get: (w) => `${Math.max(0, now - w.heartbeat).toFixed(1)} s ago`, num: true },
    { label: "Rate/s", get: (w) => num(w.rate), num: true },
    { label: "On", get: (w) => w.current || "" }, { label: "Error", get: (w) => w.last_error || "" },
  ], s.workers || [], "no workers (no session)"));
  scheduleChart();
}

// Open orders come from /account/orders (the snapshot's recent orders keep the status they were placed
// with): asked when the snapshot counts some and something moved, at most every ORDERS_MS (the
// session's thread lists its orders for it, so a fast backtest is not asked more often).
const ORDERS_MS = 5000;
let ordersKey = null, ordersAsked = 0, ordersTimer = null;

function refreshOrders(s) {
  const key = `${s.run_id}:${s.open_orders}:${(s.recent_fills || []).length}:${s.state}`;
  if (key === ordersKey) return;
  if (!s.run_id || !s.open_orders) {
    ordersKey = key;
    put("orders", el("div", { class: "none" }, s.run_id ? "no open orders" : "no session"));
    return;
  }
  // A backtest at full speed (speed 0) holds an order for one bar, microseconds: listing them would only
  // slow it down. They are listed while it is paused, paced or live.
  if (s.state === "running" && s.mode === "backtest" && s.extra && s.extra.speed === 0) {
    ordersKey = key;
    put("orders", el("div", { class: "none" }, `${s.open_orders} open order(s) (listed when paused)`));
    return;
  }
  const wait = ordersAsked + ORDERS_MS - Date.now();
  if (wait > 0) {
    if (!ordersTimer) ordersTimer = setTimeout(() => { ordersTimer = null; refreshOrders(lastStatus); }, wait);
    return;
  }
  ordersKey = key;
  ordersAsked = Date.now();
  api("GET", "/account/orders?status=open").then((orders) => {
    put("orders", table([
      { label: "Id", get: (o) => o.id }, { label: "Symbol", get: (o) => o.symbol },
      { label: "Side", get: (o) => o.side }, { label: "Qty", get: (o) => num(o.quantity, 2), num: true },
      { label: "Type", get: (o) => o.order_type },
      { label: "Limit/stop", get: (o) => money(o.limit_price ?? o.stop_price), num: true },
      { label: "Status", get: (o) => o.status },
    ], orders, "no open orders"));
  }).catch((error) => {
    ordersKey = null;
    if (error instanceof Unauthorized) signOut("The token was refused: sign in again.");
  });
}

function addEquity(message) {
  if (message.run_id !== equity.runId) equity = { runId: message.run_id, points: [] };
  equity.points.push(...message.points);
  scheduleChart();
}

// ---------------------------------------------------------------- the stream (server-sent events over fetch)
function connection(text) {
  const box = $("connection");
  box.hidden = !text;
  box.textContent = text || "";
}

async function readStream(signal) {
  const response = await fetch("/dashboard/events", { headers: { Authorization: "Bearer " + token }, signal,
                                                      cache: "no-store" });
  if (response.status === 401) throw new Unauthorized("the token was refused");
  if (!response.ok || !response.body) throw new Error("HTTP " + response.status);
  connection(null);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (!data) continue;
      const payload = JSON.parse(data);
      if (event === "status") showStatus(payload);
      else if (event === "equity") addEquity(payload);
    }
  }
}

async function follow() {
  if (streamAbort) streamAbort.abort();
  const controller = new AbortController();
  streamAbort = controller;
  while (!controller.signal.aborted && token) {
    try {
      await readStream(controller.signal);
      connection("disconnected from the session host: reconnecting…");
    } catch (error) {
      if (controller.signal.aborted) return;
      if (error instanceof Unauthorized) { signOut("The token was refused: sign in again."); return; }
      connection("disconnected from the session host: reconnecting…");
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

async function command(verb) {
  try {
    await api("POST", "/system/" + verb);
    $("message").textContent = verb + ": done";
  } catch (error) {
    if (error instanceof Unauthorized) signOut("The token was refused: sign in again.");
    else $("message").textContent = verb + ": " + error.message;
  }
}

// ---------------------------------------------------------------- runs and reports
async function showRuns() {
  try {
    const runs = await api("GET", "/system/runs?limit=50");
    put("runs-table", table([
      { label: "Run", get: (r) => r.id }, { label: "Session", get: (r) => r.session_name },
      { label: "State", get: (r) => r.state }, { label: "Window", get: (r) => r.window },
      { label: "Days", get: (r) => r.days }, { label: "Return", get: (r) => pct(r.total_return_pct), num: true,
                                                tone: (r) => r.total_return_pct },
      { label: "Trades", get: (r) => num(r.trades), num: true },
    ], runs, "no runs yet", (row) => showReport(row.id)));
    if (runs.length && chosenRun === null) await showReport(runs[0].id);
  } catch (error) {
    if (error instanceof Unauthorized) signOut("The token was refused: sign in again.");
    else put("runs-table", el("div", { class: "error" }, error.message));
  }
}

const METRICS = [
  ["initial_cash", "Initial cash", money], ["final_equity", "Final equity", money],
  ["total_return_pct", "Total return", pct], ["max_drawdown_pct", "Max drawdown", pct],
  ["sharpe", "Sharpe (daily, annualised)", (x) => num(x, 2)], ["trades", "Trades (round trips)", num],
  ["win_rate_pct", "Win rate", pct], ["exposure_pct", "Exposure", pct], ["total_commission", "Commission", money],
  ["bars_total", "Bars replayed", num], ["days", "Trading days", num],
];

async function showReport(runId) {
  chosenRun = runId;
  const [report, fills] = await Promise.all([api("GET", "/system/report?run=" + runId),
                                             api("GET", "/account/fills?run=" + runId)]);
  $("report").hidden = false;
  $("report-title").textContent = `Report of run ${report.run.id} (${report.run.session_name}, ${report.run.state})`;
  const metrics = $("report-metrics");
  metrics.replaceChildren();
  for (const [key, label, format] of METRICS) {
    if (!(key in report.summary)) continue;
    const cell = el("div", { id: "metric-" + key, "data-value": String(report.summary[key]) });
    cell.appendChild(el("label", {}, label));
    cell.appendChild(el("span", {}, format(report.summary[key])));
    metrics.appendChild(cell);
  }
  drawChart("report-chart", report.equity.map((d) => ({ t: d.day, equity: d.equity })));
  const perSymbol = Object.entries(report.summary.per_symbol_pnl || {}).sort();
  put("report-symbols", table([
    { label: "Symbol", get: (r) => r[0] }, { label: "P&L", get: (r) => money(r[1]), num: true, tone: (r) => r[1] },
  ], perSymbol, "no trades"));
  const rows = Array.isArray(fills) ? fills : (fills.fills || []);
  put("report-trades", table([
    { label: "Time", get: (f) => timeText(f.filled_at) }, { label: "Symbol", get: (f) => f.symbol },
    { label: "Side", get: (f) => f.side }, { label: "Qty", get: (f) => num(f.quantity, 2), num: true },
    { label: "Price", get: (f) => money(f.price), num: true },
  ], rows.slice(-200).reverse(), "no fills"));
}

// ---------------------------------------------------------------- views
function route() {
  if (!token) { signOut(); return; }
  $("signin").hidden = true;
  const view = location.hash === "#runs" ? "runs" : "live";
  // The views' ids differ from the fragments (#live, #runs): the browser must not scroll to them.
  $("live-view").hidden = view !== "live";
  $("runs-view").hidden = view !== "runs";
  $("nav-live").classList.toggle("active", view === "live");
  $("nav-runs").classList.toggle("active", view === "runs");
  if (view === "runs") showRuns();
  else if (lastStatus) drawChart("equity-chart", liveCurve());
}

function start() {
  takeTokenFromFragment();
  $("pause").addEventListener("click", () => command("pause"));
  $("resume").addEventListener("click", () => command("resume"));
  $("stop").addEventListener("click", () => {
    if (confirm("Stop the session? It ends between bars and cannot be resumed.")) command("stop");
  });
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("signin-token").value.trim());
    $("signin-token").value = "";
    token = sessionStorage.getItem(TOKEN_KEY);
    history.replaceState(null, "", location.pathname + "#live");
    route();
    follow();
  });
  window.addEventListener("hashchange", () => {
    const fresh = takeTokenFromFragment();
    route();
    if (fresh) follow();
  });
  // Leaving the page (or the browser keeping it in its back/forward cache) closes the stream, so no
  // connection to the host is left open; coming back opens it again.
  window.addEventListener("pagehide", () => { if (streamAbort) streamAbort.abort(); });
  window.addEventListener("pageshow", (event) => { if (event.persisted && token) follow(); });
  window.addEventListener("resize", () => {
    if (lastStatus) drawChart("equity-chart", liveCurve());
  });
  route();
  if (token) follow();
}

start();
