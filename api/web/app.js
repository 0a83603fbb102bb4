// The Tardigrade host page: executions, and one execution's timeline.
// Plain JS, no build step. Every string from the API goes through esc() before it
// reaches innerHTML: ids, names, outputs and errors are user data.
"use strict";

(() => {
  const LIST_EVERY_MS = 2000;
  const DETAIL_EVERY_MS = 1000;
  const STATUSES = ["pending", "running", "parked", "completed", "failed", "cancelled"];
  const TERMINAL = new Set(["completed", "failed", "cancelled"]);
  const WAITS = new Set(["sleep", "signal_wait", "backoff", "retry"]);
  const RESTORES = new Set(["restored", "migrated"]);
  const HOST_COLORS = ["#0284c7", "#c026d3", "#ea580c", "#16a34a", "#ca8a04", "#0d9488", "#e11d48", "#4f46e5"];
  const KIND_COLORS = {
    activity: "#3b82f6",
    failed_activity: "#ef4444",
    retry: "#f59e0b",
    backoff: "#f59e0b",
    sleep: "#8b5cf6",
    timer_fired: "#8b5cf6",
    signal_wait: "#db2777",
    signal: "#db2777",
    migrating: "#f97316",
    migrated: "#f97316",
    restored: "#10b981",
    completed: "#16a34a",
    failed: "#dc2626",
    cancelled: "#6b7280",
  };
  const SNAP_COLORS = { full: "#0f766e", delta: "#5eead4", terminal: "#94a3b8", journal: "#fbbf24" };

  const $ = (id) => document.getElementById(id);
  const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ESC[c]);

  // -- formatting ------------------------------------------------------------------------

  function fmtBytes(n) {
    if (n == null) return "";
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KiB`;
    if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(n < 10 * 1024 ** 2 ? 1 : 0)} MiB`;
    return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  }

  function fmtDur(s) {
    if (s == null || !isFinite(s)) return "";
    s = Math.max(0, s);
    if (s < 1) return `${Math.round(s * 1000)} ms`;
    if (s < 9.995) return `${s.toFixed(2)} s`;
    if (s < 59.95) return `${s.toFixed(1)} s`;
    const two = (n, big, a, b) => `${Math.floor(n / big)} ${a} ${n % big} ${b}`; // n in whole small units
    if (Math.round(s) < 3600) return two(Math.round(s), 60, "min", "s");
    if (Math.round(s / 60) < 1440) return two(Math.round(s / 60), 60, "h", "min");
    return two(Math.round(s / 3600), 24, "d", "h");
  }

  function fmtMs(ms) {
    return ms == null ? "" : ms < 10 ? `${ms.toFixed(2)} ms` : ms < 1000 ? `${ms.toFixed(1)} ms` : fmtDur(ms / 1000);
  }

  const pad = (n, w = 2) => String(n).padStart(w, "0");
  function fmtTime(ts, withMs = false) {
    if (ts == null) return "";
    const d = new Date(ts * 1000);
    const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return withMs ? `${t}.${pad(d.getMilliseconds(), 3)}` : t;
  }
  function fmtDate(ts) {
    if (ts == null) return "";
    const d = new Date(ts * 1000);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${fmtTime(ts)}`;
  }
  function fmtAgo(ts) {
    if (ts == null) return "";
    const s = Date.now() / 1000 - ts;
    if (s < 1.5) return "just now";
    if (s < 59.5) return `${Math.round(s)} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} d ago`;
  }
  function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }

  // -- data ------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function getJSON(path) {
    const r = await fetch(path, { cache: "no-store", headers: { Accept: "application/json" } });
    if (!r.ok) {
      let msg = r.statusText;
      try {
        msg = (await r.json()).error.message;
      } catch (_) {
        /* not our JSON error */
      }
      throw new ApiError(r.status, msg);
    }
    return r.json();
  }

  const known = { hosts: [], thisHost: null };

  function hostColor(host) {
    if (!host) return "#94a3b8";
    const ids = known.hosts.map((h) => h.host_id);
    let i = ids.indexOf(host);
    if (i < 0) {
      i = 0;
      for (const c of host) i = (i * 31 + c.charCodeAt(0)) >>> 0;
    }
    return HOST_COLORS[i % HOST_COLORS.length];
  }

  function hostTag(host) {
    if (!host) return '<span class="none">—</span>';
    return `<span class="host-tag" style="--hc:${hostColor(host)}">${esc(host)}</span>`;
  }

  function badge(status, big = false) {
    const s = STATUSES.includes(status) ? status : "pending";
    return `<span class="badge st-${s}${big ? " big" : ""}" data-status="${esc(status)}">${esc(status)}</span>`;
  }

  function kindColor(row) {
    if (row.kind === "activity" && row.detail && row.detail.failed) return KIND_COLORS.failed_activity;
    return KIND_COLORS[row.kind] || "#64748b";
  }

  function waitingText(w) {
    if (!w) return "";
    const until = w.until != null ? w.until / 1000 : null;
    const when = until != null ? ` · until ${esc(fmtDate(until))} (${esc(until > Date.now() / 1000 ? "in " + fmtDur(until - Date.now() / 1000) : "due")})` : "";
    if (w.kind === "signal") return `signal <b>${esc(w.name)}</b>${until != null ? when.replace("until", "times out") : ""}`;
    if (w.kind === "sleep") return `timer <b>${esc(w.name)}</b>${when}`;
    if (w.kind === "call") return `retry of <b>${esc(w.name)}</b>${w.attempt ? ` (attempt ${esc(w.attempt)})` : ""}${when}`;
    return `${esc(w.kind)} <b>${esc(w.name)}</b>${when}`;
  }

  function shortWaiting(w) {
    if (!w) return "";
    if (w.kind === "signal") return `waits for signal “${w.name}”`;
    if (w.kind === "sleep") return `sleeps ${w.name}`;
    if (w.kind === "call") return `retries ${w.name}`;
    return `waits: ${w.kind} ${w.name}`;
  }

  // -- header: this host and the hosts on the store ----------------------------------------

  async function refreshHosts() {
    const [me, hosts] = await Promise.all([getJSON("v1/host"), getJSON("v1/hosts")]);
    known.thisHost = me.host_id;
    known.hosts = hosts;
    $("this-host").innerHTML = me.host_id
      ? `served by <b>${esc(me.host_id)}</b>${me.capacity ? ` · ${esc(me.running.length)}/${esc(me.capacity)} running` : ""}`
      : "API only (no worker)";
    const now = Date.now() / 1000;
    $("hosts").innerHTML = hosts
      .map((h) => {
        const alive = h.alive;
        const mine = h.host_id === me.host_id;
        const title = [
          `host ${h.host_id}${mine ? " (this one)" : ""}: ${alive ? "alive" : "not alive"}`,
          h.url ? `url ${h.url}` : "",
          h.heartbeat_at ? `heartbeat ${fmtDur(now - h.heartbeat_at)} ago` : "",
          alive ? `${(h.executions || []).length} running${h.capacity ? ` of ${h.capacity}` : ""}` : "its executions move to live hosts once their leases expire",
        ]
          .filter(Boolean)
          .join("\n");
        const n = alive ? String((h.executions || []).length) : "down";
        const inner = `<span class="dot"></span>${esc(h.host_id)}<span class="n">${esc(n)}</span>`;
        const cls = `host-chip${alive ? "" : " dead"}${mine ? " me" : ""}`;
        const safeUrl = /^https?:\/\//i.test(h.url || "") && !mine ? h.url.replace(/\/+$/, "") + "/" + location.hash : null;
        return safeUrl
          ? `<a class="${cls}" data-host="${esc(h.host_id)}" href="${esc(safeUrl)}" title="${esc(title)}">${inner}</a>`
          : `<span class="${cls}" data-host="${esc(h.host_id)}" title="${esc(title)}">${inner}</span>`;
      })
      .join("");
  }

  function setConn(ok, message) {
    const el = $("conn");
    el.className = ok ? "conn" : "conn bad";
    el.textContent = ok ? `updated ${fmtTime(Date.now() / 1000)}` : message;
  }

  // -- list ------------------------------------------------------------------------------

  const list = { rows: null, status: "" };

  function renderFilters() {
    const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    for (const r of list.rows || []) counts[r.status] = (counts[r.status] || 0) + 1;
    const total = (list.rows || []).length;
    const button = (value, label, n) =>
      `<button type="button" class="filter${list.status === value ? " on" : ""}" data-status="${esc(value)}">${esc(label)}<span class="n">${esc(n)}</span></button>`;
    $("filters").innerHTML = button("", "all", total) + STATUSES.map((s) => button(s, s, counts[s])).join("");
  }

  function renderList() {
    renderFilters();
    const rows = (list.rows || []).filter((r) => !list.status || r.status === list.status);
    $("exec-rows").innerHTML = rows
      .map((r) => {
        const href = `#/executions/${encodeURIComponent(r.id)}`;
        const why =
          r.status === "parked" || r.waiting
            ? shortWaiting(r.waiting)
            : r.status === "failed"
              ? r.error
              : r.status === "running" && !r.host && r.step > 0
                ? "no live host holds it"
                : "";
        return `<tr class="exec-row" data-id="${esc(r.id)}" data-href="${esc(href)}">
          <td class="id"><a href="${esc(href)}">${esc(r.id)}</a></td>
          <td>${badge(r.status)}${why ? `<span class="why">${esc(why)}</span>` : ""}</td>
          <td class="num">${esc(r.step)}</td>
          <td>${r.host ? hostTag(r.host) : r.last_event && r.last_event.host ? `<span class="faded" title="${esc(`not on a host; last on ${r.last_event.host}`)}">${hostTag(r.last_event.host)}</span>` : hostTag(null)}</td>
          <td>${esc(r.mode)}</td>
          <td class="num">${esc(r.snapshots)}</td>
          <td class="num">${esc(fmtBytes(r.snapshot_bytes + (r.journal_bytes || 0)))}</td>
          <td class="num" title="${esc(fmtDate(r.updated_at || r.created_at))}">${esc(fmtAgo(r.updated_at || r.created_at))}</td>
        </tr>`;
      })
      .join("");
    const empty = $("list-empty");
    if (list.rows && rows.length === 0) {
      empty.hidden = false;
      empty.innerHTML = list.rows.length
        ? `No ${esc(list.status)} executions.`
        : "No executions yet. Start one with <code>tardigrade submit MODULE.wasm --server URL</code>.";
    } else {
      empty.hidden = true;
    }
  }

  async function refreshList() {
    list.rows = await getJSON("v1/executions?limit=1000");
    renderList();
  }

  // -- detail ----------------------------------------------------------------------------

  const detail = { id: null, key: "", renderedAt: 0, data: null };

  // No host holds it: say where it last ran.
  function noHost(st, rows) {
    const last = [...rows].reverse().find((r) => r.host) || null;
    const where = last ? last.host : st.last_event && st.last_event.host;
    const what = TERMINAL.has(st.status) ? "ended on" : "none · last on";
    return where ? `<span class="none">${esc(what)}</span> <span class="faded">${hostTag(where)}</span>` : hostTag(null);
  }

  function renderSummary(st, rows) {
    const terminal = TERMINAL.has(st.status);
    const end = terminal ? st.updated_at : Date.now() / 1000;
    const facts = [
      ["Host", st.host ? hostTag(st.host) : noHost(st, rows)],
      ["Mode", esc(st.mode) + (st.mode === "hybrid" ? "" : "")],
      ["Step", esc(st.step)],
      ["Snapshots", `${esc(st.snapshots)} · ${esc(fmtBytes(st.snapshot_bytes))}`],
    ];
    if (st.mode !== "snapshot" || st.journal_records)
      facts.push(["Journal", `${esc(st.journal_records)} · ${esc(fmtBytes(st.journal_bytes))}`]);
    const restores = rows.filter((r) => r.kind === "restored").length;
    const migrations = Math.max(...["migrating", "migrated"].map((k) => rows.filter((r) => r.kind === k).length));
    facts.push(["Restores · migrations", `${esc(restores)} · ${esc(migrations)}`]);
    facts.push(["Created", `<span title="${esc(fmtDate(st.created_at))}">${esc(fmtDate(st.created_at))}</span>`]);
    facts.push([terminal ? "Took" : "Age", esc(fmtDur(end - st.created_at))]);
    if (st.exit_code != null) facts.push(["Exit code", esc(st.exit_code)]);
    facts.push(["Module", `<span class="mono" title="${esc(st.module)}">${esc(String(st.module).slice(0, 12))}</span>`]);

    const notes = [];
    if (st.waiting) notes.push(`<div class="note wait"><b>Waiting for</b> ${waitingText(st.waiting)}</div>`);
    if (st.migration) {
      const m = st.migration;
      const pause = m.pause_ms != null ? ` · paused <b>${esc(fmtMs(m.pause_ms))}</b>` : " · in progress";
      notes.push(`<div class="note migr"><b>Last migration</b> ${hostTag(m.from)} → ${hostTag(m.to)}${pause}</div>`);
    }
    if (st.cancel) notes.push(`<div class="note cancel"><b>Cancel</b> ${esc(st.cancel)}</div>`);
    if (st.error) notes.push(`<div class="note err">${esc(st.error)}</div>`);

    $("summary").innerHTML = `
      <div class="title-row">
        <h2 id="exec-id">${esc(st.id)}</h2>${badge(st.status, true)}
        ${terminal ? "" : `<span class="live">live · refreshing every second</span>`}
      </div>
      <dl class="facts">${facts.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${v}</dd></div>`).join("")}</dl>
      ${notes.length ? `<div class="notes">${notes.join("")}</div>` : ""}`;
  }

  function renderOutput(st) {
    const out = $("output");
    const LIMIT = 65536;
    let text = null;
    let sub = "";
    if (st.output != null) {
      text = st.output;
      sub = `${fmtBytes(new TextEncoder().encode(st.output).length)}`;
    } else if (st.output_b64 != null) {
      text = st.output_b64;
      sub = "binary, base64";
    }
    if (text == null || text === "") {
      out.className = "output nothing";
      out.textContent = TERMINAL.has(st.status) ? "(no output)" : "(the output appears when the execution ends)";
      $("output-sub").textContent = "";
      return;
    }
    out.className = "output";
    out.textContent = text.length > LIMIT ? text.slice(0, LIMIT) + "\n… (truncated)" : text;
    $("output-sub").textContent = sub;
  }

  function rowTime(r) {
    return r.started_at ?? r.at;
  }

  function renderEvents(rows, t0) {
    $("events-sub").textContent = plural(rows.length, "row");
    const head = `<thead><tr><th class="num">Step</th><th>Kind</th><th>Name</th><th>Host</th><th class="num">At</th><th class="num">Took</th><th>Snapshot</th><th>Detail</th></tr></thead>`;
    const body = rows
      .map((r) => {
        const t = rowTime(r);
        const snap = r.snapshot_bytes != null ? `${r.snapshot || "terminal"} ${fmtBytes(r.snapshot_bytes)}` : r.journal_bytes != null ? `journal ${fmtBytes(r.journal_bytes)}` : "";
        const detailText = Object.entries(r.detail || {})
          .map(([k, v]) => `${k}=${k === "until" && typeof v === "number" ? fmtDate(v / 1000) : typeof v === "object" ? JSON.stringify(v) : v}`)
          .join("  ");
        const name = r.attempt > 1 ? `${r.name} #${r.attempt}` : r.name;
        return `<tr data-kind="${esc(r.kind)}"><td class="num">${esc(r.step)}</td>
          <td><span class="kind" style="--kc:${kindColor(r)}">${esc(r.kind)}</span></td>
          <td>${esc(name)}</td><td>${hostTag(r.host)}</td>
          <td class="num" title="${esc(fmtDate(t))}">${t != null && t0 != null ? "+" + esc(fmtDur(t - t0)) : ""}</td>
          <td class="num">${esc(fmtMs(r.duration_ms))}</td><td>${esc(snap)}</td>
          <td class="detail">${esc(detailText.length > 160 ? detailText.slice(0, 160) + "…" : detailText)}</td></tr>`;
      })
      .join("");
    $("events").innerHTML = head + `<tbody>${body}</tbody>`;
  }

  // -- timeline --------------------------------------------------------------------------

  const NICE_STEPS = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800,
    3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
  ];

  function tickLabel(s, step) {
    if (step < 1) return `${s.toFixed(step < 0.01 ? 3 : step < 0.1 ? 2 : 1).replace(/\.?0+$/, "") || "0"} s`;
    if (step < 60) return `${Math.round(s)} s`;
    if (step < 3600) return `${Math.round(s / 60)} min`;
    if (step < 86400) return `${+(s / 3600).toFixed(1)} h`;
    return `${+(s / 86400).toFixed(1)} d`;
  }

  // A piecewise-linear time axis: long idle gaps (a park of two days between two
  // 200 ms steps) collapse to a fixed-width break so the steps stay readable.
  function makeAxis(points, t0, t1, x0, x1) {
    const BREAK_W = 104;
    const span = Math.max(t1 - t0, 1e-3);
    const ts = [...new Set(points.filter((t) => t != null && t >= t0 && t <= t1))].sort((a, b) => a - b);
    const gaps = [];
    for (let i = 1; i < ts.length; i++) {
      const g = ts[i] - ts[i - 1];
      if (g > 2 && g > 0.25 * span) gaps.push([ts[i - 1], ts[i]]);
    }
    const live = span - gaps.reduce((a, [p, q]) => a + (q - p), 0);
    const scale = (x1 - x0 - gaps.length * BREAK_W) / Math.max(live, 1e-3);
    const segs = [];
    let t = t0;
    let x = x0;
    for (const [p, q] of gaps) {
      segs.push({ a: t, b: p, xa: x, xb: x + (p - t) * scale, brk: false });
      x += (p - t) * scale;
      segs.push({ a: p, b: q, xa: x, xb: x + BREAK_W, brk: true });
      x += BREAK_W;
      t = q;
    }
    segs.push({ a: t, b: t1, xa: x, xb: x1, brk: false });
    const map = (v) => {
      if (v <= t0) return x0;
      if (v >= t1) return x1;
      for (const s of segs) if (v <= s.b) return s.b === s.a ? s.xa : s.xa + ((v - s.a) / (s.b - s.a)) * (s.xb - s.xa);
      return x1;
    };
    return { map, segs, scale };
  }

  function svgTitle(lines) {
    return `<title>${esc(lines.filter((l) => l !== "" && l != null).join("\n"))}</title>`;
  }

  function rowTooltip(r, t0) {
    const lines = [`step ${r.step} · ${r.kind}${r.name ? " " + r.name : ""}${r.attempt ? ` (attempt ${r.attempt})` : ""}`];
    if (r.host) lines.push(`host ${r.host}`);
    if (r.started_at != null) lines.push(`${fmtTime(r.started_at, true)} → ${fmtTime(r.ended_at, true)} (${fmtMs(r.duration_ms)})`);
    else if (r.at != null) lines.push(`at ${fmtTime(r.at, true)} (+${fmtDur(r.at - t0)})`);
    if (r.snapshot_bytes != null) lines.push(`snapshot #${r.seq} ${r.snapshot || "terminal"}, ${fmtBytes(r.snapshot_bytes)}`);
    if (r.journal_bytes != null) lines.push(`journal #${r.journal_seq}, ${fmtBytes(r.journal_bytes)}`);
    for (const [k, v] of Object.entries(r.detail || {})) lines.push(`${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`);
    return lines;
  }

  function renderTimeline(st, rows, snaps) {
    const box = $("timeline");
    if (!rows.length) {
      box.innerHTML = `<p class="empty">${TERMINAL.has(st.status) ? "No steps recorded." : "No steps yet: the first snapshot is written after the first host call."}</p>`;
      $("timeline-sub").textContent = "";
      $("legend").innerHTML = "";
      return;
    }
    const terminal = TERMINAL.has(st.status);
    const now = Date.now() / 1000;

    // When each row happened. A restore (or migration) row carries the time of the step
    // it precedes; place it where that step started.
    const ev = rows.map((r) => ({ r, t: rowTime(r), end: r.ended_at ?? r.at }));
    for (let i = 0; i < ev.length; i++) {
      if (!RESTORES.has(ev[i].r.kind)) continue;
      let j = i + 1;
      while (j < ev.length && RESTORES.has(ev[j].r.kind)) j++;
      const next = j < ev.length ? ev[j] : null;
      let t = next ? next.t : ev[i].r.at;
      if (i > 0 && ev[i - 1].end != null && t < ev[i - 1].end) t = ev[i - 1].end;
      ev[i].t = ev[i].end = t;
    }
    const times = ev.flatMap((e) => [e.t, e.end]).filter((t) => t != null);
    const t0 = Math.min(st.created_at, ...times);
    let t1 = Math.max(...times);
    if (!terminal) t1 = Math.max(t1, now);
    if (t1 - t0 < 0.05) t1 = t0 + 0.05;

    // Lanes: one per host, in order of appearance.
    const lanes = [];
    for (const e of ev) if (e.r.host && !lanes.includes(e.r.host)) lanes.push(e.r.host);
    if (!lanes.length) lanes.push("");
    const laneOf = (h) => Math.max(0, lanes.indexOf(h || lanes[0]));

    const W = Math.max(760, Math.round(box.clientWidth || 1180));
    const ML = 96, MR = 18;
    const AXIS_Y = 18, LABEL_Y = 40, LANE_TOP = 54, LANE_H = 30, LANE_GAP = 6;
    const lanesBottom = LANE_TOP + lanes.length * (LANE_H + LANE_GAP) - LANE_GAP;
    const SNAP_TOP = lanesBottom + 16, SNAP_H = 64;
    const H = SNAP_TOP + SNAP_H + 22;
    const laneY = (i) => LANE_TOP + i * (LANE_H + LANE_GAP);

    const axis = makeAxis([t0, t1, ...times], t0, t1, ML, W - MR);
    const X = (t) => axis.map(t);
    const parts = [];
    const defs = `<defs>
      <pattern id="tl-hatch" width="7" height="7" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
        <rect width="7" height="7" fill="#8b5cf6" fill-opacity="0.08"/><line x1="0" y1="0" x2="0" y2="7" stroke="#8b5cf6" stroke-opacity="0.35" stroke-width="2.5"/></pattern>
      <pattern id="tl-lost" width="7" height="7" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)">
        <rect width="7" height="7" fill="#64748b" fill-opacity="0.08"/><line x1="0" y1="0" x2="0" y2="7" stroke="#64748b" stroke-opacity="0.3" stroke-width="2"/></pattern>
      <marker id="tl-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
        <path d="M0,0 L10,5 L0,10 z" fill="#f97316"/></marker>
    </defs>`;

    // Lane backgrounds and labels.
    lanes.forEach((h, i) => {
      const y = laneY(i);
      parts.push(`<rect class="tl-lane" x="${ML}" y="${y}" width="${W - MR - ML}" height="${LANE_H}" rx="4" fill="${i % 2 ? "#f8fafc" : "#f3f5f8"}"/>`);
      parts.push(`<rect x="8" y="${y + LANE_H / 2 - 5}" width="10" height="10" rx="2" fill="${hostColor(h)}"/>`);
      parts.push(`<text x="24" y="${y + LANE_H / 2 + 4}" font-size="12.5" style="font-family: var(--mono)" fill="#1f2733">${esc(h ? "host " + h : "no host")}<title>${esc(h ? "steps run on host " + h : "")}</title></text>`);
    });
    parts.push(`<text x="8" y="${SNAP_TOP + SNAP_H - 4}" font-size="12" fill="#667085">snapshots</text>`);

    // Axis: ticks per continuous segment, gridlines down through the snapshot band.
    const pxPerSec = axis.scale;
    const step = NICE_STEPS.find((s) => s * pxPerSec >= 84) || NICE_STEPS[NICE_STEPS.length - 1];
    let lastTickX = -1e9;
    for (const s of axis.segs) {
      if (s.brk) {
        const xm = (s.xa + s.xb) / 2;
        parts.push(`<path d="M${xm - 7},${AXIS_Y + 6} l5,-10 M${xm + 1},${AXIS_Y + 6} l5,-10" stroke="#98a2b3" stroke-width="1.4" fill="none"/>`);
        parts.push(`<text x="${xm}" y="${AXIS_Y - 8}" font-size="10.5" fill="#98a2b3" text-anchor="middle">${esc(fmtDur(s.b - s.a))}</text>`);
        lastTickX = s.xb;
        continue;
      }
      const first = Math.ceil((s.a - t0) / step - 1e-9) * step;
      for (let v = first; t0 + v <= s.b + 1e-9; v += step) {
        const x = X(t0 + v);
        const nextBreak = axis.segs.find((g) => g.brk && g.xa >= s.xb - 0.5);
        if (x - lastTickX < 56 || (nextBreak && nextBreak.xa - x < 34)) continue;
        lastTickX = x;
        parts.push(`<line x1="${x}" y1="${AXIS_Y + 4}" x2="${x}" y2="${SNAP_TOP + SNAP_H}" stroke="#e7eaee" stroke-width="1"/>`);
        parts.push(`<text x="${x}" y="${AXIS_Y}" font-size="11" fill="#667085" text-anchor="middle">${esc(tickLabel(v, step))}</text>`);
      }
    }
    parts.push(`<line x1="${ML}" y1="${AXIS_Y + 4}" x2="${W - MR}" y2="${AXIS_Y + 4}" stroke="#cbd2da"/>`);

    // Shaded periods: waits (parked when a restore ended them), migrations in transit, and
    // the time between a host's last step and the restore elsewhere after that host was lost.
    const shades = [];
    const moving = (k) => RESTORES.has(k) || k === "migrating";
    const before = (i, skip) => {
      let p = i - 1;
      while (p >= 0 && skip(ev[p].r.kind)) p--;
      return p >= 0 ? ev[p] : null;
    };
    const shade = (a, b, cls, fill, op, label, color, tip) => {
      if (a != null && b != null && b > a) shades.push({ a, b, cls, fill, op, label, color, tip });
    };
    for (let i = 0; i < ev.length; i++) {
      const { r } = ev[i];
      const start = ev[i].end;
      if (WAITS.has(r.kind)) {
        let j = i + 1;
        while (j < ev.length && moving(ev[j].r.kind)) j++;
        const open = j >= ev.length;
        const end = open ? (terminal ? null : now) : ev[j].t;
        const parked = ev.slice(i + 1, j).some((e) => e.r.kind === "restored") || (open && st.status === "parked");
        const what = r.kind === "signal_wait" ? `signal “${r.name}”` : r.kind === "sleep" ? `sleep ${r.name}` : `retry of ${r.name}`;
        const when = `${fmtTime(start, true)} → ${open ? "now" : fmtTime(end, true)} (${fmtDur(end - start)})`;
        if (parked)
          shade(start, end, "tl-parked", "url(#tl-hatch)", 1, `parked ${fmtDur(end - start)}`, "#6d28d9",
            [`parked for ${what}: no instance on any host, only its snapshot`, when]);
        else
          shade(start, end, "tl-wait", "#8b5cf6", 0.08, `waiting ${fmtDur(end - start)}`, "#6d28d9", [`waiting in memory for ${what}`, when]);
      } else if (r.kind === "migrating") {
        const prev = before(i, (k) => RESTORES.has(k));
        if (prev && WAITS.has(prev.r.kind)) continue; // moved while parked: the parked shade covers it
        const to = ev.slice(i + 1).find((e) => RESTORES.has(e.r.kind));
        shade(start, to ? to.t : terminal ? null : now, "tl-transit", "#f97316", 0.12, "", "#c2410c",
          [`in transit: the snapshot is on the store, moving to ${r.detail && r.detail.to}`]);
      } else if (r.kind === "restored" && !(i > 0 && ev[i - 1].r.kind === "migrated")) {
        const prev = before(i, (k) => RESTORES.has(k));
        if (!prev || prev.r.kind === "migrating" || WAITS.has(prev.r.kind) || TERMINAL.has(prev.r.kind)) continue;
        const lost = prev.r.host || "its host";
        shade(prev.end, ev[i].t, "tl-lost", "url(#tl-lost)", 1, `${lost} lost · ${fmtDur(ev[i].t - prev.end)}`, "#475569",
          [`no host: ${lost} stopped holding it after step ${prev.r.step} (crash, shutdown or lease expiry)`,
           `restored on ${r.host || "?"} from snapshot #${(r.detail && r.detail.seq) ?? "?"} after ${fmtDur(ev[i].t - prev.end)}`]);
      }
    }
    for (const s of shades) {
      const xa = X(s.a), xb = Math.max(X(s.b), xa + 2);
      parts.push(`<g class="${s.cls}"><rect x="${xa}" y="${LANE_TOP - 4}" width="${xb - xa}" height="${lanesBottom - LANE_TOP + 8}" fill="${s.fill}" fill-opacity="${s.op}">${svgTitle(s.tip)}</rect>`);
      if (s.label && xb - xa > s.label.length * 6.2 + 8)
        parts.push(`<text x="${(xa + xb) / 2}" y="${lanesBottom + 1}" font-size="11" fill="${s.color}" text-anchor="middle" dy="-3" pointer-events="none">${esc(s.label)}</text>`);
      parts.push(`</g>`);
    }

    // Restore and migration lines (labels above the lanes, staggered when crowded).
    const labelRows = [-1e9, -1e9];
    const placeLabel = (x, text) => {
      // Right of the line, or left of it near the right edge; in the first free row.
      const w = text.length * 6.1 + 6;
      const left = x + w > W - MR + 6;
      const [a, b] = left ? [x - w, x] : [x, x + w];
      for (let k = 0; k < labelRows.length; k++) {
        if (a - 3 >= labelRows[k]) {
          labelRows[k] = b;
          return { y: LABEL_Y - k * 13, left };
        }
      }
      return null;
    };
    for (let i = 0; i < ev.length; i++) {
      const { r, t } = ev[i];
      if (r.kind === "migrating") {
        const to = ev.slice(i + 1).find((e) => RESTORES.has(e.r.kind));
        const ya = laneY(laneOf(r.host)) + LANE_H / 2;
        if (to) {
          const xb = X(to.t), yb = laneY(laneOf(to.r.host)) + LANE_H / 2;
          const xa = X(t);
          parts.push(`<path class="tl-migration-arrow" d="M${xa},${ya} C${(xa + xb) / 2},${ya} ${(xa + xb) / 2},${yb} ${xb - 2},${yb}" stroke="#f97316" stroke-width="1.8" fill="none" marker-end="url(#tl-arrow)"/>`);
        }
        continue;
      }
      if (!RESTORES.has(r.kind)) continue;
      const x = X(t);
      const migr = r.kind === "migrated";
      if (!migr && i > 0 && ev[i - 1].r.kind === "migrated") continue; // one line per migration
      const color = migr ? "#f97316" : "#10b981";
      const pause = migr && r.detail && r.detail.pause_ms != null ? ` · ${fmtMs(r.detail.pause_ms)} pause` : "";
      const text = migr ? `migrated ${r.name.replace("->", "→")}${pause}` : r.host ? `restored on ${r.host}` : "restored";
      const tip = migr
        ? [`migrated ${r.name} before step ${r.step}`, pause ? `paused ${fmtMs(r.detail.pause_ms)}` : "", ...rowTooltip(ev[i + 1] ? ev[i + 1].r : r, t0).slice(2)]
        : rowTooltip(r, t0);
      const ly = placeLabel(x, text);
      parts.push(`<g class="${migr ? "tl-migration" : "tl-restore"}" data-kind="${esc(r.kind)}" data-step="${esc(r.step)}">${svgTitle(tip)}
        <line x1="${x}" y1="${(ly ? ly.y : LABEL_Y) + 3}" x2="${x}" y2="${lanesBottom + 4}" stroke="${color}" stroke-width="2" stroke-dasharray="4 3"/>
        ${ly ? `<text x="${ly.left ? x - 4 : x + 4}" y="${ly.y}" text-anchor="${ly.left ? "end" : "start"}" font-size="11" font-weight="600" fill="${migr ? "#c2410c" : "#047857"}">${esc(text)}</text>` : ""}
        <rect x="${x - 5}" y="${LANE_TOP - 4}" width="10" height="${lanesBottom - LANE_TOP + 8}" fill="transparent"/></g>`);
    }

    // Steps: a bar per activity (start to end), a marker per instantaneous event.
    let bars = 0;
    for (const { r, t } of ev) {
      if (RESTORES.has(r.kind) || t == null) continue;
      const y = laneY(laneOf(r.host));
      const color = kindColor(r);
      const tip = svgTitle(rowTooltip(r, t0));
      if (r.started_at != null && r.ended_at != null) {
        const xa = X(r.started_at);
        const w = Math.max(X(r.ended_at) - xa, 3);
        bars++;
        parts.push(`<rect class="tl-bar" data-kind="${esc(r.kind)}" data-step="${esc(r.step)}" x="${xa}" y="${y + 6}" width="${w}" height="${LANE_H - 12}" rx="3" fill="${color}">${tip}</rect>`);
        if (w > 26) parts.push(`<text x="${xa + w / 2}" y="${y + LANE_H / 2 + 4}" font-size="10.5" fill="#fff" text-anchor="middle" pointer-events="none">${esc(r.step)}</text>`);
      } else if (TERMINAL.has(r.kind)) {
        const x = X(t), cy = y + LANE_H / 2;
        const glyph = r.kind === "completed" ? `M${x - 3.5},${cy} l2.5,2.6 l4.5,-5` : `M${x - 3},${cy - 3} l6,6 M${x + 3},${cy - 3} l-6,6`;
        parts.push(`<g class="tl-end" data-kind="${esc(r.kind)}">${tip}<circle cx="${x}" cy="${cy}" r="7.5" fill="${color}"/><path d="${glyph}" stroke="#fff" stroke-width="1.8" fill="none"/></g>`);
      } else {
        const x = X(t), cy = y + LANE_H / 2;
        parts.push(`<path class="tl-mark" data-kind="${esc(r.kind)}" d="M${x},${cy - 7} L${x + 6},${cy} L${x},${cy + 7} L${x - 6},${cy} Z" fill="${color}" stroke="#fff" stroke-width="1.2">${tip}</path>`);
      }
    }

    // Snapshot sizes: bar height proportional to bytes; full images, deltas, the terminal record.
    const bySeq = new Map((snaps || []).map((s) => [s.seq, s]));
    const sized = ev.filter((e) => e.r.snapshot_bytes != null || e.r.journal_bytes != null);
    const maxBytes = Math.max(1, ...sized.map((e) => Math.max(e.r.snapshot_bytes || 0, e.r.journal_bytes || 0)));
    const xs = sized.map((e) => X(e.r.at ?? e.t));
    const gapsPx = xs.slice(1).map((x, i) => x - xs[i]).filter((g) => g > 0.5).sort((a, b) => a - b);
    const typical = gapsPx.length ? gapsPx[Math.floor(gapsPx.length / 2)] : 40;
    const bw = Math.max(3, Math.min(12, typical * 0.45));
    const base = SNAP_TOP + SNAP_H;
    parts.push(`<line x1="${ML}" y1="${base}" x2="${W - MR}" y2="${base}" stroke="#cbd2da"/>`);
    parts.push(`<text x="${ML - 6}" y="${SNAP_TOP + 8}" font-size="10.5" fill="#98a2b3" text-anchor="end">${esc(fmtBytes(maxBytes))}</text>`);
    parts.push(`<line x1="${ML - 3}" y1="${SNAP_TOP + 4}" x2="${ML}" y2="${SNAP_TOP + 4}" stroke="#cbd2da"/>`);
    sized.forEach((e, i) => {
      const r = e.r;
      const kind = r.snapshot_bytes != null ? r.snapshot || "terminal" : "journal";
      const bytes = r.snapshot_bytes ?? r.journal_bytes;
      const h = Math.max(2, (bytes / maxBytes) * (SNAP_H - 4));
      const o = bySeq.get(r.seq);
      const tip = [
        kind === "journal" ? `journal record #${r.journal_seq}` : `snapshot #${r.seq} · ${kind === "full" ? "full image" : kind === "delta" ? "delta" : "terminal record"}`,
        `${fmtBytes(bytes)} (${bytes} bytes)`,
        `step ${r.step} · ${r.kind}${r.name ? " " + r.name : ""}`,
        r.host ? `host ${r.host}` : "",
        o && o.base_seq != null ? `delta on #${o.base_seq} (chain from full #${o.full_seq})` : "",
        o && o.changed_chunks != null ? `${o.changed_chunks} changed chunks` : "",
      ];
      parts.push(`<rect class="tl-snap" data-snapshot="${esc(kind)}" x="${xs[i] - bw / 2}" y="${base - h}" width="${bw}" height="${h}" fill="${SNAP_COLORS[kind]}" stroke="${kind === "delta" ? "#14b8a6" : "none"}" stroke-width="0.8">${svgTitle(tip)}</rect>`);
    });

    // Now, while it is not over.
    if (!terminal) {
      const x = X(now);
      parts.push(`<line class="tl-now" x1="${x}" y1="${AXIS_Y + 4}" x2="${x}" y2="${base}" stroke="#111827" stroke-width="1" stroke-dasharray="2 3"/>`);
      parts.push(`<text x="${x - 4}" y="${base + 14}" font-size="10.5" fill="#111827" text-anchor="end">now</text>`);
    }
    parts.push(`<text x="${ML}" y="${base + 14}" font-size="10.5" fill="#98a2b3">${esc(fmtDate(t0))}</text>`);

    box.innerHTML = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="timeline of ${esc(st.id)}" data-bars="${bars}">${defs}${parts.join("")}</svg>`;

    const span = t1 - t0;
    const sumSnap = sized.reduce((a, e) => a + (e.r.snapshot_bytes || 0), 0);
    $("timeline-sub").textContent = `${plural(bars, "step bar")} · ${lanes.filter(Boolean).length || 0} host${lanes.length === 1 ? "" : "s"} · ${fmtDur(span)} of wall time · ${fmtBytes(sumSnap)} in snapshots`;
    renderLegend(rows, shades);
  }

  function renderLegend(rows, shades) {
    const has = (cls) => shades.some((s) => s.cls === cls);
    const [parked, waiting, transit, lost] = ["tl-parked", "tl-wait", "tl-transit", "tl-lost"].map(has);
    const present = new Set(rows.map((r) => (r.kind === "activity" && r.detail && r.detail.failed ? "failed_activity" : r.kind)));
    const sw = (body) => `<svg width="18" height="12" viewBox="0 0 18 12" aria-hidden="true">${body}</svg>`;
    const bar = (c) => sw(`<rect x="0" y="2" width="18" height="8" rx="2" fill="${c}"/>`);
    const dia = (c) => sw(`<path d="M9,0 L15,6 L9,12 L3,6 Z" fill="${c}"/>`);
    const vline = (c) => sw(`<line x1="9" y1="0" x2="9" y2="12" stroke="${c}" stroke-width="2" stroke-dasharray="3 2"/>`);
    const items = [
      [bar(KIND_COLORS.activity), "activity", true],
      [bar(KIND_COLORS.failed_activity), "activity failed", present.has("failed_activity")],
      [bar(KIND_COLORS.retry), "attempt to retry", present.has("retry")],
      [dia(KIND_COLORS.sleep), "sleep / timer", present.has("sleep") || present.has("timer_fired")],
      [dia(KIND_COLORS.signal), "signal wait / signal", present.has("signal_wait") || present.has("signal")],
      [dia(KIND_COLORS.cancelled), "cancelled", present.has("cancelled")],
      [vline(KIND_COLORS.restored), "restored from snapshot", present.has("restored")],
      [vline(KIND_COLORS.migrated), "migrated to another host", present.has("migrated") || present.has("migrating")],
      [sw(`<rect width="18" height="12" fill="url(#tl-hatch)"/><rect width="18" height="12" fill="#8b5cf6" fill-opacity=".15"/>`), "parked", parked],
      [sw(`<rect width="18" height="12" fill="#8b5cf6" fill-opacity=".12"/>`), "waiting in memory", waiting],
      [sw(`<rect width="18" height="12" fill="#f97316" fill-opacity=".2"/>`), "in transit", transit],
      [sw(`<rect width="18" height="12" fill="url(#tl-lost)"/><rect width="18" height="12" fill="#64748b" fill-opacity=".1"/>`), "host lost", lost],
      [bar(SNAP_COLORS.full), "full snapshot", true],
      [sw(`<rect x="0" y="2" width="18" height="8" rx="2" fill="${SNAP_COLORS.delta}" stroke="#14b8a6"/>`), "delta snapshot", true],
      [bar(SNAP_COLORS.terminal), "terminal record", true],
      [bar(SNAP_COLORS.journal), "journal record", rows.some((r) => r.journal_bytes != null)],
    ];
    $("legend").innerHTML = items.filter((i) => i[2]).map(([s, label]) => `<span>${s}${esc(label)}</span>`).join("");
  }

  function renderDetail() {
    const { st, rows, snaps } = detail.data;
    document.title = `${st.id} · ${st.status} · Tardigrade`;
    $("crumb-id").textContent = st.id;
    renderSummary(st, rows);
    renderTimeline(st, rows, snaps);
    renderOutput(st);
    const t0 = Math.min(st.created_at, ...rows.map(rowTime).filter((t) => t != null));
    renderEvents(rows, t0);
    detail.renderedAt = Date.now();
  }

  async function refreshDetail(id) {
    const q = encodeURIComponent(id);
    const [st, rows, snaps] = await Promise.all([
      getJSON(`v1/executions/${q}`),
      getJSON(`v1/executions/${q}/history`),
      getJSON(`v1/executions/${q}/snapshots`),
    ]);
    if (detail.id !== id) return true;
    const key = JSON.stringify([st, rows, snaps]);
    const terminal = TERMINAL.has(st.status);
    $("detail-error").hidden = true;
    $("detail-body").hidden = false;
    // Redraw only when something changed, or (while it is not over) every few seconds so
    // the "now" line and the parked period keep up: no flicker, tooltips stay put.
    if (key !== detail.key || (!terminal && Date.now() - detail.renderedAt > 4000)) {
      detail.key = key;
      detail.data = { st, rows, snaps };
      renderDetail();
    }
    return !terminal;
  }

  // -- routing and refresh loops ----------------------------------------------------------

  let generation = 0;

  function route() {
    const h = location.hash || "#/";
    const m = h.match(/^#\/executions\/(.+)$/);
    if (m) {
      let id;
      try {
        id = decodeURIComponent(m[1]);
      } catch (_) {
        id = m[1];
      }
      return { view: "detail", id };
    }
    const s = h.match(/[?&]status=([a-z]+)/);
    return { view: "list", status: s && STATUSES.includes(s[1]) ? s[1] : "" };
  }

  function loop(gen, fn, everyMs) {
    const tick = async () => {
      if (gen !== generation) return;
      let again = true;
      try {
        again = (await fn()) !== false;
        setConn(true);
      } catch (e) {
        if (e instanceof ApiError && e.status === 404 && detail.id) {
          $("detail-error").hidden = false;
          $("detail-error").textContent = `No execution with id “${detail.id}” on this store.`;
          $("detail-body").hidden = true;
          setConn(true);
          again = false;
        } else {
          setConn(false, e instanceof ApiError ? `error ${e.status}: ${e.message}` : "cannot reach the host; retrying");
        }
      }
      if (again && gen === generation) setTimeout(tick, everyMs);
    };
    tick();
  }

  function show() {
    const r = route();
    generation++;
    const gen = generation;
    $("list-view").hidden = r.view !== "list";
    $("detail-view").hidden = r.view !== "detail";
    if (r.view === "list") {
      detail.id = null;
      document.title = "Executions · Tardigrade";
      list.status = r.status;
      if (list.rows) renderList();
      loop(gen, refreshList, LIST_EVERY_MS);
    } else {
      if (detail.id !== r.id) {
        detail.id = r.id;
        detail.key = "";
        detail.data = null;
        $("crumb-id").textContent = r.id;
        $("summary").innerHTML = '<p class="empty">Loading…</p>';
        for (const el of ["timeline", "legend", "events", "output"]) $(el).innerHTML = "";
      }
      window.scrollTo(0, 0);
      loop(gen, () => refreshDetail(r.id), DETAIL_EVERY_MS);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("filters").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-status]");
      if (!b) return;
      const s = b.dataset.status;
      location.hash = s ? `#/?status=${s}` : "#/";
    });
    $("exec-rows").addEventListener("click", (e) => {
      if (e.target.closest("a")) return;
      const tr = e.target.closest("tr[data-href]");
      if (tr) location.hash = tr.dataset.href;
    });
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => detail.data && renderDetail(), 150);
    });
    window.addEventListener("hashchange", show);
    const hostLoop = async () => {
      try {
        await refreshHosts();
      } catch (_) {
        /* the list and detail loops report connection trouble */
      }
      setTimeout(hostLoop, LIST_EVERY_MS);
    };
    hostLoop();
    show();
  });
})();
