// Detection: how well the monitoring rules caught the typologies the sandbox injected
// (GET /v1/dashboard/detection), recall and precision per typology.

import { api } from "../api.js";
import { barChart } from "../charts.js";
import { empty, facts, fill, h, int, panel, percent, table, timeNs } from "../dom.js";

const RECALL = "#1f77b4";
const PRECISION = "#ff7f0e";

export async function render(root, context) {
  const data = await api("/v1/dashboard/detection");
  fill(root, h("h1", {}, "Detection of labelled typologies"));
  const run = data.run
    ? panel(
        "Simulation",
        facts([
          ["Run", `#${data.run.run_id}, seed ${data.run.seed}`],
          ["Size", `${int(data.run.tourists)} tourists over ${data.run.days} days from ${data.run.start_date}`],
          ["Simulated at", timeNs(data.run.created_ns)],
        ]),
      )
    : null;
  if (!data.available) {
    fill(root, h("div", { class: "grid" }, run, panel("Scores", h("p", { class: "empty", id: "detection-unavailable" }, `Not available: ${data.reason}`))));
    return;
  }
  const scores = data.scores;
  const typologies = Object.entries(scores.typologies).map(([name, entry]) => ({ name, ...entry }));
  const bars = [];
  for (const t of typologies) {
    bars.push({ group: t.name, label: "payment recall", value: t.payment_recall ?? 0, text: percent(t.payment_recall), color: RECALL });
    bars.push({ group: t.name, label: "payment precision", value: t.payment_precision ?? 0, text: percent(t.payment_precision), color: PRECISION });
  }
  fill(root,
    h(
      "div",
      { class: "grid" },
      run,
      panel(
        "Recall and precision",
        h("p", { class: "note" }, "Recall: labelled pattern payments that raised an alert of the typology's rules. Precision: alerted payments of those rules that carry the typology's label. Scored now, from the alerts stored."),
        barChart(bars, { max: 1, labelWidth: 140 }),
        h("div", { class: "legend" }, h("span", {}, h("span", { class: "swatch sw-0" }), "recall"), h("span", {}, h("span", { class: "swatch sw-1" }), "precision")),
      ),
      panel(
        "Alerts by rule",
        Object.keys(scores.alerts_by_rule).length
          ? barChart(Object.entries(scores.alerts_by_rule).map(([rule, n]) => ({ label: rule, value: n, text: int(n) })), { labelWidth: 230 })
          : empty("No alert."),
        h("p", { class: "note" }, `${int(scores.alerts)} alerts on ${int(scores.alerted_payments)} payments, ${int(scores.alerted_payments_unlabelled)} of them without any label.`),
      ),
    ),
    h("div", { class: "grid wide" },
      panel(
        "Per typology",
        table(
          [
            { label: "Typology", value: (t) => t.name },
            { label: "Rules", value: (t) => t.rules.join(", ") || "none fired" },
            { label: "Labelled payments", value: (t) => int(t.labelled_payments), num: true },
            { label: "Detected", value: (t) => int(t.detected_payments), num: true },
            { label: "Recall", value: (t) => percent(t.payment_recall), num: true },
            { label: "Alerted", value: (t) => int(t.alerted_payments), num: true },
            { label: "Precision", value: (t) => percent(t.payment_precision), num: true },
            { label: "Parties", value: (t) => `${int(t.detected_parties)}/${int(t.labelled_parties)}`, num: true },
            { label: "Party recall", value: (t) => percent(t.party_recall), num: true },
            { label: "Party precision", value: (t) => percent(t.party_precision), num: true },
            { label: "Any-rule recall", value: (t) => percent(t.any_rule_recall), num: true },
          ],
          typologies,
          { rowId: (t) => t.name },
        ),
      ),
    ),
  );
}
