// The compliance work queue: cases (GET /v1/compliance/cases) and alerts
// (GET /v1/compliance/alerts). A case opens its page, where it is worked.

import { api, query } from "../api.js";
import { badge, empty, fill, h, int, panel, table, timeNs } from "../dom.js";

const STATES = ["", "open", "investigating", "escalated", "closed"];
const LIMIT = 1000;

function tabs(current) {
  return h(
    "div",
    { class: "actions" },
    h("a", { href: "#/cases", class: current === "cases" ? "badge" : null }, "Cases"),
    h("a", { href: "#/cases?tab=alerts", class: current === "alerts" ? "badge" : null }, "Alerts"),
  );
}

async function casesTab(root, context) {
  const state = context.params.get("state") || "";
  const assignee = context.params.get("assignee") || "";
  const result = await api(`/v1/compliance/cases${query({ state, assignee, limit: LIMIT })}`);
  const form = h(
    "form",
    { class: "filters" },
    h("label", {}, "State", h("select", { name: "state" }, STATES.map((s) => h("option", { value: s, selected: s === state }, s || "any")))),
    h("label", {}, "Assignee", h("input", { name: "assignee", value: assignee, size: 16 })),
    h("button", { type: "submit" }, "Filter"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    context.navigate(`#/cases${query({ state: data.get("state"), assignee: String(data.get("assignee") || "").trim() })}`);
  });
  const counts = {};
  for (const c of result.cases) counts[c.state] = (counts[c.state] || 0) + 1;
  fill(root,
    panel(
      null,
      form,
      h("p", { class: "note", id: "case-count" }, `${int(result.cases.length)} cases` + (Object.keys(counts).length ? ` (${Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(", ")})` : "")),
      result.cases.length
        ? table(
            [
              { label: "Case", value: (c) => h("a", { href: `#/case/${c.case_id}` }, `#${c.case_id}`) },
              { label: "Subject", value: (c) => c.subject },
              { label: "State", value: (c) => badge(c.state) },
              { label: "Disposition", value: (c) => c.disposition || "–" },
              { label: "Assignee", value: (c) => c.assignee || "–" },
              { label: "Opened", value: (c) => timeNs(c.opened_ns) },
              { label: "Updated", value: (c) => timeNs(c.updated_ns) },
            ],
            result.cases,
            { onRow: (c) => context.navigate(`#/case/${c.case_id}`), rowId: (c) => String(c.case_id) },
          )
        : empty("No case."),
    ),
  );
}

async function alertsTab(root, context) {
  const rule = context.params.get("rule") || "";
  const result = await api(`/v1/compliance/alerts${query({ rule, limit: LIMIT })}`);
  const rules = [...new Set(result.alerts.map((a) => a.rule))].sort();
  fill(root,
    panel(
      null,
      h(
        "div",
        { class: "actions" },
        "Rule:",
        h("a", { href: "#/cases?tab=alerts", class: rule ? null : "badge" }, "all"),
        rules.map((r) => h("a", { href: `#/cases${query({ tab: "alerts", rule: r })}`, class: r === rule ? "badge" : null }, r)),
      ),
      result.alerts.length
        ? table(
            [
              { label: "When", value: (a) => timeNs(a.at_ns) },
              { label: "Rule", value: (a) => a.rule },
              { label: "Score", value: (a) => a.score.toFixed(2), num: true },
              { label: "Verdict", value: (a) => badge(a.verdict, a.verdict === "block" ? "bad" : "warn") },
              { label: "Payment", value: (a) => h("a", { href: `#/payment/${encodeURIComponent(a.payment_id)}` }, a.payment_id) },
              { label: "Subject", value: (a) => a.subject },
            ],
            result.alerts,
          )
        : empty("No alert."),
    ),
  );
}

export async function render(root, context) {
  const tab = context.params.get("tab") === "alerts" ? "alerts" : "cases";
  fill(root, h("h1", {}, "Alerts and cases"), tabs(tab));
  if (tab === "alerts") await alertsTab(root, context);
  else await casesTab(root, context);
  if (!context.me.actions.includes("work_cases")) {
    fill(root, h("p", { class: "note muted" }, `A ${context.me.role} key reads cases; it cannot work them.`));
  }
}
