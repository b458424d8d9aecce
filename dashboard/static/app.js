// The dashboard's pages: fetch each chart's rows from /api and draw them with ECharts.
"use strict";

const state = { meta: null, timer: null, charts: [], narrow: undefined, drawing: 0, resized: null };
const SETTLE_MS = 200;  // a resize counts once the window has kept its size this long
const $ = (sel) => document.querySelector(sel);
const WIDE = new Set(["table", "sankey"]);

async function api(path, options) {
  const response = await fetch(path, options);
  if (response.status === 401) { showLogin(); throw new Error("sign in"); }
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || response.statusText);
  return body;
}

function showLogin(message) {
  $("#login").hidden = false;
  $("#filters").hidden = true;
  $("#cards").innerHTML = "";
  $("#login-error").textContent = message || "";
}

function filters() {
  const form = $("#filters");
  const values = { site: form.site.value, segment: form.segment.value || "*" };
  const period = form.period.value;
  form.classList.toggle("custom-period", period === "custom");
  if (period === "custom") {
    if (form.from.value) values.from = form.from.value + " 00:00:00";
    if (form.to.value) values.to = form.to.value + " 23:59:59.999";
  } else if (period !== "all") {
    const since = new Date(Date.now() - Number(period) * 86400000);
    values.from = since.toISOString().slice(0, 19).replace("T", " ");
  }
  return values;
}

function query(extra) {
  return new URLSearchParams({ ...filters(), ...(extra || {}) }).toString();
}

function fillSegments() {
  const site = state.meta.sites.find((s) => s.site_id === $("#filters").site.value);
  const select = $("#filters").segment;
  const chosen = select.value;
  select.innerHTML = '<option value="*">everyone</option>';
  for (const name of (site && site.segments) || []) select.add(new Option(name, name));
  select.value = [...select.options].some((o) => o.value === chosen) ? chosen : "*";
}

async function start() {
  try {
    state.meta = await api("/api/meta");
  } catch (error) {
    if (error.message !== "sign in") $("#status").textContent = error.message;
    return;
  }
  $("#login").hidden = true;
  state.narrow = narrow();
  const form = $("#filters");
  form.hidden = false;
  form.site.innerHTML = "";
  for (const site of state.meta.sites) form.site.add(new Option(site.site_id, site.site_id));
  const params = new URLSearchParams(location.search);
  if (params.get("site")) form.site.value = params.get("site");
  if (params.get("period")) form.period.value = params.get("period");
  fillSegments();
  if (params.get("segment")) form.segment.value = params.get("segment");
  $("#pages").innerHTML = state.meta.pages
    .map((p) => `<a href="#${p.id}" data-page="${p.id}">${p.title}</a>`).join("");
  render();
}

function currentPage() {
  const [id, arg] = location.hash.slice(1).split("/");
  return { id: id || "overview", arg: arg ? decodeURIComponent(arg) : "" };
}

async function render() {
  if (!state.meta) return;
  state.drawing += 1;  // answers for an earlier drawing of the page are dropped
  clearInterval(state.timer);
  for (const chart of state.charts) chart.dispose();
  state.charts = [];
  const { id, arg } = currentPage();
  document.body.dataset.loaded = "";
  const page = state.meta.pages.find((p) => p.id === id);
  if (!page) { $("#status").textContent = `No page ${id}`; return; }
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === id));
  const cards = $("#cards");
  cards.innerHTML = "";
  cards.dataset.page = id;
  $("#customer-search").hidden = id !== "customer";
  if (id === "customer") {
    $("#find").profile.value = arg;
    if (!arg) { $("#status").textContent = "Enter a profile id (a customer id, or anon-<anonymous id>)."; return; }
  }
  const extra = id === "customer" ? { profile: arg } : {};
  $("#status").textContent = "";
  await loadPage(page, extra, page.charts);
  if (id === "customer") await loadLive(arg);
  if (page.live) {
    state.timer = setInterval(() => refresh(page, extra), state.meta.refresh_s * 1000);
  }
}

async function loadPage(page, extra, chartIds) {
  const started = performance.now();
  const drawing = state.drawing;
  const ids = chartIds || [];
  await Promise.all(ids.map((chartId) => loadChart(page.id, chartId, extra, drawing)));
  if (drawing !== state.drawing) return;
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  $("#status").textContent = `${page.title}: ${ids.length} charts in ${seconds} s` +
    (page.live ? ` · refreshing every ${state.meta.refresh_s} s` : "");
  document.body.dataset.layout = state.narrow ? "phone" : "wide";
  document.body.dataset.loaded = page.id;
}

async function refresh(page, extra) {
  const ids = [...document.querySelectorAll("#cards .card")].map((c) => c.dataset.chart.split("/")[1]);
  for (const chartId of new Set(ids.map((i) => i.split("-")[0]))) {
    const datas = await api(`/api/chart/${page.id}/${chartId}?${query(extra)}`).catch(() => []);
    for (const data of datas) drawInto(page.id, data);
  }
  $("#status").textContent = `${page.title}: updated ${new Date().toLocaleTimeString()}` +
    ` · refreshing every ${state.meta.refresh_s} s`;
}

async function loadChart(pageId, chartId, extra, drawing) {
  const placeholder = document.createElement("article");
  placeholder.className = "card";
  placeholder.dataset.loading = `${pageId}/${chartId}`;
  placeholder.innerHTML = '<div class="empty">loading…</div>';
  $("#cards").appendChild(placeholder);
  try {
    const datas = await api(`/api/chart/${pageId}/${chartId}?${query(extra)}`);
    if (drawing !== state.drawing) return;
    for (const data of datas) drawInto(pageId, data, placeholder);
    placeholder.remove();
  } catch (error) {
    if (drawing !== state.drawing) return;
    placeholder.innerHTML = `<div class="error">${escapeHtml(error.message)}</div>`;
  }
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function formatted(value) {
  if (typeof value === "number") return value.toLocaleString("en-US", { maximumFractionDigits: 2 });
  return value === null || value === undefined ? "" : String(value);
}

function cardFor(pageId, data, before) {
  const key = `${pageId}/${data.id}`;
  let card = document.querySelector(`.card[data-chart="${CSS.escape(key)}"]`);
  if (card) return card;
  card = document.createElement("article");
  card.className = "card" + (WIDE.has(data.kind) ? " wide" : "");
  card.dataset.chart = key;
  card.dataset.kind = data.kind;
  const applied = ["site", "from", "segment"].map((name) => {
    const label = name === "from" ? "period" : name;
    const takes = data.filters.includes(name);
    return `<span class="${takes ? "" : "off"}" title="${takes ? "filtered" : "this query does not take it"}">${label}</span>`;
  }).join(" · ");
  const csv = data.csv
    ? `<a class="csv" href="/api/csv/${pageId}/${data.id}?${query()}" download>CSV</a>` : "";
  card.innerHTML = `<h2>${escapeHtml(data.title)}</h2>
    <div class="applies">filters: ${applied} · ${data.source} query <code>${data.query}</code></div>
    <div class="body"></div>
    <details><summary>SQL behind this chart</summary>
      <pre class="sql">${escapeHtml(data.sql)}</pre>
      <pre class="command">${escapeHtml(data.command)}</pre>
    </details>
    <div class="actions"><button type="button" class="copy">Copy as footfall sql</button>${csv}</div>`;
  card.querySelector(".copy").addEventListener("click", () => navigator.clipboard.writeText(data.command));
  $("#cards").insertBefore(card, before && before.isConnected ? before : null);
  return card;
}

function drawInto(pageId, data, before) {
  const card = cardFor(pageId, data, before);
  const body = card.querySelector(".body");
  card.querySelector("pre.command").textContent = data.command;
  card.dataset.query = data.query;
  card.dataset.params = JSON.stringify(data.params);
  if (!data.rows.length) {
    body.innerHTML = '<div class="empty">no data for these filters</div>';
    card.dataset.points = "0";
    return;
  }
  if (data.kind === "kpi") return drawKpis(card, body, data);
  if (data.kind === "table") return drawTable(card, body, data);
  let chart = body.querySelector(".chart") && echarts.getInstanceByDom(body.querySelector(".chart"));
  if (!chart) {
    body.innerHTML = '<div class="chart"></div>';
    chart = echarts.init(body.querySelector(".chart"), null, { renderer: "canvas" });
    state.charts.push(chart);
  }
  const option = OPTIONS[data.kind](data);
  chart.off("finished");
  chart.on("finished", () => { card.dataset.drawn = "1"; });
  chart.setOption(option, true);
  card.dataset.points = String(option.series.reduce((n, s) => n + (s.data || s.links || []).length, 0));
}

function drawKpis(card, body, data) {
  const row = data.rows[0];
  body.innerHTML = `<div class="kpis">${Object.entries(row).map(([name, value]) =>
    `<div class="kpi"><div class="label">${escapeHtml(name.replaceAll("_", " "))}</div>
     <div class="value" data-field="${escapeHtml(name)}" data-value="${escapeHtml(value)}">${escapeHtml(formatted(value))}</div></div>`).join("")}</div>`;
  card.dataset.points = String(Object.keys(row).length);
  card.dataset.drawn = "1";
}

function drawTable(card, body, data) {
  const columns = Object.keys(data.rows[0]);
  const link = (name, value) => name === "profile_id"
    ? `<a href="#customer/${encodeURIComponent(value)}">${escapeHtml(value)}</a>` : escapeHtml(formatted(value));
  body.innerHTML = `<div class="table-wrap"><table><thead><tr>${columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr></thead>
    <tbody>${data.rows.map((row) => `<tr>${columns.map((c) =>
      `<td class="${typeof row[c] === "number" ? "num" : ""}" data-field="${escapeHtml(c)}" data-value="${escapeHtml(row[c])}">${link(c, row[c])}</td>`).join("")}</tr>`).join("")}</tbody></table></div>`;
  card.dataset.points = String(data.rows.length);
  card.dataset.drawn = "1";
}

function distinct(rows, column) {
  return [...new Set(rows.map((r) => r[column]))];
}

const AXES = { tooltip: { trigger: "axis" }, legend: { type: "scroll", top: 0 },
  grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true } };

function xySeries(data, type) {
  const xs = distinct(data.rows, data.x);
  let series;
  if (data.series) {
    series = distinct(data.rows, data.series).map((name) => ({
      name, type, data: xs.map((x) => {
        const row = data.rows.find((r) => r[data.x] === x && r[data.series] === name);
        return row ? row[data.y[0]] : null;
      }),
      connectNulls: true,
    }));
  } else {
    // Rows that share an x (one per segment, say) are added up.
    const sums = (column) => xs.map((x) => data.rows.filter((r) => r[data.x] === x)
      .reduce((n, r) => n + Number(r[column]), 0));
    series = data.y.map((column) => ({ name: column, type, data: sums(column) }));
  }
  return { ...AXES, xAxis: { type: "category", data: xs.map(String) }, yAxis: { type: "value" },
    series: series.map((s) => ({ ...s, smooth: type === "line", emphasis: { focus: "series" } })) };
}

function heatmap(data) {
  const [yColumn, valueColumn] = data.y;
  const xs = distinct(data.rows, data.x).sort((a, b) => a - b).map(String);
  const ys = distinct(data.rows, yColumn).sort().map(String);
  const values = data.rows.map((r) => [xs.indexOf(String(r[data.x])), ys.indexOf(String(r[yColumn])), r[valueColumn]]);
  const max = Math.max(...values.map((v) => Number(v[2])), 1);
  return { tooltip: { position: "top" }, grid: { left: 8, right: 8, top: 8, bottom: 56, containLabel: true },
    xAxis: { type: "category", data: xs, name: data.x }, yAxis: { type: "category", data: ys, name: yColumn },
    visualMap: { min: 0, max, calculable: true, orient: "horizontal", left: "center", bottom: 0 },
    series: [{ name: valueColumn, type: "heatmap", data: values, label: { show: xs.length <= 12 } }] };
}

function narrow() {
  return window.innerWidth < 640;
}

function funnel(data) {
  const row = data.rows[0];
  const steps = data.y.map((name) => ({ name, value: row[name] }));
  const labels = steps.map((s, i) => i === 0 ? `${s.name}: ${s.value}`
    : `${s.name}: ${s.value} (${steps[i - 1].value ? Math.round(100 * s.value / steps[i - 1].value) : 0}% of previous)`);
  return { tooltip: { trigger: "item" },
    // On a phone the labels go inside the steps: beside them they would leave the screen.
    series: [{ type: "funnel", sort: "none", left: "5%", width: narrow() ? "90%" : "60%", minSize: "30%",
      gap: 2, label: { position: narrow() ? "inside" : "right", formatter: (p) => labels[p.dataIndex] },
      data: steps }] };
}

function sankey(data) {
  const from = (s) => `${s} ›`;
  const names = new Set();
  const links = data.rows.map((r) => {
    names.add(from(r.from_stage)); names.add(r.to_stage);
    return { source: from(r.from_stage), target: r.to_stage, value: r.moves };
  });
  return { tooltip: { trigger: "item" },
    series: [{ type: "sankey", data: [...names].map((name) => ({ name })), links,
      emphasis: { focus: "adjacency" }, nodeAlign: "justify", left: 8, right: 90 }] };
}

function pie(data) {
  return { tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" }, legend: { type: "scroll", top: 0 },
    series: [{ type: "pie", radius: ["35%", "65%"], top: 24,
      data: data.rows.map((r) => ({ name: String(r[data.x]), value: r[data.y[0]] })) }] };
}

function interval(data) {
  const xs = data.rows.map((r) => String(r[data.x]));
  return { ...AXES, xAxis: { type: "category", data: xs }, yAxis: { type: "value", name: "% converted" },
    tooltip: { trigger: "axis", formatter: (items) => {
      const r = data.rows[items[0].dataIndex];
      return `${r.variant}: ${r.conversion_pct}% (${r.ci_low_pct}–${r.ci_high_pct}%), ${r.converted}/${r.exposed_people}`;
    } },
    series: [
      { name: "conversion %", type: "bar", data: data.rows.map((r) => r.conversion_pct), barMaxWidth: 60 },
      { name: "95% interval", type: "custom", data: data.rows.map((r, i) => [i, r.ci_low_pct, r.ci_high_pct]),
        renderItem: (params, api) => {
          const low = api.coord([api.value(0), api.value(1)]);
          const high = api.coord([api.value(0), api.value(2)]);
          const half = api.size([1, 0])[0] * 0.15;
          const style = { stroke: "#1d2330", lineWidth: 2 };
          return { type: "group", children: [
            { type: "line", shape: { x1: low[0], y1: low[1], x2: high[0], y2: high[1] }, style },
            { type: "line", shape: { x1: low[0] - half, y1: low[1], x2: low[0] + half, y2: low[1] }, style },
            { type: "line", shape: { x1: high[0] - half, y1: high[1], x2: high[0] + half, y2: high[1] }, style },
          ] };
        }, encode: { x: 0, y: [1, 2] }, z: 10 },
    ] };
}

const OPTIONS = { line: (d) => xySeries(d, "line"), bar: (d) => xySeries(d, "bar"), heatmap, funnel, sankey, pie, ci: interval };

async function loadLive(profile) {
  const site = $("#filters").site.value;
  const live = await api(`/api/live/${encodeURIComponent(site)}/${encodeURIComponent(profile)}`).catch((e) => ({ error: e.message }));
  const figures = live.error ? { error: live.error } : { stage: live.stage, ...(live.figures || {}) };
  const shown = Object.fromEntries(Object.entries(figures).filter(([, v]) => v === null || typeof v !== "object"));
  drawInto("customer", { id: "live", title: "Live figures (the worker's lookup)", kind: "kpi", filters: ["site"],
    source: "worker", query: `GET /profiles/${site}/${profile}`, sql: "(not SQL: the stream worker's live table)",
    command: `curl ${location.origin}/api/live/${site}/${profile}`, rows: [shown], csv: false, params: {} });
}

window.addEventListener("hashchange", render);
window.addEventListener("resize", () => {
  // A full-page capture or a window being dragged passes through passing sizes (even 1px
  // wide): the layout is chosen again only once the size has settled.
  clearTimeout(state.resized);
  state.resized = setTimeout(() => {
    if (state.narrow !== undefined && state.narrow !== narrow()) {
      state.narrow = narrow();
      render();  // phone layout
    } else state.charts.forEach((c) => c.resize());
  }, SETTLE_MS);
});
document.addEventListener("DOMContentLoaded", () => {
  $("#filters").addEventListener("change", (event) => {
    if (event.target.name === "site") fillSegments();
    render();
  });
  $("#login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/api/login", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: event.target.token.value }) });
    if (!response.ok) { showLogin("That token was refused."); return; }
    event.target.token.value = "";
    start();
  });
  $("#logout").addEventListener("click", async () => { await fetch("/api/logout", { method: "POST" }); showLogin(); });
  $("#find").addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `customer/${encodeURIComponent(event.target.profile.value.trim())}`;
  });
  start();
});
