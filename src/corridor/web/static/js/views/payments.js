// Payments: search (GET /v1/dashboard/payments) with the filters kept in the URL, newest
// first; a row opens the payment.

import { api, query } from "../api.js";
import { badge, empty, fill, h, int, moneyOut, panel, table, timeNs } from "../dom.js";

const FILTERS = ["q", "state", "wallet_id", "acquirer_id", "merchant_id", "region", "day"];
const STATES = ["", "committed", "reserved", "aborted", "expired", "received"];
const PAGE = 50;

function field(name, label, value, attributes = {}) {
  return h("label", {}, label, h("input", { name, value: value || "", ...attributes }));
}

export async function render(root, context) {
  const params = context.params;
  const page = Math.max(0, Number(params.get("page") || 0) | 0);
  const filters = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) || ""]));
  const result = await api(`/v1/dashboard/payments${query({ ...filters, limit: PAGE, offset: page * PAGE })}`);

  const form = h(
    "form",
    { class: "filters", id: "payment-search" },
    field("q", "Payment, customer or merchant id", filters.q, { placeholder: "p0000… / c0000… / m0…", size: 22 }),
    h(
      "label",
      {},
      "State",
      h("select", { name: "state" }, STATES.map((s) => h("option", { value: s, selected: s === filters.state }, s || "any"))),
    ),
    context.me.role === "participant" ? null : field("wallet_id", "Wallet", filters.wallet_id, { size: 12 }),
    context.me.role === "participant" ? null : field("acquirer_id", "Acquirer", filters.acquirer_id, { size: 12 }),
    field("region", "Region", filters.region, { placeholder: "JP-13", size: 6 }),
    field("day", "Day (JST)", filters.day, { type: "date" }),
    h("button", { type: "submit" }, "Search"),
    h("a", { href: "#/payments" }, "clear"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const next = {};
    for (const name of FILTERS) {
      // Filters without a field here (merchant_id) carry over from the URL.
      next[name] = data.has(name) ? String(data.get(name) || "").trim() : filters[name];
    }
    context.navigate(`#/payments${query(next)}`);
  });

  const rows = result.payments;
  const first = page * PAGE + 1;
  const last = page * PAGE + rows.length;
  const pager = h(
    "div",
    { class: "actions" },
    h("span", { id: "payment-total" }, rows.length ? `${int(first)}–${int(last)} of ${int(result.total)} payments` : `${int(result.total)} payments`),
    page > 0 ? h("a", { href: `#/payments${query({ ...filters, page: page - 1 })}` }, "← newer") : null,
    last < result.total ? h("a", { href: `#/payments${query({ ...filters, page: page + 1 })}` }, "older →") : null,
  );
  fill(root,
    h("h1", {}, "Payments"),
    panel(
      null,
      form,
      pager,
      rows.length
        ? table(
            [
              { label: "Payment", value: (r) => h("a", { href: `#/payment/${encodeURIComponent(r.payment.payment_id)}` }, r.payment.payment_id) },
              { label: "Created", value: (r) => timeNs(r.payment.created_ns) },
              { label: "State", value: (r) => badge(r.payment.state) },
              { label: "Wallet / customer", value: (r) => `${r.payment.wallet_id} / ${r.payment.customer_id}` },
              { label: "Merchant", value: (r) => `${r.merchant_name || r.payment.merchant_id} (${r.region || "?"})` },
              { label: "Paid", value: (r) => moneyOut(r.payment.debit_total), num: true },
              { label: "Received", value: (r) => moneyOut(r.payment.target), num: true },
            ],
            rows,
            { onRow: (r) => context.navigate(`#/payment/${encodeURIComponent(r.payment.payment_id)}`), rowId: (r) => r.payment.payment_id },
          )
        : empty("No payment matches."),
    ),
  );
}
