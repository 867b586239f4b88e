// Settlement windows (GET /v1/settlement/windows): their states and net positions, a CSV
// of any window, and for operators: close the open window, settle closed ones in order.

import { ApiProblem, api, blob, post } from "../api.js";
import { badge, download, empty, facts, fill, h, int, money, panel, table, timeNs } from "../dom.js";

function act(context, label, run) {
  return async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      const result = await run();
      await context.refresh();
      context.flash(typeof label === "function" ? label(result) : label);
    } catch (error) {
      button.disabled = false;
      if (!(error instanceof ApiProblem)) throw error;
      context.flash(`${error.code}: ${error.message}`, true);
    }
  };
}

function positionsPanel(context, window) {
  const csv = h("button", { type: "button", class: "secondary", id: "csv-download" }, "Download CSV");
  const path = window.state === "open" ? "/v1/settlement/windows/open" : `/v1/settlement/windows/${window.window_id}`;
  csv.addEventListener("click", async () => {
    try {
      download(await blob(`${path}?format=csv`, "text/csv"), `settlement-window-${window.window_id}.csv`);
    } catch (error) {
      context.flash(`${error.code}: ${error.message}`, true);
    }
  });
  const nets = Object.entries(window.net_sum_by_currency || {});
  return panel(
    `Window ${window.window_id} `,
    facts([
      ["State", badge(window.state)],
      ["Opened", timeNs(window.opened_ns)],
      ["Closed", timeNs(window.closed_ns)],
      ["Settled", timeNs(window.settled_ns)],
      ["Ledger range", `after ${window.after_timestamp}${window.through_timestamp ? ` through ${window.through_timestamp}` : ""}`],
      ["Settlement transfers", int(window.settlement_transfer_ids.length)],
      nets.length ? ["Net sum per currency", nets.map(([c, n]) => `${c} ${n}`).join(", ") + " (0 when balanced)"] : null,
    ]),
    h("h3", {}, window.state === "open" ? "Positions so far" : "Net positions"),
    window.positions.length
      ? table(
          [
            { label: "Participant", value: (p) => p.participant_id },
            { label: "Currency", value: (p) => p.currency },
            { label: "Debits", value: (p) => money(p.debits, p.currency), num: true },
            { label: "Credits", value: (p) => money(p.credits, p.currency), num: true },
            { label: "Net", value: (p) => h("strong", {}, money(p.net, p.currency)), num: true },
          ],
          window.positions,
          { rowId: (p) => `${p.participant_id}-${p.currency}` },
        )
      : empty(window.state === "open" ? "No position yet in the open window." : "No position in this window."),
    h("div", { class: "actions" }, csv),
  );
}

export async function render(root, context) {
  const list = await api("/v1/settlement/windows?limit=100");
  const windows = [...list.windows].sort((a, b) => b.window_id - a.window_id);
  const canClose = context.me.actions.includes("close_windows");
  const canSettle = context.me.actions.includes("settle_windows");
  const wanted = Number(context.params.get("window") || 0);
  let selected = windows.find((w) => w.window_id === wanted) || windows.find((w) => w.state !== "open") || windows[0];
  if (selected && selected.state === "open") selected = await api("/v1/settlement/windows/open");

  const closedInOrder = windows.filter((w) => w.state === "closed").map((w) => w.window_id);
  const nextToSettle = closedInOrder.length ? Math.min(...closedInOrder) : null;
  const actionCell = (w) => {
    if (w.state === "open" && canClose) {
      const b = h("button", { type: "button", id: "close-window" }, "Close window");
      b.addEventListener("click", act(context, (r) => `Window ${r.window_id} closed; window ${r.window_id + 1} is open.`, () => post("/v1/settlement/windows/close")));
      return b;
    }
    if (w.state === "closed" && canSettle) {
      const b = h("button", { type: "button", class: "secondary", disabled: w.window_id !== nextToSettle, dataset: { settle: String(w.window_id) } }, "Settle");
      b.addEventListener("click", act(context, `Window ${w.window_id} settled.`, () => post(`/v1/settlement/windows/${w.window_id}/settle`)));
      return b;
    }
    return "";
  };
  fill(root,
    h("h1", {}, "Settlement windows"),
    context.me.participant_id ? h("p", { class: "note muted" }, `Positions of ${context.me.participant_id} only.`) : null,
    h(
      "div",
      { class: "grid" },
      panel(
        "Windows",
        windows.length
          ? table(
              [
                { label: "Window", value: (w) => h("a", { href: `#/settlement?window=${w.window_id}` }, `#${w.window_id}`) },
                { label: "State", value: (w) => badge(w.state) },
                { label: "Opened", value: (w) => timeNs(w.opened_ns) },
                { label: "Closed", value: (w) => timeNs(w.closed_ns) },
                { label: "Positions", value: (w) => (w.state === "open" ? "–" : int(w.positions.length)), num: true },
                { label: "", value: actionCell },
              ],
              windows,
              { rowId: (w) => String(w.window_id) },
            )
          : empty("No settlement window."),
      ),
      selected ? positionsPanel(context, selected) : null,
    ),
  );
}
