// A case, worked: assign, note, move, close with a disposition, release or refuse the
// payments it holds. Every action is a POST to /v1/compliance/cases/ID/... (with an
// Idempotency-Key); the case's own trail shows who did what.

import { ApiProblem, api, post } from "../api.js";
import { badge, empty, facts, fill, h, panel, table, timeNs } from "../dom.js";

const NEXT = {
  open: ["investigating", "escalated"],
  investigating: ["escalated"],
  escalated: ["investigating"],
  closed: [],
};
const DISPOSITIONS = ["false_positive", "no_action", "suspicious_reported", "duplicate"];

function act(context, label, run) {
  return async (event) => {
    event.preventDefault();
    const button = event.submitter || event.currentTarget;
    if (button) button.disabled = true;
    try {
      await run(event);
      await context.refresh();
      context.flash(label);
    } catch (error) {
      if (button) button.disabled = false;
      if (!(error instanceof ApiProblem)) throw error;
      context.flash(`${error.code}: ${error.message}`, true);
    }
  };
}

function actionsPanel(context, detail) {
  const c = detail.case;
  const base = `/v1/compliance/cases/${c.case_id}`;
  if (c.state === "closed") return panel("Actions", empty("The case is closed; it is read only."));
  const pending = detail.holds.filter((x) => x.state === "pending");

  const assign = h(
    "form",
    { id: "assign-form" },
    h("input", { name: "assignee", placeholder: "officer name", required: true, maxlength: 128, value: c.assignee || "" }),
    h("button", { type: "submit" }, "Assign"),
  );
  assign.addEventListener(
    "submit",
    act(context, "Assigned.", () => post(`${base}/assign`, { assignee: String(new FormData(assign).get("assignee")).trim() })),
  );

  const note = h(
    "form",
    { id: "note-form" },
    h("textarea", { name: "text", rows: 2, cols: 48, required: true, maxlength: 8192, placeholder: "What you checked, whom you called…" }),
    h("button", { type: "submit" }, "Add note"),
  );
  note.addEventListener("submit", act(context, "Note added.", () => post(`${base}/notes`, { text: String(new FormData(note).get("text")).trim() })));

  const move = h(
    "form",
    { id: "transition-form" },
    h("select", { name: "state" }, NEXT[c.state].map((s) => h("option", { value: s }, s))),
    h("button", { type: "submit", class: "secondary" }, "Move"),
  );
  move.addEventListener("submit", act(context, "Case moved.", () => post(`${base}/transition`, { state: String(new FormData(move).get("state")) })));

  const close = h(
    "form",
    { id: "close-form" },
    h("select", { name: "disposition" }, DISPOSITIONS.map((d) => h("option", { value: d }, d.replaceAll("_", " ")))),
    h("button", { type: "submit", class: "danger", disabled: pending.length > 0, title: pending.length ? "Release or refuse the held payments first" : null }, "Close case"),
  );
  close.addEventListener(
    "submit",
    act(context, "Case closed.", () => post(`${base}/transition`, { state: "closed", disposition: String(new FormData(close).get("disposition")) })),
  );

  return panel(
    "Actions",
    h("h3", {}, "Assign"),
    h("div", { class: "actions" }, assign),
    h("h3", {}, "Note"),
    h("div", { class: "actions" }, note),
    h("h3", {}, "Move"),
    h("div", { class: "actions" }, NEXT[c.state].length ? move : null),
    h("h3", {}, "Close"),
    h("div", { class: "actions" }, close),
    pending.length ? h("p", { class: "note" }, `${pending.length} held payment(s) must be released or refused before closing.`) : null,
  );
}

function holdsPanel(context, detail) {
  const canResolve = context.me.actions.includes("resolve_holds") && detail.case.state !== "closed";
  const base = `/v1/compliance/cases/${detail.case.case_id}/holds`;
  const button = (hold, action, kind) => {
    const b = h("button", { type: "button", class: kind, dataset: { action, payment: hold.payment_id } }, action === "release" ? "Release (commit)" : "Refuse (abort)");
    b.addEventListener(
      "click",
      act(context, action === "release" ? `Payment ${hold.payment_id} released.` : `Payment ${hold.payment_id} refused.`, () =>
        post(`${base}/${encodeURIComponent(hold.payment_id)}/${action}`),
      ),
    );
    return b;
  };
  return panel(
    "Held payments",
    detail.holds.length
      ? table(
          [
            { label: "Payment", value: (x) => h("a", { href: `#/payment/${encodeURIComponent(x.payment_id)}` }, x.payment_id) },
            { label: "Hold", value: (x) => badge(x.state) },
            { label: "Resolved by", value: (x) => (x.resolved_by ? `${x.resolved_by}, ${timeNs(x.resolved_ns)}` : "–") },
            {
              label: "",
              value: (x) => (canResolve && x.state === "pending" ? h("span", { class: "actions" }, button(x, "release"), button(x, "refuse", "danger")) : ""),
            },
          ],
          detail.holds,
          { rowId: (x) => x.payment_id },
        )
      : empty("This case holds no payment."),
  );
}

export async function render(root, context) {
  const id = context.args[0];
  const detail = await api(`/v1/compliance/cases/${encodeURIComponent(id)}`);
  const c = detail.case;
  const canWork = context.me.actions.includes("work_cases");
  fill(root,
    h("h1", {}, `Case #${c.case_id} `, badge(c.state), " ", h("a", { href: "#/cases", class: "muted" }, "← queue")),
    h(
      "div",
      { class: "grid" },
      panel(
        "Case",
        facts([
          ["Subject", c.subject],
          ["State", h("span", { id: "case-state" }, badge(c.state))],
          ["Disposition", h("span", { id: "case-disposition" }, c.disposition || "–")],
          ["Assignee", h("span", { id: "case-assignee" }, c.assignee || "–")],
          ["Opened", timeNs(c.opened_ns)],
          ["Updated", timeNs(c.updated_ns)],
          ["Closed", timeNs(c.closed_ns)],
        ]),
      ),
      canWork ? actionsPanel(context, detail) : panel("Actions", empty(`A ${context.me.role} key reads cases; it cannot work them.`)),
      holdsPanel(context, detail),
      panel(
        "Notes",
        detail.notes.length
          ? h("ul", { class: "trail", id: "case-notes" }, detail.notes.map((n) => h("li", {}, h("strong", {}, n.author), ` (${timeNs(n.at_ns)}): `, n.text)))
          : empty("No note yet."),
      ),
    ),
    h(
      "div",
      { class: "grid wide" },
      panel(
        "Alerts",
        table(
          [
            { label: "When", value: (a) => timeNs(a.at_ns) },
            { label: "Rule", value: (a) => a.rule },
            { label: "Score", value: (a) => a.score.toFixed(2), num: true },
            { label: "Verdict", value: (a) => a.verdict },
            { label: "Payment", value: (a) => h("a", { href: `#/payment/${encodeURIComponent(a.payment_id)}` }, a.payment_id) },
            { label: "Evidence", value: (a) => Object.entries(a.evidence).map(([k, v]) => `${k}=${v}`).join(", ") },
          ],
          detail.alerts,
        ),
      ),
      panel(
        "Trail",
        h(
          "ul",
          { class: "trail", id: "case-trail" },
          detail.events.map((e) =>
            h("li", {}, `${timeNs(e.at_ns)} · ${e.actor} · `, h("strong", {}, e.action), Object.keys(e.detail).length ? ` (${Object.entries(e.detail).map(([k, v]) => `${k}=${v}`).join(", ")})` : ""),
          ),
        ),
      ),
    ),
  );
}
