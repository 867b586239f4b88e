// A payment: its legs and amounts (GET /v1/payments/ID), merchant and compliance context
// (GET /v1/dashboard/payments/ID), and its receipts (GET /v1/payments/ID/receipts), each
// verified twice: here in the browser with WebCrypto (js/verify.js) and by the server's
// `verify_receipt` (POST /v1/dashboard/receipts/verify).

import { ApiProblem, api, post } from "../api.js";
import { badge, download, empty, facts, fill, h, moneyOut, panel, short, table, timeNs } from "../dom.js";
import { verifyReceipt } from "../verify.js";

function resultBadge(result) {
  if (!result) return badge("…", "pending");
  return result.ok ? badge("verified", "good") : badge(`failed: ${result.code}`, "bad");
}

async function verifyAll(receipts, audit) {
  const keys = {
    logVkey: audit.vkey,
    origin: audit.origin,
    witnesses: audit.witnesses.map((w) => w.vkey),
    quorum: audit.quorum,
  };
  return Promise.all(
    receipts.map(async (item) => {
      const [browser, server] = await Promise.all([
        verifyReceipt(item.receipt, keys, item.transfer_id),
        post("/v1/dashboard/receipts/verify", { receipt: item.receipt, transfer_id: item.transfer_id }).catch((error) => ({
          ok: false,
          code: error.code || "error",
          message: error.message,
        })),
      ]);
      return { item, browser, server };
    }),
  );
}

function verdict(results) {
  const failed = results.find((r) => !r.browser.ok || !r.server.ok);
  if (failed) {
    const which = !failed.browser.ok ? failed.browser : failed.server;
    return h(
      "div",
      { class: "verdict bad", id: "receipt-verdict", dataset: { ok: "false" } },
      `Receipt verification failed (${failed.item.leg} ${failed.item.action}): ${which.code} — ${which.message}`,
    );
  }
  const first = results[0].browser;
  const witnessed = results.every((r) => r.browser.witnessed);
  return h(
    "div",
    { class: "verdict good", id: "receipt-verdict", dataset: { ok: "true" } },
    h(
      "div",
      {},
      `Receipts verified: ${results.length} transfer${results.length > 1 ? "s" : ""} of this payment are in the signed log`,
      h(
        "ul",
        { class: "checks" },
        first.checks.map((c) => h("li", {}, c.check)),
        h("li", {}, `witnesses: ${first.cosigners.join(", ") || "none"} (${witnessed ? "quorum reached" : "quorum not reached"})`),
        h("li", {}, "checked in this browser (WebCrypto) and by the server's verify_receipt"),
      ),
    ),
  );
}

async function receiptsPanel(paymentId) {
  let receipts;
  try {
    receipts = await api(`/v1/payments/${encodeURIComponent(paymentId)}/receipts`);
  } catch (error) {
    if (error instanceof ApiProblem && (error.code === "not_checkpointed" || error.status === 409)) {
      return panel("Receipts", h("div", { class: "verdict pending", id: "receipt-verdict" }, `No receipt yet: ${error.message}`));
    }
    throw error;
  }
  if (!receipts.receipts.length) return panel("Receipts", empty("This payment has no ledger transfers."));
  const audit = await api("/v1/dashboard/audit");
  const results = await verifyAll(receipts.receipts, audit);
  const save = h("button", { type: "button", class: "secondary" }, "Download receipts (JSON)");
  save.addEventListener("click", () =>
    download(new Blob([JSON.stringify(receipts, null, 2)], { type: "application/json" }), `receipts-${paymentId}.json`),
  );
  return panel(
    "Receipts",
    verdict(results),
    table(
      [
        { label: "Leg", value: (r) => r.item.leg },
        { label: "Action", value: (r) => r.item.action },
        { label: "Transfer", value: (r) => h("span", { class: "mono", title: r.item.transfer_id }, short(r.item.transfer_id, 16)) },
        { label: "Leaf", value: (r) => String(r.item.receipt.leaf_index), num: true },
        { label: "Tree size", value: (r) => String(r.item.receipt.tree_size), num: true },
        { label: "In browser", value: (r) => resultBadge(r.browser) },
        { label: "Server", value: (r) => resultBadge(r.server) },
      ],
      results,
      { rowId: (r) => `${r.item.leg}-${r.item.action}` },
    ),
    h("p", { class: "note" }, `Log key used: ${audit.vkey} — compare it with the key the operator published.`),
    h("div", { class: "actions" }, save),
  );
}

function compliancePanel(context, info) {
  if (info.alerts === null) return null;
  const hold = info.hold
    ? h(
        "p",
        {},
        "Held for review: ",
        badge(info.hold.state),
        " in ",
        h("a", { href: `#/case/${info.hold.case_id}` }, `case ${info.hold.case_id}`),
        info.hold.resolved_by ? ` (by ${info.hold.resolved_by}, ${timeNs(info.hold.resolved_ns)})` : "",
      )
    : null;
  return panel(
    "Compliance",
    hold,
    info.alerts.length
      ? table(
          [
            { label: "Rule", value: (a) => a.rule },
            { label: "Score", value: (a) => a.score.toFixed(2), num: true },
            { label: "Verdict", value: (a) => a.verdict },
            { label: "Subject", value: (a) => a.subject },
            { label: "Case", value: (a) => (a.case_id ? h("a", { href: `#/case/${a.case_id}` }, `case ${a.case_id}`) : "–") },
          ],
          info.alerts,
        )
      : empty("No alert on this payment."),
  );
}

export async function render(root, context) {
  const id = context.args[0];
  const [payment, info] = await Promise.all([
    api(`/v1/payments/${encodeURIComponent(id)}`),
    api(`/v1/dashboard/payments/${encodeURIComponent(id)}`),
  ]);
  const merchant = info.merchant;
  fill(root,
    h("h1", {}, `Payment ${payment.payment_id} `, badge(payment.state)),
    h(
      "div",
      { class: "grid" },
      panel(
        "Payment",
        facts([
          ["State", badge(payment.state)],
          ["Flow", payment.flow],
          ["Created", timeNs(payment.created_ns)],
          ["Updated", timeNs(payment.updated_ns)],
          ["Wallet", `${payment.wallet_id} (customer ${payment.customer_id})`],
          ["Payer paid", `${moneyOut(payment.debit_total)} = ${moneyOut(payment.source)} + fee ${moneyOut(payment.fee)}`],
          ["Merchant received", moneyOut(payment.target)],
          ["Rate", payment.rate],
          ["FX provider", payment.provider_id],
          ["Acquirer", payment.acquirer_id],
          ["Quote", payment.quote_id],
          payment.error ? ["Error", `${payment.error.code}: ${payment.error.message}`] : null,
        ]),
      ),
      panel(
        "Merchant",
        merchant
          ? facts([
              ["Merchant", `${merchant.name}${merchant.name_native ? ` (${merchant.name_native})` : ""}`],
              ["Id", merchant.merchant_id],
              ["Category", `${merchant.category} (MCC ${merchant.mcc})`],
              ["City", merchant.city],
              ["Region", h("a", { href: `#/payments?region=${encodeURIComponent(merchant.region)}` }, `${merchant.region_name} (${merchant.region})`)],
              ["Acquirer", merchant.acquirer_id],
            ])
          : empty(`Merchant ${payment.merchant_id} is not in the directory.`),
      ),
      compliancePanel(context, info),
    ),
    h("div", { class: "grid wide" }, await receiptsPanel(payment.payment_id)),
  );
}
