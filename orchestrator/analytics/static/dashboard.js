// Nudgeflow analytics dashboard: fetch /api/report with the filters, draw Chart.js charts
// and tables. Every number drawn is also put in data-* attributes for tests and scrapers.
"use strict";

const $ = (id) => document.getElementById(id);
const pct = (v) => (v === null || v === undefined ? "–" : (v * 100).toFixed(1) + "%");
const hrs = (v) => (v === null || v === undefined ? "–" : v < 48 ? v.toFixed(1) + " h" : (v / 24).toFixed(1) + " d");
const charts = [];
let renders = 0;
let lastReport = null;

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function card(parent, title, attrs) {
  const box = el("div", { class: "card", ...attrs });
  box.appendChild(el("h3", {}, title));
  parent.appendChild(box);
  return box;
}

function barChart(box, kind, labels, values, label, options = {}) {
  const canvas = el("canvas", { "data-chart": kind, "data-labels": JSON.stringify(labels),
                                "data-values": JSON.stringify(values) });
  box.appendChild(canvas);
  charts.push(new Chart(canvas, {
    type: "bar",
    data: { labels, datasets: [{ label, data: values, backgroundColor: options.color || "#6366f1" }] },
    options: { animation: false, responsive: true, indexAxis: options.horizontal ? "y" : "x",
               plugins: { legend: { display: false } }, scales: options.scales || {} },
  }));
}

function table(parent, headers, rows, attrs = {}) {
  const t = el("table", attrs);
  const head = el("tr");
  headers.forEach((h) => head.appendChild(el("th", {}, h)));
  t.appendChild(head);
  rows.forEach((row) => {
    const tr = el("tr", row.attrs || {});
    row.cells.forEach((c) => {
      const td = el("td", c.attrs || {}, c.text);
      if (c.style) td.setAttribute("style", c.style);
      tr.appendChild(td);
    });
    t.appendChild(tr);
  });
  parent.appendChild(t);
  return t;
}

function empty(parent, text = "No data for these filters.") {
  parent.appendChild(el("p", { class: "empty" }, text));
}

function renderFunnels(report) {
  const root = $("funnels");
  report.funnels.forEach((f) => {
    const box = card(root, `${f.playbook_id} — ${f.entered} users entered`,
                     { "data-funnel": f.playbook_id, "data-entered": f.entered });
    barChart(box, "funnel", ["entered", ...f.steps.map((s) => s.milestone_id)],
             [f.entered, ...f.steps.map((s) => s.reached)], "users", { horizontal: true });
    table(box, ["step", "reached", "conversion", "drop-off", "median time from previous"], f.steps.map((s) => ({
      attrs: { "data-step": s.milestone_id, "data-reached": s.reached,
               "data-conversion": s.conversion_from_previous ?? "" },
      cells: [{ text: s.title }, { text: s.reached }, { text: pct(s.conversion_from_previous) },
              { text: s.drop_off }, { text: hrs(s.median_hours_from_previous) }],
    })));
  });
  if (!report.funnels.length) empty(root);
}

function renderTtfv(report) {
  const root = $("ttfv");
  report.ttfv.forEach((t) => {
    const box = card(root, `${t.playbook_id}: signup → ${t.first_value}`, {
      "data-ttfv": t.playbook_id, "data-reached": t.reached,
      "data-median": t.overall.median_hours ?? "", "data-p90": t.overall.p90_hours ?? "" });
    box.appendChild(el("p", { class: "stats" },
      `${t.reached} of ${t.entered} users · median ${hrs(t.overall.median_hours)} · p90 ${hrs(t.overall.p90_hours)}`));
    barChart(box, "ttfv", t.histogram.map((b) => b.label), t.histogram.map((b) => b.count), "users",
             { color: "#0ea5e9" });
    table(box, ["role", "users", "median", "p90"], t.by_role.map((d) => ({
      attrs: { "data-role": d.key, "data-median": d.median_hours ?? "" },
      cells: [{ text: d.key }, { text: d.users }, { text: hrs(d.median_hours) }, { text: hrs(d.p90_hours) }],
    })));
  });
  if (!report.ttfv.length) empty(root);
}

function heat(share) {
  if (share === null) return "background:#f3f4f6";
  const light = 96 - Math.round(share * 56);
  return `background:hsl(152,60%,${light}%);color:${light < 60 ? "#fff" : "#111"}`;
}

function renderCohorts(report) {
  const root = $("cohorts");
  report.cohorts.forEach((c) => {
    const fv = (report.ttfv.find((t) => t.playbook_id === c.playbook_id) || {}).first_value || c.milestones[0];
    root.appendChild(el("h3", {}, `${c.playbook_id}: ${fv}`));
    table(root, ["signup week", "users", ...c.windows.map((d) => `≤ ${d}d`)], c.rows.map((r) => ({
      attrs: { "data-week": r.week, "data-users": r.users },
      cells: [{ text: r.week }, { text: r.users }, ...c.windows.map((d) => {
        const cell = r.cells.find((x) => x.milestone_id === fv && x.days === d);
        return { text: pct(cell.share), style: heat(cell.share),
                 attrs: { "data-days": d, "data-share": cell.share ?? "", "data-eligible": cell.eligible } };
      })],
    })), { "data-cohorts": c.playbook_id, "data-milestone": fv, class: "heatmap" });
    if (!c.rows.length) empty(root);
  });
}

function renderSummary(report) {
  const root = $("summary");
  const claims = report.summary || [];
  claims.forEach((c) => {
    const line = el("p", { "data-claim": c.section }, `${c.text} `);
    line.appendChild(el("a", { href: `#${c.section}` }, "See the chart"));
    root.appendChild(line);
  });
  if (!claims.length) empty(root, "Not enough settled data yet for a summary.");
}

function renderRetention(report) {
  const root = $("retention");
  const rows = report.retention || [];
  if (!rows.some((r) => r.week)) { empty(root); return; }
  const days = rows[0].cells.map((c) => c.days);
  table(root, ["signup week", "users", ...days.map((d) => `day ${d}`)], rows.map((r) => ({
    attrs: { "data-week": r.week || "all", "data-users": r.users },
    cells: [{ text: r.week || "all weeks" }, { text: r.users }, ...r.cells.map((c) => ({
      text: pct(c.share), style: heat(c.share),
      attrs: { "data-days": c.days, "data-share": c.share ?? "", "data-eligible": c.eligible, "data-active": c.active },
    }))],
  })), { "data-retention": "weeks", class: "heatmap" });
}

function renderValue(report) {
  const root = $("value");
  const rows = report.value || [];
  if (!rows.some((r) => r.week)) { empty(root); return; }
  const days = rows[0].cells.map((c) => c.days);
  const headers = ["signup week", "users", ...days.map((d) => `expanded ≤ ${d}d`), ...days.map((d) => `advocates ≤ ${d}d`)];
  table(root, headers, rows.map((r) => ({
    attrs: { "data-week": r.week || "all", "data-users": r.users },
    cells: [{ text: r.week || "all weeks" }, { text: r.users },
      ...r.cells.map((c) => ({ text: pct(c.expansion_share), style: heat(c.expansion_share),
        attrs: { "data-days": c.days, "data-expanded": c.expanded, "data-eligible": c.eligible } })),
      ...r.cells.map((c) => ({ text: pct(c.advocacy_share), style: heat(c.advocacy_share),
        attrs: { "data-days": c.days, "data-advocates": c.advocates, "data-eligible": c.eligible } }))],
  })), { "data-value": "weeks", class: "heatmap" });
}

function renderAccounts(report) {
  const rows = report.accounts || [];
  if (!rows.length) { empty($("accounts"), "No accounts yet: send Segment group calls to see them."); return; }
  table($("accounts"), ["playbook", "step", "accounts", "any member", "every member", "2+ members"], rows.map((a) => ({
    attrs: { "data-account-step": `${a.playbook_id}/${a.milestone_id}`, "data-any": a.any_member, "data-all": a.all_members },
    cells: [{ text: a.playbook_id }, { text: a.title }, { text: a.accounts }, { text: a.any_member },
            { text: a.all_members }, { text: a.two_or_more }],
  })));
}

function renderFeedback(report) {
  // Role and playbook filter on the server; the variant here, over the rows already fetched.
  const root = $("feedback");
  root.replaceChildren();
  const variant = $("variant").value;
  const shown = (r) => !variant || r.variant === variant;
  const rows = (report.feedback || []).filter(shown);
  if (!rows.length) { empty(root, "No survey answers yet: add a survey to an in-app message."); return; }
  table(root, ["playbook", "step", "message", "variant", "answers", "mean rating", "satisfied", "comments"],
    rows.map((f) => ({
      attrs: { "data-feedback-step": `${f.playbook_id}/${f.milestone_id}`, "data-variant": f.variant,
               "data-answers": f.answers, "data-mean": f.mean_rating.toFixed(2) },
      cells: [{ text: f.playbook_id }, { text: f.title }, { text: f.kind }, { text: f.variant || "–" },
              { text: f.answers }, { text: `${f.mean_rating.toFixed(2)} / ${f.scale}` }, { text: pct(f.satisfied) },
              { text: f.comments }],
    })));
  const comments = (report.comments || []).filter(shown);
  const list = el("ul", { class: "comments", "data-comments": comments.length });
  comments.forEach((c) => list.appendChild(el("li", { "data-variant": c.variant },
    `“${c.comment}” — ${c.rating}/${c.scale}, ${c.role}, ${c.playbook_id} / ${c.milestone_id}` +
    `${c.variant ? ", " + c.variant : ""}, ${c.at.slice(0, 10)}`)));
  root.appendChild(list);
}

function renderExperiments(report) {
  const root = $("experiments");
  report.experiments.forEach((e) => {
    const box = card(root, `${e.experiment} (${e.metric_milestone || "no metric"}; control: ${e.control})`,
                     { "data-experiment": e.experiment });
    if (e.sample_ratio_p_value !== null && e.sample_ratio_p_value !== undefined) {
      const srm = e.sample_ratio_mismatch;
      box.appendChild(el("p", { "data-srm": String(srm), class: srm ? "warn" : "note" }, srm
        ? `Sample ratio mismatch (p = ${e.sample_ratio_p_value.toPrecision(2)}): users are not split as the playbook says; don't trust these results.`
        : `Split as the playbook says (sample ratio check p = ${e.sample_ratio_p_value.toPrecision(2)}).`));
    }
    barChart(box, "experiment", e.variants.map((v) => v.label), e.variants.map((v) => v.rate), "conversion",
             { color: "#f59e0b", scales: { y: { min: 0, max: 1 } } });
    const lifts = Object.fromEntries(e.lifts.map((l) => [l.variant, l.lift]));
    table(box, ["variant", "users", "converted", "rate", "95% CI", "lift vs control", "lift 95% CI", "p"],
      e.variants.map((v) => {
        const l = lifts[v.label];
        return {
          attrs: { "data-variant": v.label, "data-rate": v.rate ?? "", "data-lift": l ? l.absolute : "",
                   "data-significant": l ? String(l.significant) : "" },
          cells: [{ text: v.label }, { text: v.users }, { text: v.converted }, { text: pct(v.rate) },
                  { text: `${pct(v.ci_low)} – ${pct(v.ci_high)}` },
                  { text: l ? pct(l.absolute) : "control", attrs: l && l.significant ? { class: "sig" } : {} },
                  { text: l ? `${pct(l.absolute_ci_low)} – ${pct(l.absolute_ci_high)}` : "" },
                  { text: l ? l.p_value.toPrecision(2) : "" }],
        };
      }));
    const funnels = (report.variant_funnels || []).filter((f) => f.experiment === e.experiment);
    if (funnels.length) {
      const steps = funnels[0].steps;
      box.appendChild(el("h4", {}, "Funnel per variant (users who completed each step and every step before it)"));
      table(box, ["variant", "entered", ...steps.map((x) => x.title)], funnels.map((f) => ({
        attrs: { "data-variant-funnel": f.variant, "data-entered": f.entered },
        cells: [{ text: f.variant }, { text: f.entered },
                ...f.steps.map((x) => ({ text: `${x.reached} (${pct(x.conversion_from_start)})`,
                                         attrs: { "data-step": x.milestone_id, "data-reached": x.reached } }))],
      })));
    }
  });
  if (!report.experiments.length) empty(root, "No exposures recorded.");
}

function renderSmallTables(report) {
  if (report.nudges.length) {
    table($("nudges"), ["playbook", "milestone", "window", "nudged", "holdout", "lift"], report.nudges.map((n) => ({
      attrs: { "data-nudge": `${n.playbook_id}/${n.milestone_id}` },
      cells: [{ text: n.playbook_id }, { text: n.milestone_id }, { text: `${n.hours} h` },
              { text: `${pct(n.nudged.rate)} of ${n.nudged.users}` },
              { text: `${pct(n.holdout.rate)} of ${n.holdout.users}` },
              { text: n.lift ? `${pct(n.lift.absolute)} (${pct(n.lift.absolute_ci_low)} – ${pct(n.lift.absolute_ci_high)})` : "–" }],
    })));
  } else empty($("nudges"));
  if (report.adoption.length) {
    table($("adoption"), ["playbook", "milestone", "event", "unlocked", "used within", "share"], report.adoption.map((a) => ({
      attrs: { "data-adoption": `${a.playbook_id}/${a.milestone_id}`, "data-share": a.share ?? "" },
      cells: [{ text: a.playbook_id }, { text: a.milestone_id }, { text: a.event }, { text: a.unlocked },
              { text: `${a.days} d` }, { text: `${pct(a.share)} of ${a.eligible}` }],
    })));
  } else empty($("adoption"));
  table($("repeat"), ["workflow event", "users", "used on 2+ days", "median uses"], report.repeat_usage.map((r) => ({
    attrs: { "data-repeat": r.event, "data-share": r.share ?? "" },
    cells: [{ text: r.event }, { text: r.users }, { text: pct(r.share) }, { text: r.median_uses ?? "–" }],
  })));
}

function fillSelect(select, values) {
  const current = select.value;
  [...select.options].slice(1).forEach((o) => o.remove());
  values.forEach((v) => select.appendChild(el("option", { value: v }, v)));
  select.value = values.includes(current) ? current : "";
}

async function refresh() {
  document.body.dataset.state = "loading";
  const params = new URLSearchParams();
  for (const id of ["playbook", "role", "from", "to"]) if ($(id).value) params.set(id, $(id).value);
  const response = await fetch("/api/report?" + params.toString());
  const report = await response.json();
  charts.splice(0).forEach((c) => c.destroy());
  const sections = ["summary", "funnels", "ttfv", "cohorts", "retention", "value", "accounts", "experiments", "nudges",
                    "adoption", "repeat"];
  for (const id of sections) {
    $(id).replaceChildren();
  }
  fillSelect($("playbook"), report.playbooks);
  fillSelect($("role"), report.roles);
  $("as-of").textContent = `Data up to ${report.as_of || "—"} (event time).`;
  renderSummary(report);
  renderFunnels(report);
  renderTtfv(report);
  renderCohorts(report);
  renderRetention(report);
  renderValue(report);
  renderAccounts(report);
  fillSelect($("variant"), [...new Set((report.feedback || []).map((f) => f.variant).filter((v) => v))].sort());
  renderFeedback(report);
  lastReport = report;
  renderExperiments(report);
  renderSmallTables(report);
  renders += 1;
  document.body.dataset.renderCount = String(renders);
  document.body.dataset.query = params.toString();
  document.body.dataset.state = "ready";
}

$("filters").addEventListener("change", () => refresh());
$("variant").addEventListener("change", () => {
  if (!lastReport) return;
  renderFeedback(lastReport);
  document.body.dataset.variant = $("variant").value;
});
refresh();
