// Overview: headline figures and charts from the sandbox's SQL reports
// (/v1/dashboard/reports/NAME; a participant key sees its own payments only).

import { ApiProblem, api } from "../api.js";
import { barChart, stackedColumns } from "../charts.js";
import { empty, fill, h, int, money, panel, table } from "../dom.js";

async function report(name) {
  try {
    return await api(`/v1/dashboard/reports/${name}`);
  } catch (error) {
    if (error instanceof ApiProblem) return { error };
    throw error;
  }
}

function unavailable(result) {
  return h("p", { class: "empty" }, `Not available: ${result.error.code} (${result.error.message})`);
}

function sum(rows, column) {
  return rows.reduce((total, row) => total + Number(row[column] || 0), 0);
}

function cards(states, currencies, funnel) {
  const out = h("div", { class: "cards", id: "overview-cards" });
  if (!states.error) {
    const committed = sum(states.rows.filter((r) => r.state === "committed"), "payments");
    const others = {};
    for (const row of states.rows) {
      if (row.state !== "committed") others[row.state] = (others[row.state] || 0) + row.payments;
    }
    out.append(
      h(
        "div",
        { class: "card" },
        h("div", { class: "label" }, "Committed payments"),
        h("div", { class: "value", id: "committed-count" }, int(committed)),
        h("div", { class: "sub" }, Object.entries(others).map(([s, n]) => `${int(n)} ${s}`).join(" · ") || "no others"),
      ),
    );
  }
  if (!currencies.error) {
    for (const row of currencies.rows) {
      out.append(
        h(
          "div",
          { class: "card" },
          h("div", { class: "label" }, `${row.currency}: paid by wallets`),
          h("div", { class: "value" }, money(row.paid_amount, row.currency)),
          h("div", { class: "sub" }, `${int(row.payments_paid)} payments · merchants received ${money(row.received_amount, row.currency)}`),
        ),
      );
    }
  }
  if (funnel && !funnel.error) {
    const alerts = sum(funnel.rows.filter((r) => r.stage === "alerts"), "count");
    const cases = funnel.rows.find((r) => r.stage === "cases" && r.key === "total");
    const open = funnel.rows.filter((r) => r.stage === "cases_by_state" && r.key !== "closed");
    out.append(
      h(
        "div",
        { class: "card" },
        h("div", { class: "label" }, "Monitoring alerts"),
        h("div", { class: "value" }, int(alerts)),
        h("div", { class: "sub" }, `${int(cases ? cases.count : 0)} cases, ${int(sum(open, "count"))} not closed`),
      ),
    );
  }
  return out;
}

function corridorPanel(result) {
  if (result.error) return panel("Payments per day by corridor", unavailable(result));
  const days = [...new Set(result.rows.map((r) => r.day))].sort();
  const corridors = [...new Set(result.rows.map((r) => r.corridor))].sort();
  if (!days.length) return panel("Payments per day by corridor", empty("No committed payments yet."));
  const series = corridors.map((corridor) => ({
    name: corridor,
    values: days.map((day) => sum(result.rows.filter((r) => r.day === day && r.corridor === corridor), "payments")),
  }));
  const totals = new Map();
  for (const row of result.rows) {
    const key = `${row.corridor}|${row.source_currency}|${row.target_currency}`;
    const entry = totals.get(key) || { corridor: row.corridor, source: row.source_currency, target: row.target_currency, payments: 0, paid: 0n, received: 0n };
    entry.payments += row.payments;
    entry.paid += BigInt(row.source_amount) + BigInt(row.fee_amount);
    entry.received += BigInt(row.target_amount);
    totals.set(key, entry);
  }
  return panel(
    "Payments per day by corridor",
    h("p", { class: "note" }, "Committed payments per day (Japan time), stacked by payer country – merchant country."),
    stackedColumns(days, series, { unit: " payments" }),
    table(
      [
        { label: "Corridor", value: (r) => r.corridor },
        { label: "Payments", value: (r) => int(r.payments), num: true },
        { label: "Paid (with fees)", value: (r) => money(r.paid, r.source), num: true },
        { label: "Merchants received", value: (r) => money(r.received, r.target), num: true },
      ],
      [...totals.values()],
    ),
  );
}

function spendPanel(result) {
  if (result.error) return panel("Average spend per trip", unavailable(result));
  const rows = result.rows.filter((r) => r.trips > 0);
  if (!rows.length) return panel("Average spend per trip", empty("No trips yet."));
  return panel(
    "Average spend per trip",
    h("p", { class: "note" }, "Per wallet, in its currency: one customer is one trip; labelled (suspicious) parties are left out. Each currency has its own scale."),
    barChart(
      rows.map((r) => ({
        group: r.currency,
        label: `${r.wallet_id} (${r.country})`,
        value: r.average_spend,
        text: `${money(r.average_spend, r.currency)} · ${int(r.trips)} trips`,
      })),
    ),
    table(
      [
        { label: "Wallet", value: (r) => r.wallet_id },
        { label: "Trips", value: (r) => int(r.trips), num: true },
        { label: "Payments", value: (r) => int(r.payments), num: true },
        { label: "Average", value: (r) => money(r.average_spend, r.currency), num: true },
        { label: "Net of refunds", value: (r) => money(r.average_net_spend, r.currency), num: true },
      ],
      rows,
    ),
  );
}

function fxPanel(result) {
  if (result.error) return panel("FX volume", unavailable(result));
  if (!result.rows.length) return panel("FX volume", empty("No conversions yet."));
  return panel(
    "FX volume",
    h("p", { class: "note" }, "Converted per FX provider and currency pair (source amounts; each source currency on its own scale)."),
    barChart(
      result.rows.map((r) => ({
        group: r.source_currency,
        label: `${r.provider_id} ${r.source_currency}→${r.target_currency}`,
        value: r.source_amount,
        text: `${money(r.source_amount, r.source_currency)} → ${money(r.target_amount, r.target_currency)}`,
        title: `${r.payments} payments, effective rate ${r.effective_rate}`,
      })),
    ),
    table(
      [
        { label: "Provider", value: (r) => r.provider_id },
        { label: "Pair", value: (r) => `${r.source_currency}→${r.target_currency}` },
        { label: "Payments", value: (r) => int(r.payments), num: true },
        { label: "Fees", value: (r) => money(r.fee_amount, r.source_currency), num: true },
        { label: "Effective rate", value: (r) => r.effective_rate ?? "–", num: true },
      ],
      result.rows,
    ),
  );
}

function alertsPanel(result) {
  if (result.error) return panel("Alerts by rule", unavailable(result));
  const byRule = result.rows.filter((r) => r.stage === "alerts");
  if (!byRule.length) return panel("Alerts by rule", empty("No alerts."));
  const rest = result.rows.filter((r) => r.stage !== "alerts");
  return panel(
    "Alerts by rule",
    barChart(byRule.map((r) => ({ label: r.key, value: r.count, text: int(r.count) })), { labelWidth: 230 }),
    h("h3", {}, "Funnel"),
    table(
      [
        { label: "Stage", value: (r) => r.stage.replaceAll("_", " ") },
        { label: "Key", value: (r) => r.key },
        { label: "Count", value: (r) => int(r.count), num: true },
      ],
      rest,
    ),
  );
}

function categoryPanel(result) {
  if (result.error) return panel("Volume by merchant category", unavailable(result));
  if (!result.rows.length) return panel("Volume by merchant category", empty("No payments yet."));
  return panel(
    "Volume by merchant category",
    barChart(
      result.rows.map((r) => ({
        group: r.currency,
        label: r.category,
        value: r.volume,
        text: `${money(r.volume, r.currency)} · ${int(r.payments)}`,
      })),
      { labelWidth: 200 },
    ),
  );
}

export async function render(root, context) {
  const compliance = context.me.role !== "participant";
  const [states, currencies, corridors, spend, fx, categories, funnel] = await Promise.all([
    report("payments_by_state"),
    report("volume_by_currency"),
    report("volume_by_corridor_day"),
    report("spend_per_trip"),
    report("fx_volume"),
    report("by_category"),
    compliance ? report("alert_funnel") : null,
  ]);
  const scope = context.me.participant_id ? ` (payments of ${context.me.participant_id} only)` : "";
  fill(root,
    h("h1", {}, `Overview${scope}`),
    cards(states, currencies, funnel),
    h(
      "div",
      { class: "grid" },
      corridorPanel(corridors),
      spendPanel(spend),
      fxPanel(fx),
      funnel ? alertsPanel(funnel) : null,
      categoryPanel(categories),
    ),
  );
}
